// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {Action, Batch, GovernanceRule, Revocation} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {TestBase} from "./Vm.sol";

/// @notice Drives governance, signers, anchoring and revocation with many actors (signers and strangers),
///         keeps an independent model (ghost state) of the whole registry, predicts from it whether every
///         call succeeds or is refused, and records the first wrong prediction (a wrongful success or a
///         wrongful refusal) in `failure`. Effects are applied to the model only when the model allows them.
contract Handler is TestBase {
    uint256 public constant KEYS = 16;
    uint256 public constant CAP = 8;
    uint256 public constant CHAIN = 32;

    struct GTerm {
        uint64 fromBlock;
        uint64 untilBlock; // 0 = open
        bool used;
    }

    struct GOrigin {
        address nominator;
        uint64 atBlock;
        uint8 depth;
    }

    struct GNom {
        bool pending;
        address replaces;
        address nominator;
        uint64 atBlock;
        uint32 round;
    }

    struct Rec {
        uint8 reason;
        address by;
        uint64 atBlock;
    }

    struct GhostBatch {
        bytes2 office;
        bytes32 root;
        address signer;
        uint64 timestamp;
        uint64 blockNumber;
        uint256 seed; // the single leaf's values are abi.encode(seed)
        Rec batchRev;
        Rec leafRev;
    }

    struct GProp {
        Action action;
        bytes2 office;
        bytes2 proposer;
        bool executed;
        bool cancelled;
        uint64 expires;
        bytes32 hash;
        address who; // Admit signer, ReplaceSigners nominee, MarkCompromised key, Freeze successor
        uint64 fromBlock;
        GovernanceRule rule;
        uint256 target; // Cancel
    }

    OfficeRegistry public immutable offices;
    AnchorRegistry public immutable anchors;

    bytes2[8] internal _codes = [bytes2("EP"), "US", "JP", "EM", "WO", "KR", "CN", "AU"];
    mapping(bytes2 => uint8) internal _status; // 0 none, 1 active, 2 suspended
    mapping(bytes2 => uint32) internal _epoch;
    mapping(bytes2 => uint32) internal _round;
    mapping(bytes2 => uint64) internal _deactivatedAt; // block in which the office last stopped being active
    mapping(bytes2 => address[]) internal _signers;
    mapping(address => bytes2) internal _officeOf;
    mapping(bytes2 => mapping(address => GTerm)) internal _term;
    mapping(bytes2 => mapping(address => uint64)) internal _mark;
    mapping(bytes2 => mapping(address => GOrigin)) internal _origin;
    mapping(bytes2 => mapping(address => GNom)) internal _nom;
    mapping(bytes2 => address[]) internal _pendingList;
    GProp[] internal _props;
    mapping(uint256 => mapping(bytes2 => uint32)) internal _approval; // epoch + 1
    mapping(bytes32 => uint256) internal _pendingHash; // id + 1
    GovernanceRule internal _rule = GovernanceRule(1, 2, 2, 100);
    uint256 internal _frozen;
    GhostBatch[] internal _batches;

    /// @notice The first wrong prediction ("" while every call behaved as the model says).
    string public failure;
    uint256 public calls;
    uint256 public successes;
    /// @notice Largest gas measured for a ReplaceSigners execution.
    uint256 public maxRecoveryGas;
    /// @notice Governance executions without the office's counted approval that changed a verdict (authorised
    ///         or revocation standing) of one of its batches: must stay 0 (3.1.0 consent rule).
    uint256 public verdictsChangedWithoutConsent;
    /// @notice How many marks and re-keyings governance carried out without the office's consent.
    uint256 public actsWithoutConsent;

    constructor(OfficeRegistry offices_, AnchorRegistry anchors_) {
        offices = offices_;
        anchors = anchors_;
        for (uint256 i = 0; i < Fixture.OFFICES; ++i) {
            address k = Fixture.key(vm, i);
            bytes2 c = _codes[i];
            _status[c] = 1;
            _signers[c].push(k);
            _officeOf[k] = c;
            _term[c][k] = GTerm(uint64(block.number), 0, true);
        }
    }

    // ------------------------------------------------------------ actions: governance

    function propose(uint256 actorSeed, uint256 kindSeed, uint256 targetSeed, uint256 paramSeed) external {
        _propose(_actor(actorSeed), kindSeed % 16, _codes[targetSeed % 8], paramSeed);
    }

    /// @notice A majority against one office (3.1.0 consent rule): it suspends the office if active, then
    ///         marks one of the office's keys from a random block (often before the suspension) or replaces
    ///         its signers, every other active office approving; the model predicts each step.
    function majorityAgainst(uint256 officeSeed, uint256 paramSeed, bool rekey) external {
        bytes2 victim = _codes[officeSeed % Fixture.OFFICES];
        if (_status[victim] == 1 && _signers[victim].length != 0) {
            _anchorBy(_signers[victim][0], paramSeed ^ officeSeed, false); // a record made while active
            vm.roll(block.number + 1 + (paramSeed % 3));
            _byOthers(victim, 2, paramSeed); // Suspend
        }
        for (uint256 j = 0; j < KEYS && !rekey; ++j) {
            if (_term[victim][_key(j)].used) {
                paramSeed = ((paramSeed >> 8) << 8) | j; // _key(paramSeed) is that key
                break;
            }
        }
        _byOthers(victim, rekey ? 6 : 9, paramSeed); // ReplaceSigners or MarkCompromised
    }

    function _byOthers(bytes2 victim, uint256 kind, uint256 paramSeed) internal {
        address lead;
        for (uint256 i = 0; i < 8 && lead == address(0); ++i) {
            if (_codes[i] != victim && _active(_codes[i])) lead = _signers[_codes[i]][0];
        }
        if (lead == address(0)) return;
        uint256 id = _props.length;
        _propose(lead, kind, victim, paramSeed);
        if (_props.length == id) return; // refused (as predicted)
        for (uint256 i = 0; i < 8; ++i) {
            bytes2 c = _codes[i];
            if (c != victim && _active(c) && _approval[id][c] != _epoch[c] + 1) _approveBy(_signers[c][0], id, false);
        }
        execute(id);
    }

    function _propose(address actor, uint256 kind, bytes2 office, uint256 paramSeed) internal {
        GProp memory g;
        g.office = office;
        bytes memory payload;
        if (kind < 2) {
            g.action = Action.Admit;
            g.who = _key(paramSeed);
            payload = abi.encode("new office", "https://new.example/", g.who);
        } else if (kind < 4) {
            g.action = Action.Suspend;
        } else if (kind < 6) {
            g.action = Action.Reinstate;
        } else if (kind < 9) {
            g.action = Action.ReplaceSigners;
            g.who = _key(paramSeed);
            payload = abi.encode(g.who);
        } else if (kind < 12) {
            g.action = Action.MarkCompromised;
            g.who = _key(paramSeed);
            g.fromBlock = uint64(bound(paramSeed >> 8, 0, block.number + 1));
            payload = abi.encode(g.who, g.fromBlock);
        } else if (kind < 14) {
            g.action = Action.SetRule;
            g.office = bytes2(0);
            uint16 den = uint16(bound(paramSeed, 1, 12));
            uint16 num = uint16(bound(paramSeed >> 16, 0, den));
            g.rule = GovernanceRule(num, den, uint16(bound(paramSeed >> 32, 1, 7)), uint64(bound(paramSeed >> 40, 0, 300)));
            payload = abi.encode(g.rule);
        } else if (kind == 14) {
            g.action = Action.Freeze;
            g.office = bytes2(0);
            g.who = paramSeed % 2 == 0 ? address(anchors) : address(0xBEEF);
            payload = abi.encode(g.who);
        } else {
            g.action = Action.Cancel;
            g.office = bytes2(0);
            g.target = _props.length == 0 ? 0 : paramSeed % (_props.length + 1);
            payload = abi.encode(g.target);
        }
        g.hash = keccak256(abi.encode(g.action, g.office, payload));
        bytes2 proposer = _officeOf[actor];
        uint256 dup = _pendingHash[g.hash];
        bool expect = proposer != bytes2(0) && _status[proposer] == 1 && _check(g)
            && !(dup != 0 && _blocking(dup - 1));
        vm.prank(actor);
        try offices.propose(g.action, g.office, payload) returns (uint256 id) {
            _expect(expect, true, "propose");
            if (!expect) return;
            if (id != _props.length) _fail("proposal id");
            g.proposer = proposer;
            g.expires = uint64(block.number) + _rule.ttlBlocks;
            _props.push(g);
            _pendingHash[g.hash] = id + 1;
            _approval[id][proposer] = _epoch[proposer] + 1;
        } catch {
            _expect(expect, false, "propose");
        }
    }

    function approve(uint256 actorSeed, uint256 idSeed, bool wrongHash) public {
        if (_props.length == 0) return;
        _approveBy(_actor(actorSeed), idSeed % _props.length, wrongHash);
    }

    function _approveBy(address actor, uint256 id, bool wrongHash) internal {
        bytes32 hash = wrongHash ? keccak256(abi.encode(_props[id].hash)) : _props[id].hash;
        bytes2 code = _officeOf[actor];
        bool expect = code != bytes2(0) && _status[code] == 1 && _live(id) && !wrongHash
            && _approval[id][code] != _epoch[code] + 1;
        vm.prank(actor);
        try offices.approve(id, hash) {
            _expect(expect, true, "approve");
            if (expect) _approval[id][code] = _epoch[code] + 1;
        } catch {
            _expect(expect, false, "approve");
        }
    }

    /// @notice Approve one of the latest proposals with up to four actors, then execute it.
    function approveMany(uint256 actorSeed, uint256 idSeed, uint8 count) external {
        if (_props.length == 0) return;
        uint256 id = _props.length - 1 - (idSeed % (_props.length < 3 ? _props.length : 3));
        for (uint256 j = 0; j < 1 + (count % 4); ++j) {
            approve(uint256(keccak256(abi.encode(actorSeed, j))) | 1, id, false);
        }
        execute(id);
    }

    function execute(uint256 idSeed) public {
        if (_props.length == 0) return;
        uint256 id = idSeed % _props.length;
        GProp memory g = _props[id];
        bool expect = _live(id) && _counts(id, g.proposer) && _counted(id) >= _required(_activeCount());
        bool unconsented =
            (g.action == Action.ReplaceSigners || g.action == Action.MarkCompromised) && !_counts(id, g.office);
        if (expect && unconsented) {
            // 3.1.0: never while the office is active or the registry frozen; a mark only after deactivation.
            expect = !_active(g.office) && _frozen == 0
                && (g.action != Action.MarkCompromised || g.fromBlock > _deactivatedAt[g.office]);
        }
        expect = expect && _check(g) && _effectOk(g);
        bytes32 before = unconsented ? _verdicts(g.office) : bytes32(0);
        uint256 gas = gasleft();
        try offices.execute(id) {
            gas -= gasleft();
            _expect(expect, true, "execute");
            if (unconsented) {
                ++actsWithoutConsent;
                if (_verdicts(g.office) != before) ++verdictsChangedWithoutConsent;
            }
            if (!expect) return;
            if (g.action == Action.ReplaceSigners && gas > maxRecoveryGas) maxRecoveryGas = gas;
            _props[id].executed = true;
            delete _pendingHash[g.hash];
            _carryOut(g);
        } catch {
            _expect(expect, false, "execute");
        }
    }

    function cancel(uint256 actorSeed, uint256 idSeed) external {
        if (_props.length == 0) return;
        address actor = _actor(actorSeed);
        uint256 id = idSeed % _props.length;
        bytes2 code = _officeOf[actor];
        bool expect = code != bytes2(0) && _live(id) && _props[id].proposer == code;
        vm.prank(actor);
        try offices.cancel(id) {
            _expect(expect, true, "cancel");
            if (expect) _cancel(id);
        } catch {
            _expect(expect, false, "cancel");
        }
    }

    // ------------------------------------------------------------ actions: signers

    function addSigner(uint256 actorSeed, uint256 keySeed, bool rotate, bool accept) external {
        address actor = _actor(actorSeed);
        address k = _key(keySeed);
        bytes2 code = _officeOf[actor];
        bool expect = code != bytes2(0) && _status[code] == 1 && _nominable(code, k, actor);
        address old = rotate ? _signerOf(code, keySeed >> 8) : address(0);
        if (rotate) expect = expect && old != address(0);
        bytes memory data = rotate
            ? abi.encodeCall(offices.rotateSigner, (old, k))
            : abi.encodeCall(offices.addSigner, (k));
        vm.prank(actor);
        (bool ok,) = address(offices).call(data);
        _expect(expect, ok, rotate ? "rotateSigner" : "addSigner");
        if (ok && expect) _nominate(code, k, old, actor);
        if (accept && code != bytes2(0)) _accept(k, code);
    }

    function acceptAny(uint256 keySeed, uint256 officeSeed) external {
        _accept(_key(keySeed), _codes[officeSeed % 8]);
    }

    function _accept(address k, bytes2 code) internal {
        GNom memory n = _nom[code][k];
        bool expect = n.pending && (n.nominator == address(0) || _officeOf[n.nominator] == code)
            && n.round == _round[code] && _officeOf[k] == bytes2(0);
        vm.prank(k);
        try offices.acceptSigner(code) {
            _expect(expect, true, "acceptSigner");
            if (!expect) return;
            bool was = _active(code);
            _drop(code, k);
            uint8 depth = n.nominator == address(0) ? 0 : _origin[code][n.nominator].depth + 1;
            _origin[code][k] = GOrigin(n.nominator, n.atBlock, depth);
            _signers[code].push(k);
            _officeOf[k] = code;
            _term[code][k] = GTerm(uint64(block.number), 0, true);
            if (n.replaces != address(0) && _officeOf[n.replaces] == code) _remove(code, n.replaces);
            _refresh(code, was);
        } catch {
            _expect(expect, false, "acceptSigner");
        }
    }

    function cancelNomination(uint256 actorSeed, uint256 keySeed) external {
        address actor = _actor(actorSeed);
        address k = _key(keySeed);
        bytes2 code = _officeOf[actor];
        bool expect = code != bytes2(0) && _nom[code][k].pending && _nom[code][k].nominator != address(0);
        vm.prank(actor);
        try offices.cancelNomination(k) {
            _expect(expect, true, "cancelNomination");
            if (expect) _drop(code, k);
        } catch {
            _expect(expect, false, "cancelNomination");
        }
    }

    function removeSigner(uint256 actorSeed, uint256 keySeed) external {
        address actor = _actor(actorSeed);
        address k = _key(keySeed);
        bytes2 code = _officeOf[actor];
        bool expect = code != bytes2(0) && _officeOf[k] == code && _signers[code].length > 1;
        vm.prank(actor);
        try offices.removeSigner(k) {
            _expect(expect, true, "removeSigner");
            if (expect) _remove(code, k);
        } catch {
            _expect(expect, false, "removeSigner");
        }
    }

    function markCompromised(uint256 actorSeed, uint256 keySeed) external {
        address actor = _actor(actorSeed);
        address k = _key(keySeed);
        bytes2 code = _officeOf[actor];
        uint64 now_ = uint64(block.number);
        bool expect = code != bytes2(0) && _markOk(code, k, now_);
        vm.prank(actor);
        try offices.markCompromised(k) {
            _expect(expect, true, "markCompromised");
            if (expect) _compromise(code, k, now_);
        } catch {
            _expect(expect, false, "markCompromised");
        }
    }

    // ------------------------------------------------------------ actions: anchors

    /// @notice Anchor a one-record batch; with `copy`, try another office's existing root.
    function anchor(uint256 actorSeed, uint256 seed, bool copy) external {
        _anchorBy(_actor(actorSeed), seed, copy);
    }

    function _anchorBy(address actor, uint256 seed, bool copy) internal {
        bytes2 code = _officeOf[actor];
        if (copy && _batches.length != 0) seed = _batches[seed % _batches.length].seed;
        bytes32 root = _leaf(abi.encode(seed));
        bool expect = code != bytes2(0) && _status[code] == 1 && _frozen == 0 && _batchIndex(code, root) == 0;
        vm.prank(actor);
        try anchors.anchorBatch(root, 1, "m") {
            _expect(expect, true, "anchorBatch");
            if (!expect) return;
            GhostBatch storage b = _batches.push();
            (b.office, b.root, b.signer, b.seed) = (code, root, actor, seed);
            (b.timestamp, b.blockNumber) = (uint64(block.timestamp), uint64(block.number));
        } catch {
            _expect(expect, false, "anchorBatch");
        }
    }

    function revoke(uint256 actorSeed, uint256 batchSeed, uint8 reason, bool leaf) external {
        if (_batches.length == 0) return;
        address actor = _actor(actorSeed);
        bytes2 code = _officeOf[actor];
        GhostBatch storage victim = _batches[batchSeed % _batches.length];
        uint256 own = code == bytes2(0) ? 0 : _batchIndex(code, victim.root);
        bool expect = code != bytes2(0) && _status[code] == 1 && own != 0 && reason != 0;
        if (expect) {
            Rec storage r = leaf ? _batches[own - 1].leafRev : _batches[own - 1].batchRev;
            expect = !(r.reason != 0 && _stands(code, r));
        }
        vm.prank(actor);
        if (leaf) {
            try anchors.revokeLeaf(victim.root, abi.encode(victim.seed), new bytes32[](0), reason) {
                _expect(expect, true, "revokeLeaf");
                if (expect) _batches[own - 1].leafRev = Rec(reason, actor, uint64(block.number));
            } catch {
                _expect(expect, false, "revokeLeaf");
            }
        } else {
            try anchors.revokeBatch(victim.root, reason) {
                _expect(expect, true, "revokeBatch");
                if (expect) _batches[own - 1].batchRev = Rec(reason, actor, uint64(block.number));
            } catch {
                _expect(expect, false, "revokeBatch");
            }
        }
    }

    function roll(uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 1, 40));
    }

    // ------------------------------------------------------------ model: predictions

    function _check(GProp memory g) internal view returns (bool) {
        bytes2 c = g.office;
        if (g.action == Action.Admit) return _status[c] == 0;
        if (g.action == Action.SetRule) return _safe(g.rule);
        if (g.action == Action.Freeze) return g.who.code.length != 0 && _frozen == 0;
        if (g.action == Action.Cancel) return g.target < _props.length && _live(g.target);
        if (_status[c] == 0) return false;
        if (g.action == Action.Suspend) return _status[c] == 1 && _deactivationOk(c);
        if (g.action == Action.Reinstate) return _status[c] == 2;
        if (g.action == Action.ReplaceSigners) return !_term[c][g.who].used && _deactivationOk(c);
        return _markOk(c, g.who, g.fromBlock);
    }

    /// @dev What `_check` cannot see before the effect: the nominee must not sign for an office now.
    function _effectOk(GProp memory g) internal view returns (bool) {
        if (g.action == Action.Admit || g.action == Action.ReplaceSigners) return _officeOf[g.who] == bytes2(0);
        return true;
    }

    function _markOk(bytes2 c, address k, uint64 fromBlock) internal view returns (bool) {
        if (!_term[c][k].used) return false;
        uint64 existing = _mark[c][k];
        if (existing != 0 && fromBlock >= existing) return false;
        if (fromBlock == 0 || fromBlock > block.number) return false;
        if (!_active(c)) return true;
        // The cascade may leave the office without a key: then at least MIN_ACTIVE others must remain.
        for (uint256 i = 0; i < _signers[c].length; ++i) {
            if (_compromisedFromWith(c, _signers[c][i], k, fromBlock) == 0) return true;
        }
        return _activeCount() - 1 >= 2;
    }

    function _nominable(bytes2 c, address k, address nominator) internal view returns (bool) {
        if (_officeOf[k] != bytes2(0) || _term[c][k].used) return false;
        if (nominator != address(0) && _origin[c][nominator].depth >= CHAIN) return false;
        return _nom[c][k].pending || _signers[c].length + _pendingList[c].length < CAP;
    }

    function _safe(GovernanceRule memory r) internal pure returns (bool) {
        return r.denominator != 0 && uint256(r.numerator) * 2 >= r.denominator && r.numerator < r.denominator
            && r.minApprovals >= 2 && r.ttlBlocks != 0 && r.ttlBlocks <= 1_000_000;
    }

    function _live(uint256 id) internal view returns (bool) {
        GProp storage p = _props[id];
        return !p.executed && !p.cancelled && block.number <= p.expires;
    }

    function _blocking(uint256 id) internal view returns (bool) {
        return _live(id) && _counts(id, _props[id].proposer);
    }

    function _counts(uint256 id, bytes2 c) internal view returns (bool) {
        return _active(c) && _approval[id][c] == _epoch[c] + 1;
    }

    /// @notice Approvals of `id` that the model says count.
    function ghostCounted(uint256 id) public view returns (uint256) {
        return _counted(id);
    }

    function _counted(uint256 id) internal view returns (uint256 n) {
        for (uint256 i = 0; i < 8; ++i) {
            if (_counts(id, _codes[i])) ++n;
        }
    }

    /// @notice The model's rule: 2 up to two active offices, else the rule clamped to [2, n - 1].
    function ghostRequired() public view returns (uint256) {
        return _required(_activeCount());
    }

    function _required(uint256 n) internal view returns (uint256) {
        if (n <= 2) return 2;
        uint256 need = n * _rule.numerator / _rule.denominator + 1;
        if (need < _rule.minApprovals) need = _rule.minApprovals;
        if (need < 2) need = 2;
        return need > n - 1 ? n - 1 : need;
    }

    function _active(bytes2 c) internal view returns (bool) {
        return _status[c] == 1 && _signers[c].length != 0;
    }

    /// @notice Active offices in the model.
    function ghostActiveCount() public view returns (uint256) {
        return _activeCount();
    }

    function _activeCount() internal view returns (uint256 n) {
        for (uint256 i = 0; i < 8; ++i) {
            if (_active(_codes[i])) ++n;
        }
    }

    function _deactivationOk(bytes2 c) internal view returns (bool) {
        return !_active(c) || _activeCount() - 1 >= 2;
    }

    // ------------------------------------------------------------ model: effects

    function _carryOut(GProp memory g) internal {
        bytes2 c = g.office;
        if (g.action == Action.Admit) {
            _status[c] = 1;
            _nominate(c, g.who, address(0), address(0));
        } else if (g.action == Action.Suspend || g.action == Action.Reinstate) {
            bool was = _active(c);
            _status[c] = g.action == Action.Suspend ? 2 : 1;
            _refresh(c, was);
        } else if (g.action == Action.ReplaceSigners) {
            bool was = _active(c);
            while (_signers[c].length != 0) _remove(c, _signers[c][_signers[c].length - 1]);
            while (_pendingList[c].length != 0) _drop(c, _pendingList[c][_pendingList[c].length - 1]);
            _refresh(c, was);
            ++_round[c];
            _nominate(c, g.who, address(0), address(0));
        } else if (g.action == Action.MarkCompromised) {
            _compromise(c, g.who, g.fromBlock);
        } else if (g.action == Action.SetRule) {
            _rule = g.rule;
        } else if (g.action == Action.Freeze) {
            _frozen = block.number;
        } else {
            _cancel(g.target);
        }
    }

    function _cancel(uint256 id) internal {
        _props[id].cancelled = true;
        if (_pendingHash[_props[id].hash] == id + 1) delete _pendingHash[_props[id].hash];
    }

    function _nominate(bytes2 c, address k, address replaces, address nominator) internal {
        if (!_nom[c][k].pending) _pendingList[c].push(k);
        _nom[c][k] = GNom(true, replaces, nominator, uint64(block.number), _round[c]);
    }

    function _drop(bytes2 c, address k) internal {
        delete _nom[c][k];
        address[] storage list = _pendingList[c];
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == k) {
                list[i] = list[list.length - 1];
                list.pop();
                return;
            }
        }
    }

    function _remove(bytes2 c, address k) internal {
        delete _officeOf[k];
        address[] storage list = _signers[c];
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == k) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        _term[c][k].untilBlock = uint64(block.number);
        address[] storage pending = _pendingList[c];
        for (uint256 i = pending.length; i > 0; --i) {
            if (_nom[c][pending[i - 1]].nominator == k) _drop(c, pending[i - 1]);
        }
    }

    function _compromise(bytes2 c, address k, uint64 fromBlock) internal {
        bool was = _active(c);
        _mark[c][k] = fromBlock;
        for (uint256 i = _signers[c].length; i > 0; --i) {
            address s = _signers[c][i - 1];
            if (ghostCompromisedFrom(c, s) != 0) _remove(c, s);
        }
        _refresh(c, was);
    }

    function _refresh(bytes2 c, bool was) internal {
        if (was && !_active(c)) {
            ++_epoch[c];
            _deactivatedAt[c] = uint64(block.number);
        }
    }

    /// @dev A digest of the contract's verdicts on every batch of `c`: authorised, standing revocations.
    function _verdicts(bytes2 c) internal view returns (bytes32 digest) {
        bytes32[] memory proof = new bytes32[](0);
        for (uint256 i = 0; i < _batches.length; ++i) {
            GhostBatch storage b = _batches[i];
            if (b.office != c) continue;
            (, Batch memory vb, uint8 leafReason,, bool authorised) =
                anchors.verifyRecord(c, b.root, abi.encode(b.seed), proof);
            digest = keccak256(abi.encode(digest, authorised, vb.revocationReason, leafReason));
        }
    }

    // ------------------------------------------------------------ model: views

    /// @notice The model's compromise block: own mark, or acceptance if a nomination link was made by a key
    ///         at or after its own mark (the whole chain up to governance).
    function ghostCompromisedFrom(bytes2 c, address k) public view returns (uint64) {
        return _compromisedFromWith(c, k, address(0), 0);
    }

    function _compromisedFromWith(bytes2 c, address k, address markedKey, uint64 markedFrom)
        internal
        view
        returns (uint64 from)
    {
        from = k == markedKey ? markedFrom : _mark[c][k];
        address cur = k;
        while (true) {
            GOrigin storage o = _origin[c][cur];
            if (o.nominator == address(0)) return from;
            uint64 m = o.nominator == markedKey ? markedFrom : _mark[c][o.nominator];
            if (m != 0 && m <= o.atBlock) {
                uint64 accepted = _term[c][k].fromBlock;
                return from == 0 || accepted < from ? accepted : from;
            }
            cur = o.nominator;
        }
    }

    /// @notice Whether the model says `k` held a term of `c` covering `b`.
    function ghostWasSigner(bytes2 c, address k, uint256 b) public view returns (bool) {
        GTerm storage t = _term[c][k];
        return t.used && t.fromBlock <= b && (t.untilBlock == 0 || b <= t.untilBlock);
    }

    /// @notice The model's authorisation: a term covers the block and the key was not compromised by then.
    function ghostAuthorised(bytes2 c, address k, uint256 b) public view returns (bool) {
        uint64 from = ghostCompromisedFrom(c, k);
        return ghostWasSigner(c, k, b) && (from == 0 || b < from);
    }

    function _stands(bytes2 c, Rec memory r) internal view returns (bool) {
        uint64 from = ghostCompromisedFrom(c, r.by);
        return from == 0 || from > r.atBlock;
    }

    /// @notice The reason of a revocation that stands in the model (0 if none or if it does not stand).
    function ghostStanding(bytes2 c, Rec memory r) public view returns (uint8) {
        return r.reason != 0 && _stands(c, r) ? r.reason : 0;
    }

    function proposalCount() external view returns (uint256) {
        return _props.length;
    }

    function ghostProposalLive(uint256 id) external view returns (bool) {
        return _live(id);
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function ghostBatch(uint256 i) external view returns (GhostBatch memory) {
        return _batches[i];
    }

    function codeAt(uint256 i) external view returns (bytes2) {
        return _codes[i];
    }

    function keyAt(uint256 i) external pure returns (address) {
        return _key(i);
    }

    function ghostDeactivatedAt(bytes2 c) external view returns (uint64) {
        return _deactivatedAt[c];
    }

    function ghostSignerCount(bytes2 c) external view returns (uint256) {
        return _signers[c].length;
    }

    function ghostPendingCount(bytes2 c) external view returns (uint256) {
        return _pendingList[c].length;
    }

    function ghostOfficeOf(address k) external view returns (bytes2) {
        return _officeOf[k];
    }

    // ------------------------------------------------------------ private

    function _expect(bool expected, bool happened, string memory what) internal {
        ++calls;
        if (happened) ++successes;
        if (expected != happened && bytes(failure).length == 0) {
            failure = string.concat(happened ? "wrongful success: " : "wrongful refusal: ", what);
        }
    }

    function _fail(string memory what) internal {
        if (bytes(failure).length == 0) failure = what;
    }

    function _key(uint256 seed) internal pure returns (address) {
        return Fixture.key(vm, seed % KEYS);
    }

    /// @dev Mostly a current signer (found from `seed`), one call in five any key of the pool.
    function _actor(uint256 seed) internal view returns (address) {
        if (seed % 5 == 0) return _key(seed >> 8);
        for (uint256 j = 0; j < KEYS; ++j) {
            address k = _key((seed >> 8) + j);
            if (_officeOf[k] != bytes2(0)) return k;
        }
        return _key(seed >> 8);
    }

    function _signerOf(bytes2 c, uint256 seed) internal view returns (address) {
        if (c == bytes2(0) || _signers[c].length == 0) return address(0);
        return _signers[c][seed % _signers[c].length];
    }

    function _leaf(bytes memory values) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(values)));
    }

    /// @dev Index + 1 of the model's batch of `c` under `root`, 0 if none.
    function _batchIndex(bytes2 c, bytes32 root) internal view returns (uint256) {
        for (uint256 i = 0; i < _batches.length; ++i) {
            if (_batches[i].office == c && _batches[i].root == root) return i + 1;
        }
        return 0;
    }
}
