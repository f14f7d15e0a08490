// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Batch} from "./Common.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Anchor registry of the IP Office Anchor Registry
/// @notice Stores Merkle roots of record batches per (office, root), with revocation. Cost per batch is constant.
contract AnchorRegistry is IAnchorRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "2.0.0";

    /// @notice The office registry that decides who may anchor.
    IOfficeRegistry public immutable offices;
    /// @notice The registry this one succeeds (zero for a first deployment).
    address public immutable predecessor;

    mapping(bytes2 office => mapping(bytes32 root => Batch)) private _batches;
    mapping(bytes2 office => mapping(bytes32 root => mapping(bytes32 leaf => uint8 reason))) private _leafRevocations;

    /// @param officeRegistry The office registry.
    /// @param predecessor_ The AnchorRegistry this one replaces (zero if none).
    constructor(address officeRegistry, address predecessor_) {
        offices = IOfficeRegistry(officeRegistry);
        predecessor = predecessor_;
    }

    /// @inheritdoc IAnchorRegistry
    function anchorBatch(bytes32 root, uint32 leafCount, string calldata manifestURI) external {
        (bytes2 code, bool active, uint256 frozenAt) = offices.anchorAuthority(msg.sender);
        if (!active) revert NotAnActiveSigner(msg.sender, code);
        if (frozenAt != 0) revert RegistryFrozen(frozenAt, offices.successor());
        if (root == bytes32(0) || leafCount == 0) revert EmptyBatch(root, leafCount);
        Batch storage existing = _batches[code][root];
        if (existing.blockNumber != 0) revert RootAlreadyAnchored(root, code, existing.blockNumber);
        _batches[code][root] = Batch(code, msg.sender, uint64(block.timestamp), uint64(block.number), leafCount, 0);
        emit BatchAnchored(root, code, msg.sender, leafCount, manifestURI);
    }

    /// @inheritdoc IAnchorRegistry
    function revokeBatch(bytes32 root, uint8 reason) external {
        (bytes2 code, Batch storage batch) = _ownBatch(root, reason);
        if (batch.revocationReason != 0) revert AlreadyRevoked(root, bytes32(0), batch.revocationReason);
        batch.revocationReason = reason;
        emit BatchRevoked(root, code, reason);
    }

    /// @inheritdoc IAnchorRegistry
    function revokeLeaf(bytes32 root, bytes calldata values, bytes32[] calldata proof, uint8 reason) external {
        (bytes2 code,) = _ownBatch(root, reason);
        bytes32 leaf = _leaf(values);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert LeafNotInBatch(root, leaf);
        uint8 current = _leafRevocations[code][root][leaf];
        if (current != 0) revert AlreadyRevoked(root, leaf, current);
        _leafRevocations[code][root][leaf] = reason;
        emit LeafRevoked(root, leaf, code, reason);
    }

    /// @inheritdoc IAnchorRegistry
    function batchOf(bytes2 office, bytes32 root) external view returns (Batch memory) {
        return _batches[office][root];
    }

    /// @inheritdoc IAnchorRegistry
    function leafRevocation(bytes2 office, bytes32 root, bytes32 leaf) external view returns (uint8) {
        return _leafRevocations[office][root][leaf];
    }

    /// @inheritdoc IAnchorRegistry
    function leafOf(bytes calldata values) external pure returns (bytes32) {
        return _leaf(values);
    }

    /// @inheritdoc IAnchorRegistry
    function verifyRecord(bytes2 office, bytes32 root, bytes calldata values, bytes32[] calldata proof)
        external
        view
        returns (bool included, Batch memory batch, uint8 leafReason, bytes32 leaf, bool authorised)
    {
        batch = _batches[office][root];
        leaf = _leaf(values);
        if (batch.blockNumber == 0) return (false, batch, 0, leaf, false);
        included = MerkleProof.verifyCalldata(proof, root, leaf);
        leafReason = _leafRevocations[office][root][leaf];
        authorised = offices.isAuthorisedAt(office, batch.signer, batch.blockNumber);
    }

    function _leaf(bytes calldata values) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(values)));
    }

    /// @dev The caller's office (any status: a suspended office can still revoke) and its batch under `root`.
    function _ownBatch(bytes32 root, uint8 reason) private view returns (bytes2 code, Batch storage batch) {
        code = offices.officeOf(msg.sender);
        if (code == bytes2(0)) revert NotASigner(msg.sender);
        batch = _batches[code][root];
        if (batch.blockNumber == 0) revert UnknownBatch(code, root);
        if (reason == 0) revert InvalidReason(reason);
    }
}
