// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Batch, Revocation} from "./Common.sol";

/// @title Anchor registry: Merkle roots of record batches and their revocation
/// @notice Batches belong to (office, root): no office can pre-empt another's root. Leaves follow
///         OpenZeppelin's StandardMerkleTree: keccak256(bytes.concat(keccak256(abi.encode(values)))); the
///         on-chain checks take the ABI-encoded leaf values and hash them, so no inner node can pass as a leaf.
interface IAnchorRegistry {
    /// @notice A batch of `leafCount` records was anchored under `root` by `office`.
    event BatchAnchored(
        bytes32 indexed root, bytes2 indexed office, address indexed signer, uint32 leafCount, string manifestURI
    );
    /// @notice A whole batch was revoked by its office.
    event BatchRevoked(bytes32 indexed root, bytes2 indexed office, uint8 reason);
    /// @notice One record (leaf) of a batch was revoked by its office.
    event LeafRevoked(bytes32 indexed root, bytes32 indexed leaf, bytes2 indexed office, uint8 reason);
    /// @notice The key that made the revocation just emitted (`leaf` zero for a whole batch). A separate event
    ///         so that `BatchRevoked` and `LeafRevoked` keep the signatures readers of 2.0.0 registries use.
    event RevokedBy(bytes32 indexed root, bytes32 indexed leaf, bytes2 indexed office, address by);

    /// @notice The office anchored this root before.
    error RootAlreadyAnchored(bytes32 root, bytes2 office, uint64 blockNumber);
    /// @notice The office has no batch with this root.
    error UnknownBatch(bytes2 office, bytes32 root);
    /// @notice The caller is not a current signer of an active office.
    error NotAnActiveSigner(address account, bytes2 office);
    /// @notice The caller is not a current signer of any office.
    error NotASigner(address account);
    /// @notice A batch needs at least one leaf and a non-zero root.
    error EmptyBatch(bytes32 root, uint32 leafCount);
    /// @notice Revocation needs a non-zero reason code.
    error InvalidReason(uint8 reason);
    /// @notice The leaf is not part of the batch (the proof does not verify).
    error LeafNotInBatch(bytes32 root, bytes32 leaf);
    /// @notice Already revoked (by a revocation that stands).
    error AlreadyRevoked(bytes32 root, bytes32 leaf, uint8 reason);
    /// @notice The registry is frozen (migrated to `successor`): no new batches.
    error RegistryFrozen(uint256 frozenAt, address successor);

    /// @notice Anchor a batch for the caller's office. The caller must be a signer of an active office.
    /// @param root Merkle root (OpenZeppelin StandardMerkleTree) of the batch.
    /// @param leafCount Number of records in the batch.
    /// @param manifestURI Where the office publishes the batch's leaf values.
    function anchorBatch(bytes32 root, uint32 leafCount, string calldata manifestURI) external;

    /// @notice Revoke a whole batch of the caller's office (also while frozen, not while suspended). It stands
    ///         unless the caller's key is found compromised from this block or earlier.
    function revokeBatch(bytes32 root, uint8 reason) external;

    /// @notice Revoke one record of a batch of the caller's office, given its ABI-encoded leaf values.
    /// @param values `abi.encode` of the leaf's values tuple; the leaf is computed from it.
    function revokeLeaf(bytes32 root, bytes calldata values, bytes32[] calldata proof, uint8 reason) external;

    /// @notice The batch `office` anchored under `root` (all zero if none); `revocationReason` is that of a
    ///         revocation that stands (0 if none, or if its key was compromised at its block).
    function batchOf(bytes2 office, bytes32 root) external view returns (Batch memory);

    /// @notice Revocation reason of a leaf of a batch of `office`, 0 if not revoked or if the revocation
    ///         does not stand (its key was compromised at its block).
    function leafRevocation(bytes2 office, bytes32 root, bytes32 leaf) external view returns (uint8);

    /// @notice The batch's revocation as recorded: reason, key, block, and whether it stands.
    function batchRevocation(bytes2 office, bytes32 root) external view returns (Revocation memory);

    /// @notice A record's revocation as recorded: reason, key, block, and whether it stands.
    function leafRevocationInfo(bytes2 office, bytes32 root, bytes32 leaf) external view returns (Revocation memory);

    /// @notice The StandardMerkleTree leaf of ABI-encoded values: keccak256(bytes.concat(keccak256(values))).
    function leafOf(bytes calldata values) external pure returns (bytes32);

    /// @notice Everything a verifier needs in one call.
    /// @param values `abi.encode` of the record's leaf values.
    /// @return included Whether the values' leaf is in the batch `office` anchored under `root`.
    /// @return batch The batch (all zero if not anchored).
    /// @return leafReason Revocation reason of the leaf (0 if not revoked, or if the revocation does not stand).
    /// @return leaf The leaf computed from `values`.
    /// @return authorised Whether the batch's signer was a signer of the office, not compromised, at its block.
    function verifyRecord(bytes2 office, bytes32 root, bytes calldata values, bytes32[] calldata proof)
        external
        view
        returns (bool included, Batch memory batch, uint8 leafReason, bytes32 leaf, bool authorised);
}
