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

/// @notice Governance actions; each needs the approvals of the active offices that `requiredApprovals` names.
/// @dev Payloads (`abi.encode`): Admit (string name, string baseURI, address signer); Suspend, Reinstate ();
/// ReplaceSigners (address nominee); MarkCompromised (address signer, uint64 fromBlock);
/// SetRule (GovernanceRule rule); Freeze (address successor); Cancel (uint256 proposalId).
/// ReplaceSigners and MarkCompromised of an active office need that office's own approval (else suspend it first);
/// without it they are refused in a frozen registry, and a mark must start after the office's `deactivatedAt`.
enum Action {
    Admit,
    Suspend,
    Reinstate,
    ReplaceSigners,
    MarkCompromised,
    SetRule,
    Freeze,
    Cancel
}

/// @notice How many approvals a proposal needs and how long it lives.
/// @dev For n active offices: need = max(2, minApprovals, floor(n * numerator / denominator) + 1), then
/// required(n) = 2 if n <= 2 (no office ever acts alone; with fewer than 2 active offices nothing executes)
/// and min(need, n - 1) if n >= 3 (never all of them: no single office can veto).
/// Safe rules only: 1/2 <= numerator/denominator < 1, minApprovals >= 2, 1 <= ttlBlocks <= MAX_TTL_BLOCKS.
struct GovernanceRule {
    uint16 numerator;
    uint16 denominator;
    uint16 minApprovals;
    uint64 ttlBlocks;
}

/// @notice An anchored batch of records (a Merkle root), owned by (office, root).
/// @dev Packed into two storage slots so that the cost of a batch is independent of its size.
struct Batch {
    bytes2 office; // ST.3 code of the anchoring office
    address signer; // key that sent the anchoring transaction
    uint64 timestamp; // block timestamp of the anchoring block
    uint64 blockNumber; // anchoring block
    uint32 leafCount; // number of records in the batch
    uint8 revocationReason; // 0 = not revoked (views: 0 also when the revocation does not stand)
}

/// @notice Who revoked a batch or a record, when, and whether the revocation stands.
/// @dev A revocation stands unless its key is compromised (`compromisedFrom`) at or before its block.
struct Revocation {
    uint8 reason; // 0 = never revoked
    address by; // the key that revoked
    uint64 atBlock; // block of the revocation
    bool stands; // false if `by` was compromised at `atBlock`: the verdict ignores it
}

/// @notice A compromise mark as recorded: from which block, in which block it was made, and by whom.
/// @dev `by` is the marking key, or the zero address for governance (a retroactive mark) and for a
/// cascade (a key nominated by a compromised key, void from its acceptance) made by governance.
struct CompromiseMark {
    uint64 fromBlock; // 0 = no own mark (the key may still be void through its nominator: compromisedFrom)
    uint64 atBlock; // block in which the mark was made
    address by;
}

/// @notice One interval during which an address was an authorised signer of an office.
/// @dev `untilBlock == 0` means still valid. Valid for blocks in [fromBlock, untilBlock]: the contract
/// rejects anything a key sends after its removal, so what it did in the removal block came before it.
struct SignerTerm {
    uint64 fromBlock;
    uint64 untilBlock;
}

/// @notice A governance proposal as the `proposal` view returns it.
struct ProposalInfo {
    Action action;
    bytes2 office; // the office the action is about (0x0000 for SetRule and Freeze)
    bytes2 proposer; // its approval must still count at execution
    bool executed;
    uint64 createdBlock;
    uint64 expiresBlock; // last block in which it can be approved or executed
    bytes32 payloadHash; // keccak256(abi.encode(action, office, payload)); approvals bind to it
    bytes payload;
    bytes2[] approvers; // every office that approved (counted only while active since approving)
}
