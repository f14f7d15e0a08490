// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeStatus, Action, GovernanceRule, ProposalInfo, SignerTerm, CompromiseMark} from "./Common.sol";
import {IOfficeRegistry} from "./IOfficeRegistry.sol";

/// @title Office registry of the IP Office Anchor Registry
/// @notice Offices by WIPO ST.3 code, their signer keys with validity history and compromise marks,
///         and governance by a majority of the offices active at execution.
/// @dev Rules (3.1.0):
///      - History is never rewritten by a key: a key's `markCompromised` takes effect from the current block
///        (an immediate stop). Only governance marks a key from an earlier block (a retroactive mark).
///      - A majority never changes, without the office's own consent, the verdict of a record the office made
///        while it was active (3.1.0). Governance's ReplaceSigners and MarkCompromised count as consented only
///        if the office's own approval counts at execution (it is active and approved without interruption).
///        Without it: refused while the office is active (`OfficeConsentMissing`) and in a frozen registry
///        (`FrozenRegistryConsentMissing`); otherwise a mark must start after `deactivatedAt`, the block in
///        which the office last stopped being active (`MarkBeforeDeactivation`). Proof: an inactive office
///        neither anchors nor revokes (AnchorRegistry asks `anchorAuthority`), so all its statements since it
///        last became active lie at or before `deactivatedAt`, which a mark from a later block does not reach
///        (a key it voids by cascade was accepted after the mark, so later still); in the deactivation block
///        itself the office may have acted before it was suspended, hence strictly after. ReplaceSigners only
///        ends terms at the current block. Recovery of an office that lost its keys (suspend, replace signers,
///        reinstate, then the new key consents) stays possible and is visible: `ActedWithoutConsent`.
///        Every mark records its author and block. A key's mark stands even if its author is later found
///        compromised: it only stops a key from then on, and the office re-keys with a fresh key.
///      - A key nominated by a key at or after that key's compromise block is void from its own acceptance
///        (`compromisedFrom`, transitively along the nomination chain, computed in the views so that history
///        is covered without a loop over it). A mark removes at once every current signer it voids and every
///        pending nomination whose nominator stops being a signer. Nominations lapse with their nominator.
///      - At most MAX_SIGNERS signers plus pending nominations per office, so every loop over an office's
///        keys (ReplaceSigners, the cascade of a mark) is bounded: recovery gas does not grow with history.
///        A nomination chain has at most MAX_CHAIN key-made links (governance nominations restart it).
///        Keys are never reused within an office, so a key's origin (nominator, block) is fixed.
///      - required(n) = 2 for n <= 2, else min(n - 1, max(2, minApprovals, floor(n * num / den) + 1)), for n
///        active offices: no office acts alone, and no single office can veto. Only approvals of offices
///        active at execution, and active without interruption since they approved, count; the proposer's
///        must still count. No action may leave fewer than MIN_ACTIVE active offices.
///      - Proposals are keyed by hash(action, office, payload): another payload never blocks a proposal.
///        The proposer withdraws its proposal with `cancel`, governance with Action.Cancel.
///      - Freeze is final (a frozen registry is never unfrozen: bundles and the successor rely on it) and
///        names a successor that is a deployed contract.
contract OfficeRegistry is IOfficeRegistry {
    /// @notice Version of this contract.
    string public constant VERSION = "3.1.0";
    /// @notice Governance must keep at least this many active offices (an action below it is refused).
    uint256 public constant MIN_ACTIVE = 2;
    /// @notice Longest proposal lifetime a rule may set (about 138 days of 12-second blocks).
    uint64 public constant MAX_TTL_BLOCKS = 1_000_000;
    /// @notice Most signers plus pending nominations an office may have.
    uint256 public constant MAX_SIGNERS = 8;
    /// @notice Most key-made nominations between a key and governance (or genesis).
    uint8 public constant MAX_CHAIN = 32;

    struct Office {
        string name;
        string baseURI;
        OfficeStatus status;
        uint32 epoch; // incremented whenever the office stops being active: earlier approvals lapse
        uint32 nominationRound; // incremented when governance replaces the office's keys: older nominations lapse
        uint64 deactivatedAt; // block in which the office last stopped being active (0: never)
    }

    struct Nomination {
        bool pending;
        address replaces;
        address nominator; // zero for governance
        uint64 atBlock;
        uint32 round;
    }

    struct Origin {
        address nominator; // zero for governance and genesis
        uint64 nominatedAt;
        uint8 depth; // key-made nominations since governance
    }

    struct Proposal {
        Action action;
        bytes2 office;
        bytes2 proposer;
        bool executed;
        bool cancelled;
        uint64 createdBlock;
        uint64 expiresBlock;
        bytes32 payloadHash;
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
    mapping(bytes2 code => mapping(address signer => CompromiseMark)) private _marks;
    mapping(bytes2 code => mapping(address signer => Origin)) private _origins;
    mapping(bytes2 code => mapping(address signer => Nomination)) private _nominations;
    mapping(bytes2 code => address[] nominees) private _pendingList;
    Proposal[] private _proposals;
    mapping(uint256 id => mapping(bytes2 code => uint32 epochPlusOne)) private _approvals;
    mapping(bytes32 payloadHash => uint256 idPlusOne) private _pending;

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
            bytes2 current = _officeOf[signers[i]];
            if (current != bytes2(0)) revert SignerAlreadyRegistered(signers[i], current);
            _addSigner(codes[i], signers[i]);
            _refresh(codes[i], false);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IOfficeRegistry
    function propose(Action action, bytes2 code, bytes calldata payload) external returns (uint256 id) {
        bytes2 proposer = _votingOffice();
        _check(action, code, payload);
        bytes32 hash = keccak256(abi.encode(action, code, payload));
        uint256 existing = _pending[hash];
        if (existing != 0 && _blocking(existing - 1)) revert DuplicateProposal(existing - 1);
        id = _proposals.length;
        Proposal storage p = _proposals.push();
        p.action = action;
        p.office = code;
        p.proposer = proposer;
        p.createdBlock = uint64(block.number);
        p.expiresBlock = uint64(block.number) + _rule.ttlBlocks;
        p.payloadHash = hash;
        p.payload = payload;
        _pending[hash] = id + 1;
        emit ProposalCreated(id, action, code, proposer, hash, payload, p.expiresBlock);
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
        if (!_counts(id, p.proposer)) revert ProposerNotActive(id, p.proposer);
        uint256 approvals = _counted(id, p);
        uint256 required = _required(_activeCount);
        if (approvals < required) revert ThresholdNotReached(id, approvals, required);
        _checkConsent(id, p);
        p.executed = true;
        delete _pending[p.payloadHash];
        _check(p.action, p.office, p.payload); // the state may have changed since the proposal was made
        _carryOut(p.action, p.office, p.payload);
        emit ProposalExecuted(id, approvals, required);
    }

    /// @inheritdoc IOfficeRegistry
    function cancel(uint256 id) external {
        bytes2 code = _signerOffice();
        Proposal storage p = _live(id);
        if (p.proposer != code) revert NotProposer(id, code);
        _cancel(id, p, code);
    }

    // ---------------------------------------------------------------- signers

    /// @inheritdoc IOfficeRegistry
    function addSigner(address signer) external {
        _nominate(_votingOffice(), signer, address(0), msg.sender);
    }

    /// @inheritdoc IOfficeRegistry
    function rotateSigner(address oldSigner, address newSigner) external {
        bytes2 code = _votingOffice();
        if (_officeOf[oldSigner] != code) revert UnauthorisedSigner(oldSigner, code);
        _nominate(code, newSigner, oldSigner, msg.sender);
    }

    /// @inheritdoc IOfficeRegistry
    function cancelNomination(address signer) external {
        bytes2 code = _signerOffice();
        Nomination storage n = _nominations[code][signer];
        if (!n.pending) revert NotNominated(signer, code);
        if (n.nominator == address(0)) revert GovernanceNomination(signer, code);
        _dropNomination(code, signer);
        emit NominationCancelled(code, signer);
    }

    /// @inheritdoc IOfficeRegistry
    function acceptSigner(bytes2 code) external {
        Nomination memory n = _nominations[code][msg.sender];
        if (!n.pending) revert NotNominated(msg.sender, code);
        // Void if its nominator stopped being a signer (retired, or marked compromised), or if governance
        // replaced the office's keys since: a thief cannot bring in a second key, and nothing lapses late.
        if ((n.nominator != address(0) && _officeOf[n.nominator] != code) || n.round != _offices[code].nominationRound)
        {
            revert NominationVoid(msg.sender, code, n.nominator);
        }
        bytes2 current = _officeOf[msg.sender];
        if (current != bytes2(0)) revert SignerAlreadyRegistered(msg.sender, current);
        _dropNomination(code, msg.sender);
        bool was = _isActive(code);
        uint8 depth = n.nominator == address(0) ? 0 : _origins[code][n.nominator].depth + 1;
        _origins[code][msg.sender] = Origin(n.nominator, n.atBlock, depth);
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
    function markCompromised(address signer) external {
        bytes2 code = _signerOffice();
        uint64 fromBlock = uint64(block.number);
        _checkCompromise(code, signer, fromBlock);
        _compromise(code, signer, fromBlock, msg.sender);
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
        uint64 from = _compromisedFrom(code, signer);
        if (from != 0 && blockNumber >= from) return false;
        return wasSignerAt(code, signer, blockNumber);
    }

    /// @inheritdoc IOfficeRegistry
    function compromisedFrom(bytes2 code, address signer) external view returns (uint64) {
        return _compromisedFrom(code, signer);
    }

    /// @inheritdoc IOfficeRegistry
    function compromiseMark(bytes2 code, address signer) external view returns (CompromiseMark memory) {
        return _marks[code][signer];
    }

    /// @inheritdoc IOfficeRegistry
    function originOf(bytes2 code, address signer)
        external
        view
        returns (address nominator, uint64 nominatedAt, uint8 depth)
    {
        Origin storage o = _origins[code][signer];
        return (o.nominator, o.nominatedAt, o.depth);
    }

    /// @inheritdoc IOfficeRegistry
    function pendingNominees(bytes2 code) external view returns (address[] memory) {
        return _pendingList[code];
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
    function proposalCancelled(uint256 id) external view returns (bool) {
        return _proposal(id).cancelled;
    }

    /// @inheritdoc IOfficeRegistry
    function countedApprovals(uint256 id) external view returns (uint256) {
        return _counted(id, _proposal(id));
    }

    /// @inheritdoc IOfficeRegistry
    function deactivatedAt(bytes2 code) external view returns (uint64) {
        return _offices[code].deactivatedAt;
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

    /// @dev Validate an action against the current state (at proposal and again at execution).
    function _check(Action action, bytes2 code, bytes memory payload) private view {
        if (action == Action.Admit) {
            _checkCode(code);
            if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
            (,, address signer) = abi.decode(payload, (string, string, address));
            if (signer == address(0)) revert ZeroAddress();
        } else if (action == Action.SetRule) {
            _checkRule(abi.decode(payload, (GovernanceRule)));
        } else if (action == Action.Freeze) {
            address next = abi.decode(payload, (address));
            if (next == address(0)) revert ZeroAddress();
            if (next.code.length == 0) revert NoCodeAt(next);
            if (_frozenAt != 0) revert AlreadyFrozen(_frozenAt, _successor);
        } else if (action == Action.Cancel) {
            _live(abi.decode(payload, (uint256)));
        } else {
            OfficeStatus status = _offices[code].status;
            if (status == OfficeStatus.None) revert UnknownOffice(code);
            if (action == Action.Suspend) {
                if (status != OfficeStatus.Active) revert NoStatusChange(code, status);
                _checkDeactivation(code);
            } else if (action == Action.Reinstate) {
                if (status != OfficeStatus.Suspended) revert NoStatusChange(code, status);
            } else if (action == Action.ReplaceSigners) {
                address nominee = abi.decode(payload, (address));
                if (nominee == address(0)) revert ZeroAddress();
                if (_terms[code][nominee].length != 0) revert KeyAlreadyUsed(nominee, code);
                _checkDeactivation(code);
            } else {
                (address signer, uint64 fromBlock) = abi.decode(payload, (address, uint64));
                _checkCompromise(code, signer, fromBlock);
            }
        }
    }

    function _carryOut(Action action, bytes2 code, bytes memory payload) private {
        if (action == Action.Admit) {
            (string memory name, string memory baseURI, address signer) =
                abi.decode(payload, (string, string, address));
            _admit(code, name, baseURI);
            _nominate(code, signer, address(0), address(0));
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
            address[] storage pending = _pendingList[code];
            while (pending.length != 0) _dropNomination(code, pending[pending.length - 1]);
            _refresh(code, was);
            ++_offices[code].nominationRound;
            _nominate(code, nominee, address(0), address(0));
        } else if (action == Action.MarkCompromised) {
            (address signer, uint64 fromBlock) = abi.decode(payload, (address, uint64));
            _compromise(code, signer, fromBlock, address(0));
        } else if (action == Action.SetRule) {
            _setRule(abi.decode(payload, (GovernanceRule)));
        } else if (action == Action.Freeze) {
            address next = abi.decode(payload, (address));
            _frozenAt = block.number;
            _successor = next;
            emit RegistryFrozen(next, block.number);
        } else {
            uint256 target = abi.decode(payload, (uint256));
            _cancel(target, _proposals[target], bytes2(0));
        }
    }

    /// @dev The consent rule (see the contract's notes): what governance may do to an office without its own
    ///      counted approval. Suspend, ReplaceSigners and MarkCompromised carried out without it are announced.
    function _checkConsent(uint256 id, Proposal storage p) private {
        Action action = p.action;
        if (action != Action.Suspend && action != Action.ReplaceSigners && action != Action.MarkCompromised) return;
        bytes2 code = p.office;
        if (_counts(id, code)) return;
        if (action != Action.Suspend) {
            if (_isActive(code)) revert OfficeConsentMissing(id, code);
            if (_frozenAt != 0) revert FrozenRegistryConsentMissing(id, code, _frozenAt);
            if (action == Action.MarkCompromised) {
                (address signer, uint64 fromBlock) = abi.decode(p.payload, (address, uint64));
                uint64 since = _offices[code].deactivatedAt;
                if (fromBlock <= since) revert MarkBeforeDeactivation(id, code, signer, fromBlock, since);
            }
        }
        emit ActedWithoutConsent(id, action, code);
    }

    function _cancel(uint256 id, Proposal storage p, bytes2 by) private {
        p.cancelled = true;
        if (_pending[p.payloadHash] == id + 1) delete _pending[p.payloadHash];
        emit ProposalCancelled(id, by);
    }

    function _approve(uint256 id, Proposal storage p, bytes2 approver) private {
        if (_approvals[id][approver] == 0) p.approvers.push(approver);
        _approvals[id][approver] = _offices[approver].epoch + 1;
        emit ProposalApproved(id, approver);
    }

    /// @dev Whether `code`'s approval of `id` counts now: active, and without interruption since it approved.
    function _counts(uint256 id, bytes2 code) private view returns (bool) {
        return _isActive(code) && _approvals[id][code] == _offices[code].epoch + 1;
    }

    /// @dev Approvals of offices active now and without interruption since they approved.
    function _counted(uint256 id, Proposal storage p) private view returns (uint256 n) {
        bytes2[] storage approvers = p.approvers;
        for (uint256 i = 0; i < approvers.length; ++i) {
            if (_counts(id, approvers[i])) ++n;
        }
    }

    /// @dev A pending proposal blocks an identical one only while it can still execute.
    function _blocking(uint256 id) private view returns (bool) {
        Proposal storage p = _proposals[id];
        return !p.executed && !p.cancelled && block.number <= p.expiresBlock && _counts(id, p.proposer);
    }

    /// @dev 2 for n <= 2 (nothing executes below 2 active offices); else the rule, at least 2, at most n - 1.
    function _required(uint256 n) private view returns (uint256) {
        if (n <= MIN_ACTIVE) return MIN_ACTIVE;
        GovernanceRule storage r = _rule;
        uint256 need = (n * r.numerator) / r.denominator + 1;
        if (need < r.minApprovals) need = r.minApprovals;
        if (need < MIN_ACTIVE) need = MIN_ACTIVE;
        return need > n - 1 ? n - 1 : need;
    }

    function _live(uint256 id) private view returns (Proposal storage p) {
        p = _proposal(id);
        if (p.executed) revert AlreadyExecuted(id);
        if (p.cancelled) revert ProposalIsCancelled(id);
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
            _offices[code].deactivatedAt = uint64(block.number);
        }
    }

    /// @dev Deactivating `code` must leave at least MIN_ACTIVE active offices.
    function _checkDeactivation(bytes2 code) private view {
        if (_isActive(code) && _activeCount - 1 < MIN_ACTIVE) revert GovernanceWouldStall(_activeCount - 1, MIN_ACTIVE);
    }

    function _checkCode(bytes2 code) private pure {
        bytes1 a = code[0];
        bytes1 b = code[1];
        if (a < 0x41 || a > 0x5A || b < 0x41 || b > 0x5A) revert InvalidOfficeCode(code);
    }

    function _checkCompromise(bytes2 code, address signer, uint64 fromBlock) private view {
        if (_terms[code][signer].length == 0) revert NeverASigner(signer, code);
        uint64 existing = _marks[code][signer].fromBlock;
        if (existing != 0 && fromBlock >= existing) revert AlreadyCompromised(signer, existing);
        if (fromBlock == 0 || fromBlock > block.number) revert InvalidCompromiseBlock(signer, fromBlock, existing);
        if (_officeOf[signer] == code && _signers[code].length == 1) _checkDeactivation(code);
    }

    /// @dev Record the mark, then remove every current signer it voids (the key, and keys nominated by it
    ///      from `fromBlock` on, transitively) and every pending nomination whose nominator stops being a
    ///      signer. Bounded: at most MAX_SIGNERS keys, each with a chain of at most MAX_CHAIN links.
    function _compromise(bytes2 code, address signer, uint64 fromBlock, address by) private {
        _marks[code][signer] = CompromiseMark(fromBlock, uint64(block.number), by);
        emit SignerCompromised(code, signer, fromBlock, by);
        bool was = _isActive(code);
        address[] storage list = _signers[code];
        for (uint256 i = list.length; i > 0; --i) {
            address s = list[i - 1];
            uint64 from = _compromisedFrom(code, s);
            if (from == 0) continue;
            if (s != signer) emit NominationVoided(code, s, _origins[code][s].nominator, from);
            _removeSigner(code, s);
        }
        _refresh(code, was);
        if (was && !_isActive(code) && _activeCount < MIN_ACTIVE) revert GovernanceWouldStall(_activeCount, MIN_ACTIVE);
    }

    /// @dev The key's own mark, or its acceptance block if a link of its nomination chain was made by a key
    ///      at or after that key's own mark (everything below such a link came later, so is void too).
    function _compromisedFrom(bytes2 code, address signer) private view returns (uint64 from) {
        from = _marks[code][signer].fromBlock;
        address current = signer;
        for (uint256 i = 0; i <= MAX_CHAIN; ++i) {
            Origin storage o = _origins[code][current];
            address nominator = o.nominator;
            if (nominator == address(0)) break;
            uint64 mark = _marks[code][nominator].fromBlock;
            if (mark != 0 && mark <= o.nominatedAt) {
                uint64 accepted = _terms[code][signer][0].fromBlock;
                if (from == 0 || accepted < from) from = accepted;
                break;
            }
            current = nominator;
        }
    }

    function _admit(bytes2 code, string memory name, string memory baseURI) private {
        _checkCode(code);
        if (_offices[code].status != OfficeStatus.None) revert OfficeAlreadyRegistered(code);
        _offices[code] = Office(name, baseURI, OfficeStatus.Active, 0, 0, 0);
        _codes.push(code);
        emit OfficeAdmitted(code, name, baseURI);
    }

    function _nominate(bytes2 code, address signer, address replaces, address nominator) private {
        if (signer == address(0)) revert ZeroAddress();
        bytes2 current = _officeOf[signer];
        if (current != bytes2(0)) revert SignerAlreadyRegistered(signer, current);
        if (_terms[code][signer].length != 0) revert KeyAlreadyUsed(signer, code);
        if (nominator != address(0) && _origins[code][nominator].depth >= MAX_CHAIN) {
            revert NominationChainTooLong(code, MAX_CHAIN);
        }
        Nomination storage n = _nominations[code][signer];
        if (!n.pending) {
            if (_signers[code].length + _pendingList[code].length >= MAX_SIGNERS) {
                revert TooManySigners(code, MAX_SIGNERS);
            }
            _pendingList[code].push(signer);
        }
        _nominations[code][signer] =
            Nomination(true, replaces, nominator, uint64(block.number), _offices[code].nominationRound);
        emit SignerNominated(code, signer, replaces);
    }

    /// @dev Forget a pending nomination (accepted, withdrawn, lapsed or replaced).
    function _dropNomination(bytes2 code, address signer) private {
        delete _nominations[code][signer];
        address[] storage list = _pendingList[code];
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            if (list[i] == signer) {
                list[i] = list[n - 1];
                list.pop();
                return;
            }
        }
    }

    /// @dev Callers keep `_activeCount` right with `_refresh`.
    function _addSigner(bytes2 code, address signer) private {
        _officeOf[signer] = code;
        _signers[code].push(signer);
        _signerIndex[signer] = _signers[code].length;
        uint64 fromBlock = uint64(block.number);
        _terms[code][signer].push(SignerTerm(fromBlock, 0));
        emit SignerAdded(code, signer, fromBlock);
    }

    /// @dev Remove a current signer; the nominations it made lapse (N10) and leave the cap.
    function _removeSigner(bytes2 code, address signer) private {
        delete _officeOf[signer];
        address[] storage list = _signers[code];
        uint256 index = _signerIndex[signer] - 1;
        address last = list[list.length - 1];
        list[index] = last;
        _signerIndex[last] = index + 1;
        list.pop();
        delete _signerIndex[signer];
        uint64 untilBlock = uint64(block.number);
        _terms[code][signer][_terms[code][signer].length - 1].untilBlock = untilBlock;
        emit SignerRemoved(code, signer, untilBlock);
        address[] storage pending = _pendingList[code];
        for (uint256 i = pending.length; i > 0; --i) {
            address nominee = pending[i - 1];
            if (_nominations[code][nominee].nominator == signer) {
                _dropNomination(code, nominee);
                emit NominationCancelled(code, nominee);
            }
        }
    }
}
