// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeStatus, Action, SignerTerm} from "./Common.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Office registry of the IP Office Anchor Registry
/// @notice Offices by WIPO ST.3 code, their signer keys with validity history, and governance by a
///         threshold of active offices.
contract OfficeRegistry is IOfficeRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "1.0.0";

    struct Office {
        string name;
        string baseURI;
        OfficeStatus status;
    }

    struct Proposal {
        Action action;
        bytes2 office;
        bool executed;
        uint32 approvals;
        address signer;
        string name;
        string baseURI;
    }

    uint256 private immutable _threshold;
    bytes2[] private _codes;
    mapping(bytes2 code => Office) private _offices;
    mapping(address signer => bytes2 code) private _officeOf;
    mapping(bytes2 code => mapping(address signer => SignerTerm[])) private _terms;
    Proposal[] private _proposals;
    mapping(uint256 id => mapping(bytes2 code => bool)) private _approved;

    /// @param codes ST.3 codes of the genesis offices.
    /// @param names Their names.
    /// @param baseURIs Base URIs of their registers.
    /// @param signers One initial signer per genesis office.
    /// @param threshold_ Number of office approvals a governance action needs.
    constructor(
        bytes2[] memory codes,
        string[] memory names,
        string[] memory baseURIs,
        address[] memory signers,
        uint256 threshold_
    ) {
        uint256 n = codes.length;
        if (names.length != n) revert LengthMismatch(n, names.length);
        if (baseURIs.length != n) revert LengthMismatch(n, baseURIs.length);
        if (signers.length != n) revert LengthMismatch(n, signers.length);
        if (threshold_ == 0 || threshold_ > n) revert InvalidThreshold(threshold_, n);
        _threshold = threshold_;
        for (uint256 i = 0; i < n; ++i) {
            _admit(codes[i], names[i], baseURIs[i], signers[i]);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IOfficeRegistry
    function propose(Action action, bytes2 code, string calldata name, string calldata baseURI, address signer)
        external
        returns (uint256 id)
    {
        bytes2 proposer = _callerOffice();
        if (action == Action.Admit) {
            _checkCode(code);
            if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
            if (signer == address(0)) revert ZeroSigner();
        } else if (_offices[code].status == OfficeStatus.None) {
            revert UnknownOffice(code);
        }
        id = _proposals.length;
        _proposals.push(Proposal(action, code, false, 1, signer, name, baseURI));
        _approved[id][proposer] = true;
        emit ProposalCreated(id, action, code, proposer);
        emit ProposalApproved(id, proposer, 1);
    }

    /// @inheritdoc IOfficeRegistry
    function approve(uint256 id) external {
        bytes2 approver = _callerOffice();
        Proposal storage p = _proposal(id);
        if (p.executed) revert AlreadyExecuted(id);
        if (_approved[id][approver]) revert AlreadyApproved(id, approver);
        _approved[id][approver] = true;
        uint32 approvals = ++p.approvals;
        emit ProposalApproved(id, approver, approvals);
    }

    /// @inheritdoc IOfficeRegistry
    function execute(uint256 id) external {
        Proposal storage p = _proposal(id);
        if (p.executed) revert AlreadyExecuted(id);
        if (p.approvals < _threshold) revert ThresholdNotReached(id, p.approvals, _threshold);
        p.executed = true;
        if (p.action == Action.Admit) {
            if (_offices[p.office].status != OfficeStatus.None) revert OfficeAlreadyRegistered(p.office);
            _admit(p.office, p.name, p.baseURI, p.signer);
        } else {
            OfficeStatus status = p.action == Action.Suspend ? OfficeStatus.Suspended : OfficeStatus.Active;
            _offices[p.office].status = status;
            emit OfficeStatusChanged(p.office, status);
        }
        emit ProposalExecuted(id);
    }

    // ---------------------------------------------------------------- signers

    /// @inheritdoc IOfficeRegistry
    function addSigner(address signer) external {
        _addSigner(_callerOffice(), signer);
    }

    /// @inheritdoc IOfficeRegistry
    function removeSigner(address signer) external {
        _removeSigner(_callerOffice(), signer);
    }

    /// @inheritdoc IOfficeRegistry
    function rotateSigner(address oldSigner, address newSigner) external {
        bytes2 code = _callerOffice();
        _removeSigner(code, oldSigner);
        _addSigner(code, newSigner);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IOfficeRegistry
    function officeOf(address signer) external view returns (bytes2) {
        return _officeOf[signer];
    }

    /// @inheritdoc IOfficeRegistry
    function isActiveSigner(bytes2 code, address signer) external view returns (bool) {
        return code != bytes2(0) && _officeOf[signer] == code && _offices[code].status == OfficeStatus.Active;
    }

    /// @inheritdoc IOfficeRegistry
    function wasSignerAt(bytes2 code, address signer, uint256 blockNumber) external view returns (bool) {
        SignerTerm[] storage terms = _terms[code][signer];
        for (uint256 i = 0; i < terms.length; ++i) {
            SignerTerm storage t = terms[i];
            if (blockNumber >= t.fromBlock && (t.untilBlock == 0 || blockNumber <= t.untilBlock)) return true;
        }
        return false;
    }

    /// @inheritdoc IOfficeRegistry
    function signerTerms(bytes2 code, address signer) external view returns (SignerTerm[] memory) {
        return _terms[code][signer];
    }

    /// @inheritdoc IOfficeRegistry
    function office(bytes2 code) external view returns (string memory name, string memory baseURI, OfficeStatus status) {
        Office storage o = _offices[code];
        return (o.name, o.baseURI, o.status);
    }

    /// @inheritdoc IOfficeRegistry
    function officeCodes() external view returns (bytes2[] memory) {
        return _codes;
    }

    /// @inheritdoc IOfficeRegistry
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice Number of proposals made so far (ids are 0 .. count-1).
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @notice A proposal's action, subject office, approvals and whether it was executed.
    function proposal(uint256 id)
        external
        view
        returns (Action action, bytes2 code, uint256 approvals, bool executed)
    {
        Proposal storage p = _proposal(id);
        return (p.action, p.office, p.approvals, p.executed);
    }

    // ---------------------------------------------------------------- private

    function _callerOffice() private view returns (bytes2 code) {
        code = _officeOf[msg.sender];
        if (code == bytes2(0)) revert UnauthorisedSigner(msg.sender, code);
        OfficeStatus status = _offices[code].status;
        if (status != OfficeStatus.Active) revert OfficeNotActive(code, status);
    }

    function _proposal(uint256 id) private view returns (Proposal storage) {
        if (id >= _proposals.length) revert UnknownProposal(id);
        return _proposals[id];
    }

    function _checkCode(bytes2 code) private pure {
        bytes1 a = code[0];
        bytes1 b = code[1];
        if (a < 0x41 || a > 0x5A || b < 0x41 || b > 0x5A) revert InvalidOfficeCode(code);
    }

    function _admit(bytes2 code, string memory name, string memory baseURI, address signer) private {
        _checkCode(code);
        if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
        _offices[code] = Office(name, baseURI, OfficeStatus.Active);
        _codes.push(code);
        emit OfficeAdmitted(code, name, baseURI);
        _addSigner(code, signer);
    }

    function _addSigner(bytes2 code, address signer) private {
        if (signer == address(0)) revert ZeroSigner();
        bytes2 current = _officeOf[signer];
        if (current != bytes2(0)) revert SignerAlreadyRegistered(signer, current);
        _officeOf[signer] = code;
        uint64 fromBlock = uint64(block.number);
        _terms[code][signer].push(SignerTerm(fromBlock, 0));
        emit SignerAdded(code, signer, fromBlock);
    }

    function _removeSigner(bytes2 code, address signer) private {
        if (_officeOf[signer] != code) revert UnauthorisedSigner(signer, code);
        delete _officeOf[signer];
        SignerTerm[] storage terms = _terms[code][signer];
        uint64 untilBlock = uint64(block.number);
        terms[terms.length - 1].untilBlock = untilBlock;
        emit SignerRemoved(code, signer, untilBlock);
    }
}
