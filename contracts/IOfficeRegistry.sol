// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeStatus, Action, SignerTerm} from "./Common.sol";

/// @title Office registry: IP offices, their signer keys and their governance
/// @notice Offices are admitted and suspended by a threshold of active offices, never by one admin key.
interface IOfficeRegistry {
    /// @notice An office was admitted (at genesis or by governance).
    event OfficeAdmitted(bytes2 indexed office, string name, string baseURI);
    /// @notice An office's status changed (suspended or reinstated).
    event OfficeStatusChanged(bytes2 indexed office, OfficeStatus status);
    /// @notice An address became an authorised signer of an office.
    event SignerAdded(bytes2 indexed office, address indexed signer, uint64 fromBlock);
    /// @notice An address stopped being an authorised signer of an office.
    event SignerRemoved(bytes2 indexed office, address indexed signer, uint64 untilBlock);
    /// @notice A governance proposal was made (and approved by the proposer's office).
    event ProposalCreated(uint256 indexed id, Action action, bytes2 indexed office, bytes2 indexed proposer);
    /// @notice An office approved a proposal.
    event ProposalApproved(uint256 indexed id, bytes2 indexed approver, uint256 approvals);
    /// @notice A proposal reached the threshold and was carried out.
    event ProposalExecuted(uint256 indexed id);

    /// @notice The office is not registered.
    error UnknownOffice(bytes2 office);
    /// @notice The office code is not two capital letters A-Z.
    error InvalidOfficeCode(bytes2 office);
    /// @notice The office is already registered.
    error OfficeAlreadyRegistered(bytes2 office);
    /// @notice The office is not active.
    error OfficeNotActive(bytes2 office, OfficeStatus status);
    /// @notice The account is not a current signer of the office it acts for.
    error UnauthorisedSigner(address account, bytes2 office);
    /// @notice The account is already a signer (of this or another office).
    error SignerAlreadyRegistered(address account, bytes2 office);
    /// @notice The threshold is outside [1, number of genesis offices].
    error InvalidThreshold(uint256 threshold, uint256 offices);
    /// @notice Constructor arrays differ in length.
    error LengthMismatch(uint256 codes, uint256 others);
    /// @notice No proposal with this id.
    error UnknownProposal(uint256 id);
    /// @notice The office already approved this proposal.
    error AlreadyApproved(uint256 id, bytes2 office);
    /// @notice The proposal was already executed.
    error AlreadyExecuted(uint256 id);
    /// @notice The proposal lacks approvals.
    error ThresholdNotReached(uint256 id, uint256 approvals, uint256 threshold);
    /// @notice The zero address cannot be a signer.
    error ZeroSigner();

    /// @notice Propose a governance action; the proposer's office approves it at once.
    /// @param action Admit, Suspend or Reinstate.
    /// @param office The office the action is about.
    /// @param name Name of the office to admit (ignored otherwise).
    /// @param baseURI Base URI of its register (ignored otherwise).
    /// @param signer First signer of the office to admit (ignored otherwise).
    /// @return id The proposal id.
    function propose(Action action, bytes2 office, string calldata name, string calldata baseURI, address signer)
        external
        returns (uint256 id);

    /// @notice Approve a proposal on behalf of the caller's office.
    function approve(uint256 id) external;

    /// @notice Carry out a proposal that reached the threshold. Anyone may call it.
    function execute(uint256 id) external;

    /// @notice Add a signer to the caller's office.
    function addSigner(address signer) external;

    /// @notice Remove a signer from the caller's office (may be the caller itself).
    function removeSigner(address signer) external;

    /// @notice Replace `oldSigner` by `newSigner` in the caller's office in one transaction.
    function rotateSigner(address oldSigner, address newSigner) external;

    /// @notice The office an address currently signs for, or 0x0000 if none.
    function officeOf(address signer) external view returns (bytes2);

    /// @notice Whether `signer` is an authorised signer of an active `office` now.
    function isActiveSigner(bytes2 office, address signer) external view returns (bool);

    /// @notice Whether `signer` was an authorised signer of `office` at block `blockNumber`.
    function wasSignerAt(bytes2 office, address signer, uint256 blockNumber) external view returns (bool);

    /// @notice All validity terms of `signer` for `office`.
    function signerTerms(bytes2 office, address signer) external view returns (SignerTerm[] memory);

    /// @notice Name, base URI and status of an office.
    function office(bytes2 code) external view returns (string memory name, string memory baseURI, OfficeStatus status);

    /// @notice All registered office codes, in order of admission.
    function officeCodes() external view returns (bytes2[] memory);

    /// @notice Number of approvals a proposal needs.
    function threshold() external view returns (uint256);
}
