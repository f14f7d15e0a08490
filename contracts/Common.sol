// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Shared types of the IP Office Anchor Registry
/// @notice An office is identified by its WIPO ST.3 code (two capital letters) as `bytes2`.

/// @notice Lifecycle of an office in the registry.
enum OfficeStatus {
    None,
    Active,
    Suspended
}

/// @notice Governance actions that need a threshold of office approvals.
enum Action {
    Admit,
    Suspend,
    Reinstate
}

/// @notice An anchored batch of records (a Merkle root).
/// @dev Packed into two storage slots so that the cost of a batch is independent of its size.
struct Batch {
    bytes2 office; // ST.3 code of the anchoring office
    address signer; // key that sent the anchoring transaction
    uint64 timestamp; // block timestamp of the anchoring block
    uint64 blockNumber; // anchoring block
    uint32 leafCount; // number of records in the batch
    uint8 revocationReason; // 0 = not revoked
}

/// @notice One interval during which an address was an authorised signer of an office.
/// @dev `untilBlock == 0` means still valid. Valid for blocks in [fromBlock, untilBlock]: the contract
/// rejects anything a key sends after its removal, so what it did in the removal block came before it.
struct SignerTerm {
    uint64 fromBlock;
    uint64 untilBlock;
}
