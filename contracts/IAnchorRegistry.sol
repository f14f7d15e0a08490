// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Batch} from "./Common.sol";

/// @title Anchor registry: Merkle roots of record batches and their revocation
/// @notice Leaves follow OpenZeppelin's StandardMerkleTree: keccak256(keccak256(abi.encode(values))).
interface IAnchorRegistry {
    /// @notice A batch of `leafCount` records was anchored under `root` by `office`.
    event BatchAnchored(
        bytes32 indexed root, bytes2 indexed office, address indexed signer, uint32 leafCount, string manifestURI
    );
    /// @notice A whole batch was revoked by its office.
    event BatchRevoked(bytes32 indexed root, bytes2 indexed office, uint8 reason);
    /// @notice One record (leaf) of a batch was revoked by its office.
    event LeafRevoked(bytes32 indexed root, bytes32 indexed leaf, bytes2 indexed office, uint8 reason);

    /// @notice The root was anchored before.
    error RootAlreadyAnchored(bytes32 root, bytes2 office, uint64 blockNumber);
    /// @notice No batch has this root.
    error UnknownBatch(bytes32 root);
    /// @notice The caller is not a current signer of an active office.
    error NotAnActiveSigner(address account, bytes2 office);
    /// @notice A batch needs at least one leaf and a non-zero root.
    error EmptyBatch(bytes32 root, uint32 leafCount);
    /// @notice Only the batch's own office may revoke it or its records.
    error NotBatchOffice(bytes2 caller, bytes2 batchOffice);
    /// @notice Revocation needs a non-zero reason code.
    error InvalidReason(uint8 reason);
    /// @notice The leaf is not part of the batch (the proof does not verify).
    error LeafNotInBatch(bytes32 root, bytes32 leaf);
    /// @notice Already revoked.
    error AlreadyRevoked(bytes32 root, bytes32 leaf, uint8 reason);

    /// @notice Anchor a batch. The caller must be an authorised signer of an active office.
    /// @param root Merkle root (OpenZeppelin StandardMerkleTree) of the batch.
    /// @param leafCount Number of records in the batch.
    /// @param manifestURI Where the office publishes the batch's leaf values.
    function anchorBatch(bytes32 root, uint32 leafCount, string calldata manifestURI) external;

    /// @notice Revoke a whole batch. Only a signer of the batch's office may call it.
    function revokeBatch(bytes32 root, uint8 reason) external;

    /// @notice Revoke one record of a batch, proven by `proof`. Only the batch's office.
    function revokeLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof, uint8 reason) external;

    /// @notice The batch anchored under `root` (all zero if none).
    function batchOf(bytes32 root) external view returns (Batch memory);

    /// @notice Revocation reason of a leaf of a batch, 0 if not revoked.
    function leafRevocation(bytes32 root, bytes32 leaf) external view returns (uint8);

    /// @notice Whether `leaf` belongs to the batch anchored under `root`.
    function verifyProof(bytes32 root, bytes32[] calldata proof, bytes32 leaf) external view returns (bool);

    /// @notice Proof check plus the batch and revocation state in one call.
    /// @return included Whether the proof verifies against an anchored root.
    /// @return batch The batch (all zero if not anchored).
    /// @return leafReason Revocation reason of the leaf (0 if not revoked).
    function verifyRecord(bytes32 root, bytes32[] calldata proof, bytes32 leaf)
        external
        view
        returns (bool included, Batch memory batch, uint8 leafReason);
}
