// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Batch, Revocation} from "./Common.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Anchor registry of the IP Office Anchor Registry
/// @notice Stores Merkle roots of record batches per (office, root), with revocation. Cost per batch is constant.
/// @dev Revocations (3.0.0) record the key that made them and its block, and stand only if that key was not
///      compromised at that block (`IOfficeRegistry.compromisedFrom`): a thief's revocations stop counting as
///      soon as governance marks its key from before them, and the office can then revoke for itself. The
///      views (`batchOf`, `leafRevocation`, `verifyRecord`) apply the rule, so every reader follows it.
///      Revocations are refused while the office is suspended (they remain possible while frozen).
contract AnchorRegistry is IAnchorRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "3.1.0";

    struct Record {
        uint8 reason;
        address by;
        uint64 atBlock;
    }

    /// @notice The office registry that decides who may anchor.
    IOfficeRegistry public immutable offices;
    /// @notice The registry this one succeeds (zero for a first deployment).
    address public immutable predecessor;

    mapping(bytes2 office => mapping(bytes32 root => Batch)) private _batches;
    mapping(bytes2 office => mapping(bytes32 root => Record)) private _batchRevocations;
    mapping(bytes2 office => mapping(bytes32 root => mapping(bytes32 leaf => Record))) private _leafRevocations;

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
        bytes2 code = _ownBatch(root, reason);
        Record storage r = _batchRevocations[code][root];
        if (r.reason != 0 && _stands(code, r)) revert AlreadyRevoked(root, bytes32(0), r.reason);
        _batchRevocations[code][root] = Record(reason, msg.sender, uint64(block.number));
        emit BatchRevoked(root, code, reason);
        emit RevokedBy(root, bytes32(0), code, msg.sender);
    }

    /// @inheritdoc IAnchorRegistry
    function revokeLeaf(bytes32 root, bytes calldata values, bytes32[] calldata proof, uint8 reason) external {
        bytes2 code = _ownBatch(root, reason);
        bytes32 leaf = _leaf(values);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert LeafNotInBatch(root, leaf);
        Record storage r = _leafRevocations[code][root][leaf];
        if (r.reason != 0 && _stands(code, r)) revert AlreadyRevoked(root, leaf, r.reason);
        _leafRevocations[code][root][leaf] = Record(reason, msg.sender, uint64(block.number));
        emit LeafRevoked(root, leaf, code, reason);
        emit RevokedBy(root, leaf, code, msg.sender);
    }

    /// @inheritdoc IAnchorRegistry
    function batchOf(bytes2 office, bytes32 root) external view returns (Batch memory batch) {
        batch = _batches[office][root];
        batch.revocationReason = _standing(office, _batchRevocations[office][root]);
    }

    /// @inheritdoc IAnchorRegistry
    function leafRevocation(bytes2 office, bytes32 root, bytes32 leaf) external view returns (uint8) {
        return _standing(office, _leafRevocations[office][root][leaf]);
    }

    /// @inheritdoc IAnchorRegistry
    function batchRevocation(bytes2 office, bytes32 root) external view returns (Revocation memory) {
        return _info(office, _batchRevocations[office][root]);
    }

    /// @inheritdoc IAnchorRegistry
    function leafRevocationInfo(bytes2 office, bytes32 root, bytes32 leaf) external view returns (Revocation memory) {
        return _info(office, _leafRevocations[office][root][leaf]);
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
        batch.revocationReason = _standing(office, _batchRevocations[office][root]);
        included = MerkleProof.verifyCalldata(proof, root, leaf);
        leafReason = _standing(office, _leafRevocations[office][root][leaf]);
        authorised = offices.isAuthorisedAt(office, batch.signer, batch.blockNumber);
    }

    function _leaf(bytes calldata values) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(values)));
    }

    /// @dev A revocation stands unless its key is compromised at or before its block.
    function _stands(bytes2 office, Record storage r) private view returns (bool) {
        uint64 from = offices.compromisedFrom(office, r.by);
        return from == 0 || from > r.atBlock;
    }

    function _standing(bytes2 office, Record storage r) private view returns (uint8) {
        return r.reason != 0 && _stands(office, r) ? r.reason : 0;
    }

    function _info(bytes2 office, Record storage r) private view returns (Revocation memory) {
        return Revocation(r.reason, r.by, r.atBlock, r.reason != 0 && _stands(office, r));
    }

    /// @dev The caller's office (which must be active: not while suspended) and its batch under `root`.
    function _ownBatch(bytes32 root, uint8 reason) private view returns (bytes2 code) {
        bool active;
        (code, active,) = offices.anchorAuthority(msg.sender);
        if (code == bytes2(0)) revert NotASigner(msg.sender);
        if (!active) revert NotAnActiveSigner(msg.sender, code);
        if (_batches[code][root].blockNumber == 0) revert UnknownBatch(code, root);
        if (reason == 0) revert InvalidReason(reason);
    }
}
