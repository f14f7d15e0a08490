// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Batch} from "./Common.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Anchor registry of the IP Office Anchor Registry
/// @notice Stores Merkle roots of record batches by office, with revocation. Cost per batch is constant.
contract AnchorRegistry is IAnchorRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "1.0.0";

    /// @notice The office registry that decides who may anchor.
    IOfficeRegistry public immutable offices;

    mapping(bytes32 root => Batch) private _batches;
    mapping(bytes32 root => mapping(bytes32 leaf => uint8 reason)) private _leafRevocations;

    /// @param offices_ The office registry.
    constructor(IOfficeRegistry offices_) {
        offices = offices_;
    }

    /// @inheritdoc IAnchorRegistry
    function anchorBatch(bytes32 root, uint32 leafCount, string calldata manifestURI) external {
        bytes2 code = _activeOffice();
        if (root == bytes32(0) || leafCount == 0) revert EmptyBatch(root, leafCount);
        Batch storage existing = _batches[root];
        if (existing.blockNumber != 0) revert RootAlreadyAnchored(root, existing.office, existing.blockNumber);
        _batches[root] = Batch(code, msg.sender, uint64(block.timestamp), uint64(block.number), leafCount, 0);
        emit BatchAnchored(root, code, msg.sender, leafCount, manifestURI);
    }

    /// @inheritdoc IAnchorRegistry
    function revokeBatch(bytes32 root, uint8 reason) external {
        Batch storage batch = _ownBatch(root, reason);
        if (batch.revocationReason != 0) revert AlreadyRevoked(root, bytes32(0), batch.revocationReason);
        batch.revocationReason = reason;
        emit BatchRevoked(root, batch.office, reason);
    }

    /// @inheritdoc IAnchorRegistry
    function revokeLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof, uint8 reason) external {
        Batch storage batch = _ownBatch(root, reason);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert LeafNotInBatch(root, leaf);
        uint8 current = _leafRevocations[root][leaf];
        if (current != 0) revert AlreadyRevoked(root, leaf, current);
        _leafRevocations[root][leaf] = reason;
        emit LeafRevoked(root, leaf, batch.office, reason);
    }

    /// @inheritdoc IAnchorRegistry
    function batchOf(bytes32 root) external view returns (Batch memory) {
        return _batches[root];
    }

    /// @inheritdoc IAnchorRegistry
    function leafRevocation(bytes32 root, bytes32 leaf) external view returns (uint8) {
        return _leafRevocations[root][leaf];
    }

    /// @inheritdoc IAnchorRegistry
    function verifyProof(bytes32 root, bytes32[] calldata proof, bytes32 leaf) external view returns (bool) {
        return _batches[root].blockNumber != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IAnchorRegistry
    function verifyRecord(bytes32 root, bytes32[] calldata proof, bytes32 leaf)
        external
        view
        returns (bool included, Batch memory batch, uint8 leafReason)
    {
        batch = _batches[root];
        included = batch.blockNumber != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
        leafReason = _leafRevocations[root][leaf];
    }

    function _activeOffice() private view returns (bytes2 code) {
        code = offices.officeOf(msg.sender);
        if (!offices.isActiveSigner(code, msg.sender)) revert NotAnActiveSigner(msg.sender, code);
    }

    function _ownBatch(bytes32 root, uint8 reason) private view returns (Batch storage batch) {
        bytes2 code = _activeOffice();
        batch = _batches[root];
        if (batch.blockNumber == 0) revert UnknownBatch(root);
        if (batch.office != code) revert NotBatchOffice(code, batch.office);
        if (reason == 0) revert InvalidReason(reason);
    }
}
