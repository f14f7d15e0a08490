// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeStatus, Action, GovernanceRule, ProposalInfo, SignerTerm} from "./Common.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Office registry of the IP Office Anchor Registry
/// @notice Offices by WIPO ST.3 code, their signer keys with validity history and compromise marks,
///         and governance by a majority of the offices active at execution.
/// @dev Rule: required(n) = min(n, max(minApprovals, floor(n * numerator / denominator) + 1)), n = active
///      offices (Active with at least one signer). Only approvals of offices active at execution, and active
///      without interruption since they approved, count. No action may leave fewer than MIN_ACTIVE active
///      offices by suspension, nor none at all by removing keys. Every function is O(1) or O(log n) in
///      history; loops run over the current signers of one office or the approvers of one proposal only.
contract OfficeRegistry is IOfficeRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "2.0.0";
    /// @notice Governance must keep at least this many active offices (a suspension below it is refused).
    uint256 public constant MIN_ACTIVE = 2;
    /// @notice Longest proposal lifetime a rule may set (about 138 days of 12-second blocks).
    uint64 public constant MAX_TTL_BLOCKS = 1_000_000;

    struct Office {
        string name;
        string baseURI;
        OfficeStatus status;
        uint32 epoch; // incremented whenever the office stops being active: earlier approvals lapse
    }

    struct Nomination {
        bool pending;
        address replaces;
    }

    struct Proposal {
        Action action;
        bytes2 office;
        bytes2 proposer;
        bool executed;
        uint64 createdBlock;
        uint64 expiresBlock;
        bytes32 payloadHash;
        bytes32 pendingKey;
        bytes payload;
        bytes2[] approvers;
    }

    GovernanceRule private _rule;
    uint256 private _activeCount;
    uint256 private _frozenAt;
    address private _successor;
    bytes2[] private _codes;
    mapping(bytes2 code => Office) private _offices;
    mapping(address signer => bytes2 code) private _officeOf;
    mapping(bytes2 code => address[] signers) private _signers;
    mapping(address signer => uint256 indexPlusOne) private _signerIndex;
    mapping(bytes2 code => mapping(address signer => SignerTerm[])) private _terms;
    mapping(bytes2 code => mapping(address signer => uint64 fromBlock)) private _compromised;
    mapping(bytes2 code => mapping(address signer => Nomination)) private _nominations;
    Proposal[] private _proposals;
    mapping(uint256 id => mapping(bytes2 code => uint32 epochPlusOne)) private _approvals;
    mapping(bytes32 key => uint256 idPlusOne) private _pending;

    /// @param codes ST.3 codes of the genesis offices (at least MIN_ACTIVE).
    /// @param names Their names.
    /// @param baseURIs Base URIs of their registers.
    /// @param signers One initial signer per genesis office (the deployment is their consent).
    /// @param rule_ The governance rule; unsafe rules are refused.
    constructor(
        bytes2[] memory codes,
        string[] memory names,
        string[] memory baseURIs,
        address[] memory signers,
        GovernanceRule memory rule_
    ) {
        uint256 n = codes.length;
        if (names.length != n) revert LengthMismatch(n, names.length);
        if (baseURIs.length != n) revert LengthMismatch(n, baseURIs.length);
        if (signers.length != n) revert LengthMismatch(n, signers.length);
        if (n < MIN_ACTIVE) revert TooFewOffices(n, MIN_ACTIVE);
        _setRule(rule_);
        for (uint256 i = 0; i < n; ++i) {
            _admit(codes[i], names[i], baseURIs[i]);
            if (signers[i] == address(0)) revert ZeroAddress();
            _addSigner(codes[i], signers[i]);
            _refresh(codes[i], false);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IOfficeRegistry
    function propose(Action action, bytes2 code, bytes calldata payload) external returns (uint256 id) {
        bytes2 proposer = _votingOffice();
        bytes32 key = _check(action, code, payload);
        uint256 existing = _pending[key];
        if (existing != 0) {
            Proposal storage old = _proposals[existing - 1];
            if (!old.executed && block.number <= old.expiresBlock) revert DuplicateProposal(existing - 1);
        }
        id = _proposals.length;
        Proposal storage p = _proposals.push();
        p.action = action;
        p.office = code;
        p.proposer = proposer;
        p.createdBlock = uint64(block.number);
        p.expiresBlock = uint64(block.number) + _rule.ttlBlocks;
        p.payloadHash = keccak256(abi.encode(action, code, payload));
        p.pendingKey = key;
        p.payload = payload;
        _pending[key] = id + 1;
        emit ProposalCreated(id, action, code, proposer, p.payloadHash, payload, p.expiresBlock);
        _approve(id, p, proposer);
    }

    /// @inheritdoc IOfficeRegistry
    function approve(uint256 id, bytes32 payloadHash) external {
        bytes2 approver = _votingOffice();
        Proposal storage p = _live(id);
        if (p.payloadHash != payloadHash) revert PayloadMismatch(id, p.payloadHash, payloadHash);
        if (_approvals[id][approver] == _offices[approver].epoch + 1) revert AlreadyApproved(id, approver);
        _approve(id, p, approver);
    }

    /// @inheritdoc IOfficeRegistry
    function execute(uint256 id) external {
        Proposal storage p = _live(id);
        uint256 approvals = _counted(id, p);
        uint256 required = _required(_activeCount);
        if (approvals < required) revert ThresholdNotReached(id, approvals, required);
        p.executed = true;
        delete _pending[p.pendingKey];
        _check(p.action, p.office, p.payload); // the state may have changed since the proposal was made
        _carryOut(p.action, p.office, p.payload);
        emit ProposalExecuted(id, approvals, required);
    }

    // ---------------------------------------------------------------- signers

    /// @inheritdoc IOfficeRegistry
    function addSigner(address signer) external {
        _nominate(_votingOffice(), signer, address(0));
    }

    /// @inheritdoc IOfficeRegistry
    function rotateSigner(address oldSigner, address newSigner) external {
        bytes2 code = _votingOffice();
        if (_officeOf[oldSigner] != code) revert UnauthorisedSigner(oldSigner, code);
        _nominate(code, newSigner, oldSigner);
    }

    /// @inheritdoc IOfficeRegistry
    function cancelNomination(address signer) external {
        bytes2 code = _signerOffice();
        if (!_nominations[code][signer].pending) revert NotNominated(signer, code);
        delete _nominations[code][signer];
        emit NominationCancelled(code, signer);
    }

    /// @inheritdoc IOfficeRegistry
    function acceptSigner(bytes2 code) external {
        Nomination memory n = _nominations[code][msg.sender];
        if (!n.pending) revert NotNominated(msg.sender, code);
        bytes2 current = _officeOf[msg.sender];
        if (current != bytes2(0)) revert SignerAlreadyRegistered(msg.sender, current);
        delete _nominations[code][msg.sender];
        bool was = _isActive(code);
        _addSigner(code, msg.sender);
        if (n.replaces != address(0) && _officeOf[n.replaces] == code) _removeSigner(code, n.replaces);
        _refresh(code, was);
    }

    /// @inheritdoc IOfficeRegistry
    function removeSigner(address signer) external {
        bytes2 code = _signerOffice();
        if (_officeOf[signer] != code) revert UnauthorisedSigner(signer, code);
        if (_signers[code].length == 1) revert LastSigner(code, signer);
        _removeSigner(code, signer);
    }

    /// @inheritdoc IOfficeRegistry
    function markCompromised(address signer, uint64 fromBlock) external {
        bytes2 code = _signerOffice();
        _checkCompromise(code, signer, fromBlock);
        _compromise(code, signer, fromBlock);
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
    function anchorAuthority(address signer) external view returns (bytes2 code, bool active, uint256 frozenAt_) {
        code = _officeOf[signer];
        active = code != bytes2(0) && _offices[code].status == OfficeStatus.Active;
        frozenAt_ = _frozenAt;
    }

    /// @inheritdoc IOfficeRegistry
    function wasSignerAt(bytes2 code, address signer, uint256 blockNumber) public view returns (bool) {
        SignerTerm[] storage terms = _terms[code][signer];
        // Terms are disjoint and in block order: find the last one starting at or before blockNumber.
        uint256 lo = 0;
        uint256 hi = terms.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (terms[mid].fromBlock <= blockNumber) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return false;
        uint64 until = terms[lo - 1].untilBlock;
        return until == 0 || blockNumber <= until;
    }

    /// @inheritdoc IOfficeRegistry
    function isAuthorisedAt(bytes2 code, address signer, uint256 blockNumber) external view returns (bool) {
        uint64 from = _compromised[code][signer];
        if (from != 0 && blockNumber >= from) return false;
        return wasSignerAt(code, signer, blockNumber);
    }

    /// @inheritdoc IOfficeRegistry
    function compromisedFrom(bytes2 code, address signer) external view returns (uint64) {
        return _compromised[code][signer];
    }

    /// @inheritdoc IOfficeRegistry
    function signerTerms(bytes2 code, address signer) external view returns (SignerTerm[] memory) {
        return _terms[code][signer];
    }

    /// @inheritdoc IOfficeRegistry
    function signersOf(bytes2 code) external view returns (address[] memory) {
        return _signers[code];
    }

    /// @inheritdoc IOfficeRegistry
    function nomination(bytes2 code, address signer) external view returns (bool pending, address replaces) {
        Nomination storage n = _nominations[code][signer];
        return (n.pending, n.replaces);
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
    function activeOfficeCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @inheritdoc IOfficeRegistry
    function requiredApprovals() external view returns (uint256) {
        return _required(_activeCount);
    }

    /// @inheritdoc IOfficeRegistry
    function rule() external view returns (GovernanceRule memory) {
        return _rule;
    }

    /// @inheritdoc IOfficeRegistry
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @inheritdoc IOfficeRegistry
    function proposal(uint256 id) external view returns (ProposalInfo memory) {
        Proposal storage p = _proposal(id);
        return ProposalInfo(
            p.action,
            p.office,
            p.proposer,
            p.executed,
            p.createdBlock,
            p.expiresBlock,
            p.payloadHash,
            p.payload,
            p.approvers
        );
    }

    /// @inheritdoc IOfficeRegistry
    function countedApprovals(uint256 id) external view returns (uint256) {
        return _counted(id, _proposal(id));
    }

    /// @inheritdoc IOfficeRegistry
    function frozenAt() external view returns (uint256) {
        return _frozenAt;
    }

    /// @inheritdoc IOfficeRegistry
    function successor() external view returns (address) {
        return _successor;
    }

    // ---------------------------------------------------------------- private: governance

    /// @dev Validate an action against the current state; return the key that makes it unique while pending.
    function _check(Action action, bytes2 code, bytes memory payload) private view returns (bytes32 key) {
        key = keccak256(abi.encode(action, code));
        if (action == Action.Admit) {
            _checkCode(code);
            if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
            (,, address signer) = abi.decode(payload, (string, string, address));
            if (signer == address(0)) revert ZeroAddress();
        } else if (action == Action.SetRule) {
            GovernanceRule memory r = abi.decode(payload, (GovernanceRule));
            _checkRule(r);
            key = keccak256(abi.encode(action, bytes2(0)));
        } else if (action == Action.Freeze) {
            address next = abi.decode(payload, (address));
            if (next == address(0)) revert ZeroAddress();
            if (_frozenAt != 0) revert AlreadyFrozen(_frozenAt, _successor);
            key = keccak256(abi.encode(action, bytes2(0)));
        } else {
            OfficeStatus status = _offices[code].status;
            if (status == OfficeStatus.None) revert UnknownOffice(code);
            if (action == Action.Suspend) {
                if (status != OfficeStatus.Active) revert NoStatusChange(code, status);
                if (_isActive(code) && _activeCount - 1 < MIN_ACTIVE) {
                    revert GovernanceWouldStall(_activeCount - 1, MIN_ACTIVE);
                }
            } else if (action == Action.Reinstate) {
                if (status != OfficeStatus.Suspended) revert NoStatusChange(code, status);
            } else if (action == Action.ReplaceSigners) {
                address nominee = abi.decode(payload, (address));
                if (nominee == address(0)) revert ZeroAddress();
                _checkStaysLive(code);
            } else {
                (address signer, uint64 fromBlock) = abi.decode(payload, (address, uint64));
                _checkCompromise(code, signer, fromBlock);
                key = keccak256(abi.encode(action, code, signer));
            }
        }
    }

    function _carryOut(Action action, bytes2 code, bytes memory payload) private {
        if (action == Action.Admit) {
            (string memory name, string memory baseURI, address signer) =
                abi.decode(payload, (string, string, address));
            _admit(code, name, baseURI);
            _nominate(code, signer, address(0));
        } else if (action == Action.Suspend || action == Action.Reinstate) {
            bool was = _isActive(code);
            OfficeStatus status = action == Action.Suspend ? OfficeStatus.Suspended : OfficeStatus.Active;
            _offices[code].status = status;
            emit OfficeStatusChanged(code, status);
            _refresh(code, was);
        } else if (action == Action.ReplaceSigners) {
            address nominee = abi.decode(payload, (address));
            bool was = _isActive(code);
            address[] storage current = _signers[code];
            while (current.length != 0) _removeSigner(code, current[current.length - 1]);
            _refresh(code, was);
            _nominate(code, nominee, address(0));
        } else if (action == Action.MarkCompromised) {
            (address signer, uint64 fromBlock) = abi.decode(payload, (address, uint64));
            _compromise(code, signer, fromBlock);
        } else if (action == Action.SetRule) {
            _setRule(abi.decode(payload, (GovernanceRule)));
        } else {
            address next = abi.decode(payload, (address));
            _frozenAt = block.number;
            _successor = next;
            emit RegistryFrozen(next, block.number);
        }
    }

    function _approve(uint256 id, Proposal storage p, bytes2 approver) private {
        if (_approvals[id][approver] == 0) p.approvers.push(approver);
        _approvals[id][approver] = _offices[approver].epoch + 1;
        emit ProposalApproved(id, approver);
    }

    /// @dev Approvals of offices active now and without interruption since they approved.
    function _counted(uint256 id, Proposal storage p) private view returns (uint256 n) {
        bytes2[] storage approvers = p.approvers;
        for (uint256 i = 0; i < approvers.length; ++i) {
            bytes2 code = approvers[i];
            if (_isActive(code) && _approvals[id][code] == _offices[code].epoch + 1) ++n;
        }
    }

    function _required(uint256 n) private view returns (uint256) {
        GovernanceRule storage r = _rule;
        uint256 need = (n * r.numerator) / r.denominator + 1;
        if (need < r.minApprovals) need = r.minApprovals;
        return need > n ? n : need;
    }

    function _live(uint256 id) private view returns (Proposal storage p) {
        p = _proposal(id);
        if (p.executed) revert AlreadyExecuted(id);
        if (block.number > p.expiresBlock) revert ProposalExpired(id, p.expiresBlock);
    }

    function _proposal(uint256 id) private view returns (Proposal storage) {
        if (id >= _proposals.length) revert UnknownProposal(id);
        return _proposals[id];
    }

    function _setRule(GovernanceRule memory r) private {
        _checkRule(r);
        _rule = r;
        emit RuleChanged(r.numerator, r.denominator, r.minApprovals, r.ttlBlocks);
    }

    function _checkRule(GovernanceRule memory r) private pure {
        bool safe = r.denominator != 0 && uint256(r.numerator) * 2 >= r.denominator && r.numerator < r.denominator
            && r.minApprovals >= MIN_ACTIVE && r.ttlBlocks != 0 && r.ttlBlocks <= MAX_TTL_BLOCKS;
        if (!safe) revert UnsafeRule(r.numerator, r.denominator, r.minApprovals, r.ttlBlocks);
    }

    // ---------------------------------------------------------------- private: offices and signers

    /// @dev The caller's office, which must be active (status Active; it has a signer: the caller).
    function _votingOffice() private view returns (bytes2 code) {
        code = _signerOffice();
        OfficeStatus status = _offices[code].status;
        if (status != OfficeStatus.Active) revert OfficeNotActive(code, status);
    }

    /// @dev The caller's office, whatever its status (incident response works while suspended).
    function _signerOffice() private view returns (bytes2 code) {
        code = _officeOf[msg.sender];
        if (code == bytes2(0)) revert UnauthorisedSigner(msg.sender, code);
    }

    function _isActive(bytes2 code) private view returns (bool) {
        return _offices[code].status == OfficeStatus.Active && _signers[code].length != 0;
    }

    /// @dev Keep the active count and the epoch right after a change that may (de)activate `code`.
    function _refresh(bytes2 code, bool was) private {
        bool now_ = _isActive(code);
        if (was == now_) return;
        if (now_) {
            ++_activeCount;
        } else {
            --_activeCount;
            ++_offices[code].epoch;
        }
    }

    /// @dev Removing all keys of `code` must leave at least one active office.
    function _checkStaysLive(bytes2 code) private view {
        uint256 after_ = _activeCount - (_isActive(code) ? 1 : 0);
        if (after_ == 0) revert GovernanceWouldStall(after_, 1);
    }

    function _checkCode(bytes2 code) private pure {
        bytes1 a = code[0];
        bytes1 b = code[1];
        if (a < 0x41 || a > 0x5A || b < 0x41 || b > 0x5A) revert InvalidOfficeCode(code);
    }

    function _checkCompromise(bytes2 code, address signer, uint64 fromBlock) private view {
        if (_terms[code][signer].length == 0) revert NeverASigner(signer, code);
        uint64 existing = _compromised[code][signer];
        if (fromBlock == 0 || fromBlock > block.number || (existing != 0 && fromBlock >= existing)) {
            revert InvalidCompromiseBlock(signer, fromBlock, existing);
        }
        if (_officeOf[signer] == code && _signers[code].length == 1) _checkStaysLive(code);
    }

    function _compromise(bytes2 code, address signer, uint64 fromBlock) private {
        _compromised[code][signer] = fromBlock;
        emit SignerCompromised(code, signer, fromBlock);
        if (_officeOf[signer] == code) {
            bool was = _isActive(code);
            _removeSigner(code, signer);
            _refresh(code, was);
        }
    }

    function _admit(bytes2 code, string memory name, string memory baseURI) private {
        _checkCode(code);
        if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
        _offices[code] = Office(name, baseURI, OfficeStatus.Active, 0);
        _codes.push(code);
        emit OfficeAdmitted(code, name, baseURI);
    }

    function _nominate(bytes2 code, address signer, address replaces) private {
        if (signer == address(0)) revert ZeroAddress();
        bytes2 current = _officeOf[signer];
        if (current != bytes2(0)) revert SignerAlreadyRegistered(signer, current);
        _nominations[code][signer] = Nomination(true, replaces);
        emit SignerNominated(code, signer, replaces);
    }

    /// @dev Callers keep `_activeCount` right with `_refresh`.
    function _addSigner(bytes2 code, address signer) private {
        _officeOf[signer] = code;
        _signers[code].push(signer);
        _signerIndex[signer] = _signers[code].length;
        uint64 fromBlock = uint64(block.number);
        SignerTerm[] storage terms = _terms[code][signer];
        uint256 n = terms.length;
        if (n != 0 && terms[n - 1].untilBlock == fromBlock) {
            terms[n - 1].untilBlock = 0; // removed and re-added in the same block: one continuous term
        } else {
            terms.push(SignerTerm(fromBlock, 0));
        }
        emit SignerAdded(code, signer, fromBlock);
    }

    function _removeSigner(bytes2 code, address signer) private {
        delete _officeOf[signer];
        address[] storage list = _signers[code];
        uint256 index = _signerIndex[signer] - 1;
        address last = list[list.length - 1];
        list[index] = last;
        _signerIndex[last] = index + 1;
        list.pop();
        delete _signerIndex[signer];
        SignerTerm[] storage terms = _terms[code][signer];
        uint64 untilBlock = uint64(block.number);
        terms[terms.length - 1].untilBlock = untilBlock;
        emit SignerRemoved(code, signer, untilBlock);
    }
}
