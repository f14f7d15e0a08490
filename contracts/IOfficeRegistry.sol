// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeStatus, Action, GovernanceRule, ProposalInfo, SignerTerm, CompromiseMark} from "./Common.sol";

/// @title Office registry: IP offices, their signer keys and their governance
/// @notice Offices are admitted, suspended, reinstated, re-keyed and the rule itself is changed by a
///         majority of the offices active at execution, never by one admin key.
/// @dev An office counts as active for governance while its status is Active and it has at least one
///      current signer (an office without a key cannot vote, so it must not raise the bar).
interface IOfficeRegistry {
    /// @notice An office was admitted (at genesis or by governance).
    event OfficeAdmitted(bytes2 indexed office, string name, string baseURI);
    /// @notice An office's status changed (suspended or reinstated).
    event OfficeStatusChanged(bytes2 indexed office, OfficeStatus status);
    /// @notice An office (or governance) nominated a key; it becomes a signer once it accepts.
    event SignerNominated(bytes2 indexed office, address indexed signer, address replaces);
    /// @notice A pending nomination was withdrawn.
    event NominationCancelled(bytes2 indexed office, address indexed signer);
    /// @notice An address became an authorised signer of an office.
    event SignerAdded(bytes2 indexed office, address indexed signer, uint64 fromBlock);
    /// @notice An address stopped being an authorised signer of an office.
    event SignerRemoved(bytes2 indexed office, address indexed signer, uint64 untilBlock);
    /// @notice A key was marked compromised for `office` from block `fromBlock` on, by the key `by`
    ///         (zero: governance, or a cascade from its compromised nominator).
    event SignerCompromised(bytes2 indexed office, address indexed signer, uint64 fromBlock, address indexed by);
    /// @notice A key nominated by a compromised key (at or after its compromise) is void from `fromBlock`,
    ///         its acceptance; emitted for current signers and pending nominations the mark removes.
    event NominationVoided(bytes2 indexed office, address indexed signer, address indexed nominator, uint64 fromBlock);
    /// @notice A pending proposal was withdrawn by its proposer's office or cancelled by governance.
    event ProposalCancelled(uint256 indexed id, bytes2 indexed by);
    /// @notice A governance proposal was made (and approved by the proposer's office).
    event ProposalCreated(
        uint256 indexed id,
        Action action,
        bytes2 indexed office,
        bytes2 indexed proposer,
        bytes32 payloadHash,
        bytes payload,
        uint64 expiresBlock
    );
    /// @notice An office approved a proposal.
    event ProposalApproved(uint256 indexed id, bytes2 indexed approver);
    /// @notice A proposal reached the required approvals and was carried out.
    event ProposalExecuted(uint256 indexed id, uint256 approvals, uint256 required);
    /// @notice The governance rule changed.
    event RuleChanged(uint16 numerator, uint16 denominator, uint16 minApprovals, uint64 ttlBlocks);
    /// @notice The registry was frozen in favour of `successor`: no new batches from now on.
    event RegistryFrozen(address indexed successor, uint256 blockNumber);
    /// @notice Proposal `id` (Suspend, ReplaceSigners or MarkCompromised of `office`) is carried out without the
    ///         office's own counted approval (3.1.0): the lost-key recovery path, or a majority acting against
    ///         the office; monitors alert on it.
    event ActedWithoutConsent(uint256 indexed id, Action action, bytes2 indexed office);

    /// @notice The office is not registered.
    error UnknownOffice(bytes2 office);
    /// @notice The office code is not two capital letters A-Z.
    error InvalidOfficeCode(bytes2 office);
    /// @notice The office is already registered.
    error OfficeAlreadyRegistered(bytes2 office);
    /// @notice The office is not active (or has no signer, so it cannot take part in governance).
    error OfficeNotActive(bytes2 office, OfficeStatus status);
    /// @notice The account is not a current signer of the office it acts for.
    error UnauthorisedSigner(address account, bytes2 office);
    /// @notice The account is already a current signer (of this or another office).
    error SignerAlreadyRegistered(address account, bytes2 office);
    /// @notice The account has no pending nomination from this office.
    error NotNominated(address account, bytes2 office);
    /// @notice The nomination is void: its nominator is no longer a signer (retired or marked compromised),
    ///         or governance replaced the office's keys since.
    error NominationVoid(address account, bytes2 office, address nominator);
    /// @notice The key was a signer of this office before: keys are never reused (a key's origin is fixed).
    error KeyAlreadyUsed(address account, bytes2 office);
    /// @notice The office already has `cap` signers and pending nominations together.
    error TooManySigners(bytes2 office, uint256 cap);
    /// @notice The key's nomination chain is `depth` key-made nominations long (the cap): ask governance.
    error NominationChainTooLong(bytes2 office, uint256 depth);
    /// @notice The key is already marked compromised; only governance moves a mark earlier.
    error AlreadyCompromised(address signer, uint64 fromBlock);
    /// @notice Re-keying or marking a key of an active office needs its own approval (or its suspension first).
    error OfficeConsentMissing(uint256 id, bytes2 office);
    /// @notice Once the registry is frozen (block `frozenAt`), re-keying or marking a key of `office` needs the
    ///         office's own approval whatever its status: its records there are final (3.1.0).
    error FrozenRegistryConsentMissing(uint256 id, bytes2 office, uint256 frozenAt);
    /// @notice Without the office's own approval a mark of `signer` must start after `deactivatedAt`, the block
    ///         in which `office` last stopped being active: it never reaches what the office did while active.
    error MarkBeforeDeactivation(uint256 id, bytes2 office, address signer, uint64 fromBlock, uint64 deactivatedAt);
    /// @notice The proposer's office is no longer active (or was interrupted) since it proposed.
    error ProposerNotActive(uint256 id, bytes2 proposer);
    /// @notice The proposal was cancelled.
    error ProposalIsCancelled(uint256 id);
    /// @notice Only the proposing office may withdraw its proposal (others: propose Cancel).
    error NotProposer(uint256 id, bytes2 office);
    /// @notice The successor must be a deployed contract.
    error NoCodeAt(address account);
    /// @notice Governance nominations are withdrawn by governance only (ReplaceSigners again).
    error GovernanceNomination(address account, bytes2 office);
    /// @notice An office can never remove its last key.
    error LastSigner(bytes2 office, address signer);
    /// @notice The key was never a signer of the office.
    error NeverASigner(address signer, bytes2 office);
    /// @notice A compromise block must be in [1, current block] and earlier than an existing mark.
    error InvalidCompromiseBlock(address signer, uint64 fromBlock, uint64 current);
    /// @notice The rule could let a minority or a single office act, or never expire.
    error UnsafeRule(uint16 numerator, uint16 denominator, uint16 minApprovals, uint64 ttlBlocks);
    /// @notice Governance needs at least `minimum` genesis offices.
    error TooFewOffices(uint256 offices, uint256 minimum);
    /// @notice Constructor arrays differ in length.
    error LengthMismatch(uint256 codes, uint256 others);
    /// @notice No proposal with this id.
    error UnknownProposal(uint256 id);
    /// @notice The office already approved this proposal.
    error AlreadyApproved(uint256 id, bytes2 office);
    /// @notice The proposal was already executed.
    error AlreadyExecuted(uint256 id);
    /// @notice The proposal expired at the end of block `expiresBlock`.
    error ProposalExpired(uint256 id, uint64 expiresBlock);
    /// @notice The approval names a payload other than the proposal's.
    error PayloadMismatch(uint256 id, bytes32 payloadHash, bytes32 given);
    /// @notice The proposal lacks approvals of currently active offices.
    error ThresholdNotReached(uint256 id, uint256 approvals, uint256 required);
    /// @notice The same action with the same payload is already pending (and can still execute).
    error DuplicateProposal(uint256 pendingId);
    /// @notice The action would not change the office's status.
    error NoStatusChange(bytes2 office, OfficeStatus status);
    /// @notice The action would leave fewer than `minimum` active offices.
    error GovernanceWouldStall(uint256 activeAfter, uint256 minimum);
    /// @notice The zero address cannot be a signer or a successor.
    error ZeroAddress();
    /// @notice The registry was already frozen.
    error AlreadyFrozen(uint256 frozenAt, address successor);

    // ------------------------------------------------------------ governance

    /// @notice Propose a governance action; the proposer's office approves it at once.
    /// @param action What to do.
    /// @param code The office it is about (0x0000 for SetRule and Freeze).
    /// @param payload `abi.encode` of the action's parameters (see `Action`).
    /// @return id The proposal id.
    function propose(Action action, bytes2 code, bytes calldata payload) external returns (uint256 id);

    /// @notice Approve a proposal on behalf of the caller's office.
    /// @param payloadHash The hash the approver read (`proposal(id).payloadHash`); must match.
    function approve(uint256 id, bytes32 payloadHash) external;

    /// @notice Carry out a proposal that has the approvals of enough currently active offices. Anyone may call it.
    /// @dev Refused if the proposer's office is no longer active since it proposed. ReplaceSigners and
    ///      MarkCompromised without the concerned office's counted approval: refused while it is active and once
    ///      the registry is frozen, and a mark must then start after `deactivatedAt(office)` (3.1.0).
    function execute(uint256 id) external;

    /// @notice Withdraw a pending proposal of the caller's office (any status).
    function cancel(uint256 id) external;

    // ------------------------------------------------------------ signers

    /// @notice Nominate `signer` for the caller's (active) office; it becomes a signer when it accepts.
    function addSigner(address signer) external;

    /// @notice Nominate `newSigner` to replace `oldSigner`: on acceptance the old key is removed.
    function rotateSigner(address oldSigner, address newSigner) external;

    /// @notice Withdraw a pending nomination of the caller's office (not one made by governance).
    function cancelNomination(address signer) external;

    /// @notice Accept a nomination of `office`: the caller becomes its signer from this block on.
    /// @dev Refused if the nominating key is no longer a signer of the office (nominations lapse with it).
    function acceptSigner(bytes2 code) external;

    /// @notice Remove a signer of the caller's office (may be the caller), even while suspended; never the last.
    function removeSigner(address signer) external;

    /// @notice Mark a key of the caller's office (itself included) compromised from this block on: an
    ///         immediate stop, never retroactive. Suspended or not. An earlier block is a governance action.
    /// @dev The key and every key it nominated from now on (none yet) stop; if current it is removed, even
    ///      the office's last one, unless fewer than MIN_ACTIVE active offices would remain.
    function markCompromised(address signer) external;

    // ------------------------------------------------------------ views

    /// @notice The office an address currently signs for, or 0x0000 if none.
    function officeOf(address signer) external view returns (bytes2);

    /// @notice Whether `signer` is a current signer of an active `office`.
    function isActiveSigner(bytes2 code, address signer) external view returns (bool);

    /// @notice For AnchorRegistry in one call: the caller's office, whether it may anchor now, and `frozenAt`.
    function anchorAuthority(address signer) external view returns (bytes2 code, bool active, uint256 frozenAt_);

    /// @notice Whether `signer` held a term for `office` covering `blockNumber` (O(log terms)).
    function wasSignerAt(bytes2 code, address signer, uint256 blockNumber) external view returns (bool);

    /// @notice `wasSignerAt` and the key was not compromised for `office` at `blockNumber` (`compromisedFrom`).
    function isAuthorisedAt(bytes2 code, address signer, uint256 blockNumber) external view returns (bool);

    /// @notice First block from which `signer` is compromised for `office`, 0 if never: its own mark, or its
    ///         acceptance block if it was nominated by a key at or after that key's compromise (transitively).
    function compromisedFrom(bytes2 code, address signer) external view returns (uint64);

    /// @notice The key's own compromise mark as recorded (author and block), without the nomination cascade.
    function compromiseMark(bytes2 code, address signer) external view returns (CompromiseMark memory);

    /// @notice Who nominated `signer` for `office` (zero: governance or genesis), in which block, and how many
    ///         key-made nominations lie between it and governance.
    function originOf(bytes2 code, address signer)
        external
        view
        returns (address nominator, uint64 nominatedAt, uint8 depth);

    /// @notice Keys pending acceptance for `office` (they count towards MAX_SIGNERS).
    function pendingNominees(bytes2 code) external view returns (address[] memory);

    /// @notice All validity terms of `signer` for `office`.
    function signerTerms(bytes2 code, address signer) external view returns (SignerTerm[] memory);

    /// @notice Current signers of `office`.
    function signersOf(bytes2 code) external view returns (address[] memory);

    /// @notice Whether `office` nominated `signer` (pending), and the key it would replace.
    function nomination(bytes2 code, address signer) external view returns (bool pending, address replaces);

    /// @notice Name, base URI and status of an office.
    function office(bytes2 code) external view returns (string memory name, string memory baseURI, OfficeStatus status);

    /// @notice All registered office codes, in order of admission.
    function officeCodes() external view returns (bytes2[] memory);

    /// @notice Number of offices that are Active and have at least one signer.
    function activeOfficeCount() external view returns (uint256);

    /// @notice Approvals a proposal executed now needs: `rule` applied to `activeOfficeCount`.
    function requiredApprovals() external view returns (uint256);

    /// @notice The governance rule in force.
    function rule() external view returns (GovernanceRule memory);

    /// @notice Number of proposals made so far (ids are 0 .. count-1).
    function proposalCount() external view returns (uint256);

    /// @notice A proposal with its payload and approvers.
    function proposal(uint256 id) external view returns (ProposalInfo memory);

    /// @notice Whether `id` was withdrawn by its proposer or cancelled by governance (a separate view, so that
    ///         `proposal` keeps the 2.0.0 signature readers of both versions use).
    function proposalCancelled(uint256 id) external view returns (bool);

    /// @notice Approvals of `id` that would count if it were executed now.
    function countedApprovals(uint256 id) external view returns (uint256);

    /// @notice Block in which `office` last stopped being active (suspended, or lost its last key), 0 if never.
    ///         Governance marks without the office's consent start after it (3.1.0).
    function deactivatedAt(bytes2 code) external view returns (uint64);

    /// @notice Block at which the registry was frozen, 0 if not frozen.
    function frozenAt() external view returns (uint256);

    /// @notice The registry that succeeds this one (set when frozen), else the zero address.
    function successor() external view returns (address);
}
