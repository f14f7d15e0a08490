// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {Action, Batch, GovernanceRule, OfficeStatus, ProposalInfo} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {TestBase} from "./Vm.sol";

/// @notice Drives governance, signers, anchoring and revocation with many actors, and keeps an
///         independent model (ghost state) of who was a signer when, of compromise marks, of which
///         approvals should count and of every anchored batch.
contract Handler is TestBase {
    uint256 public constant KEYS = 12;

    struct Term {
        uint64 fromBlock;
        uint64 untilBlock; // 0 = open
    }

    struct GhostBatch {
        bytes2 office;
        bytes32 root;
        address signer;
        uint64 timestamp;
        uint64 blockNumber;
        uint32 leafCount;
        uint8 reason;
        uint256 seed; // the single leaf's values are abi.encode(seed)
        uint8 leafReason;
    }

    struct GhostProposal {
        Action action;
        bytes2 office;
        address signer;
        uint64 fromBlock;
        bool executed;
    }

    OfficeRegistry public immutable offices;
    AnchorRegistry public immutable anchors;

    bytes2[8] internal _codes = [bytes2("EP"), "US", "JP", "EM", "WO", "KR", "CN", "AU"];
    mapping(address key => bytes2 office) internal _signerOf;
    mapping(bytes2 office => mapping(address key => Term[])) internal _terms;
    mapping(bytes2 office => mapping(address key => uint64 fromBlock)) public ghostCompromised;
    mapping(bytes2 office => uint256 count) internal _deactivations;
    mapping(bytes2 office => bool active) internal _active;
    mapping(uint256 id => mapping(bytes2 office => uint256 deactivationsPlusOne)) internal _approvals;
    GhostProposal[] internal _proposals;
    GhostBatch[] internal _batches;

    /// @notice Set if an execution succeeded without enough model-valid approvals.
    bool public badExecution;
    /// @notice Set if a front-run copy ever displaced or blocked the owner's batch.
    bool public preempted;
    uint256 public executions;
    uint256 public anchored;

    constructor(OfficeRegistry offices_, AnchorRegistry anchors_) {
        offices = offices_;
        anchors = anchors_;
        for (uint256 i = 0; i < Fixture.OFFICES; ++i) {
            address k = Fixture.key(vm, i);
            _signerOf[k] = _codes[i];
            _terms[_codes[i]][k].push(Term(uint64(block.number), 0));
            _active[_codes[i]] = true;
        }
    }

    // ------------------------------------------------------------ actions

    function propose(uint256 actorSeed, uint256 actionSeed, uint256 targetSeed, uint256 paramSeed) external {
        (address actor,) = _signer(actorSeed);
        if (actor == address(0)) return;
        uint256 kind = actionSeed % 6;
        bytes2 target = _codes[kind == 0 ? targetSeed % 8 : targetSeed % 5];
        GhostProposal memory g;
        bytes memory payload;
        if (kind == 0) {
            g.action = Action.Admit;
            payload = abi.encode("new office", "https://new.example/", _key(paramSeed));
        } else if (kind == 1) {
            g.action = Action.Suspend;
        } else if (kind == 2) {
            g.action = Action.Reinstate;
        } else if (kind == 3) {
            g.action = Action.ReplaceSigners;
            payload = abi.encode(_key(paramSeed));
        } else if (kind == 4) {
            g.action = Action.MarkCompromised;
            address[] memory current = offices.signersOf(target);
            g.signer = current.length != 0 ? current[paramSeed % current.length] : _key(paramSeed);
            g.fromBlock = uint64(bound(paramSeed >> 8, 1, block.number));
            payload = abi.encode(g.signer, g.fromBlock);
        } else {
            g.action = Action.SetRule;
            target = bytes2(0);
            uint16 den = uint16(bound(paramSeed, 2, 12));
            uint16 num = uint16(bound(paramSeed >> 16, (den + 1) / 2, den - 1));
            payload = abi.encode(GovernanceRule(num, den, uint16(bound(paramSeed >> 32, 2, 4)), 100));
        }
        g.office = target;
        vm.prank(actor);
        try offices.propose(g.action, target, payload) returns (uint256 id) {
            _proposals.push(g);
            _approvals[id][_signerOf[actor]] = _deactivations[_signerOf[actor]] + 1;
        } catch {}
        _observe();
    }

    function approve(uint256 actorSeed, uint256 idSeed, bool wrongHash) external {
        (address actor,) = _signer(actorSeed);
        if (actor == address(0) || _proposals.length == 0) return;
        uint256 id = idSeed % _proposals.length;
        bytes32 hash = offices.proposal(id).payloadHash;
        if (wrongHash) hash = keccak256(abi.encode(hash));
        vm.prank(actor);
        try offices.approve(id, hash) {
            if (wrongHash) badExecution = true; // an approval of another payload must never be accepted
            _approvals[id][_signerOf[actor]] = _deactivations[_signerOf[actor]] + 1;
        } catch {}
        _observe();
    }

    /// @notice Approve the latest proposals with up to `count` offices' keys (one call, many actors), then execute.
    function approveMany(uint256 actorSeed, uint256 idSeed, uint8 count) external {
        if (_proposals.length == 0) return;
        uint256 id = _proposals.length - 1 - (idSeed % (_proposals.length < 3 ? _proposals.length : 3));
        bytes32 hash = offices.proposal(id).payloadHash;
        for (uint256 j = 0; j < 1 + (count % 4); ++j) {
            (address actor,) = _signer(actorSeed + 5 * j);
            if (actor == address(0)) break;
            vm.prank(actor);
            try offices.approve(id, hash) {
                _approvals[id][_signerOf[actor]] = _deactivations[_signerOf[actor]] + 1;
            } catch {}
        }
        _observe();
        this.execute(id);
    }

    function execute(uint256 idSeed) public {
        if (_proposals.length == 0) return;
        uint256 id = idSeed % _proposals.length;
        uint256 valid = ghostCounted(id);
        uint256 required = offices.requiredApprovals();
        try offices.execute(id) {
            if (valid < required || valid < 1) badExecution = true;
            _proposals[id].executed = true;
            ++executions;
            GhostProposal storage g = _proposals[id];
            if (g.action == Action.MarkCompromised) ghostCompromised[g.office][g.signer] = g.fromBlock;
        } catch {}
        _observe();
    }

    function addSigner(uint256 actorSeed, uint256 keySeed, bool accept, bool rotate) external {
        (address actor, bytes2 office) = _signer(actorSeed);
        if (actor == address(0)) return;
        address k = _key(keySeed);
        vm.prank(actor);
        if (rotate) {
            try offices.rotateSigner(actor, k) {} catch {}
        } else {
            try offices.addSigner(k) {} catch {}
        }
        if (accept) {
            vm.prank(k);
            try offices.acceptSigner(office) {} catch {}
        }
        _observe();
    }

    function acceptAny(uint256 keySeed, uint256 officeSeed) external {
        address k = _key(keySeed);
        vm.prank(k);
        try offices.acceptSigner(_codes[officeSeed % 8]) {} catch {}
        _observe();
    }

    function removeSigner(uint256 actorSeed, uint256 keySeed) external {
        (address actor,) = _signer(actorSeed);
        if (actor == address(0)) return;
        vm.prank(actor);
        try offices.removeSigner(_key(keySeed)) {} catch {}
        _observe();
    }

    function markCompromised(uint256 actorSeed, uint256 keySeed, uint256 blockSeed) external {
        (address actor, bytes2 office) = _signer(actorSeed);
        if (actor == address(0)) return;
        address k = _key(keySeed);
        blockSeed;
        vm.prank(actor);
        try offices.markCompromised(k) {
            ghostCompromised[office][k] = uint64(block.number);
        } catch {}
        _observe();
    }

    /// @notice Anchor a one-record batch; with `copy`, try to pre-empt another office's existing root first.
    function anchor(uint256 actorSeed, uint256 seed, bool copy) external {
        (address actor, bytes2 office) = _signer(actorSeed);
        if (actor == address(0)) return;
        if (copy && _batches.length != 0) {
            GhostBatch storage victim = _batches[seed % _batches.length];
            if (victim.office != office) {
                vm.prank(actor);
                try anchors.anchorBatch(victim.root, 1, "copy") {
                    _record(office, victim.root, actor, victim.seed);
                } catch {}
                Batch memory still = anchors.batchOf(victim.office, victim.root);
                if (still.signer != victim.signer) preempted = true;
                _observe();
                return;
            }
        }
        bytes32 root = _leaf(abi.encode(seed));
        vm.prank(actor);
        try anchors.anchorBatch(root, 1, "m") {
            _record(office, root, actor, seed);
        } catch {}
        _observe();
    }

    function revoke(uint256 actorSeed, uint256 batchSeed, uint8 reason, bool leaf) external {
        (address actor, bytes2 office) = _signer(actorSeed);
        if (actor == address(0) || _batches.length == 0) return;
        uint256 i = batchSeed % _batches.length;
        GhostBatch storage b = _batches[i];
        vm.prank(actor);
        if (leaf) {
            bytes32[] memory proof = new bytes32[](0);
            try anchors.revokeLeaf(b.root, abi.encode(b.seed), proof, reason) {
                GhostBatch storage own = _batches[_own(office, b.root)];
                if (own.leafReason != 0 || reason == 0) badExecution = true;
                own.leafReason = reason;
            } catch {}
        } else {
            try anchors.revokeBatch(b.root, reason) {
                if (b.office == office) {
                    if (b.reason != 0 || reason == 0) badExecution = true;
                    b.reason = reason;
                } else {
                    GhostBatch storage own = _batches[_own(office, b.root)];
                    if (own.reason != 0 || reason == 0) badExecution = true;
                    own.reason = reason;
                }
            } catch {}
        }
        _observe();
    }

    function roll(uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 1, 40));
    }

    // ------------------------------------------------------------ model

    /// @notice Approvals of `id` that the model says count: active offices, active since approving.
    function ghostCounted(uint256 id) public view returns (uint256 n) {
        for (uint256 i = 0; i < _codes.length; ++i) {
            bytes2 c = _codes[i];
            uint256 a = _approvals[id][c];
            if (a != 0 && a == _deactivations[c] + 1 && _active[c]) ++n;
        }
    }

    /// @notice Whether the model says `key` held a term of `office` covering `blockNumber`.
    function ghostWasSigner(bytes2 office, address key, uint256 blockNumber) public view returns (bool) {
        Term[] storage terms = _terms[office][key];
        for (uint256 i = 0; i < terms.length; ++i) {
            if (terms[i].fromBlock <= blockNumber && (terms[i].untilBlock == 0 || blockNumber <= terms[i].untilBlock)) {
                return true;
            }
        }
        return false;
    }

    /// @notice The model's authorisation: a term covers the block and the key was not compromised by then.
    function ghostAuthorised(bytes2 office, address key, uint256 blockNumber) public view returns (bool) {
        uint64 c = ghostCompromised[office][key];
        return ghostWasSigner(office, key, blockNumber) && (c == 0 || blockNumber < c);
    }

    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    function ghostProposalExecuted(uint256 id) external view returns (bool) {
        return _proposals[id].executed;
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function ghostBatch(uint256 i) external view returns (GhostBatch memory) {
        return _batches[i];
    }

    function code(uint256 i) external view returns (bytes2) {
        return _codes[i];
    }

    function key(uint256 i) external pure returns (address) {
        return _key(i);
    }

    // ------------------------------------------------------------ private

    function _key(uint256 seed) private pure returns (address) {
        return Fixture.key(vm, seed % KEYS);
    }

    /// @dev A key of the pool that is a current signer of some office, picked from `seed`.
    function _signer(uint256 seed) private view returns (address k, bytes2 office) {
        for (uint256 j = 0; j < KEYS; ++j) {
            address candidate = _key((seed % KEYS) + j);
            bytes2 o = offices.officeOf(candidate);
            if (o != bytes2(0)) return (candidate, o);
        }
    }

    function _leaf(bytes memory values) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(values)));
    }

    function _record(bytes2 office, bytes32 root, address signer, uint256 seed) private {
        _batches.push(
            GhostBatch(office, root, signer, uint64(block.timestamp), uint64(block.number), 1, 0, seed, 0)
        );
        ++anchored;
    }

    /// @dev The model's batch of `office` under `root`; a revocation of a batch the model lacks is a bug.
    function _own(bytes2 office, bytes32 root) private returns (uint256) {
        for (uint256 i = 0; i < _batches.length; ++i) {
            if (_batches[i].office == office && _batches[i].root == root) return i;
        }
        badExecution = true;
        return 0;
    }

    /// @dev Update the model from what changed in this step: signer terms and active offices.
    function _observe() private {
        for (uint256 j = 0; j < KEYS; ++j) {
            address k = _key(j);
            bytes2 now_ = offices.officeOf(k);
            bytes2 was = _signerOf[k];
            if (now_ == was) continue;
            if (was != bytes2(0)) {
                Term[] storage t = _terms[was][k];
                t[t.length - 1].untilBlock = uint64(block.number);
            }
            if (now_ != bytes2(0)) _terms[now_][k].push(Term(uint64(block.number), 0));
            _signerOf[k] = now_;
        }
        for (uint256 i = 0; i < _codes.length; ++i) {
            bytes2 c = _codes[i];
            (,, OfficeStatus status) = offices.office(c);
            bool active = status == OfficeStatus.Active && offices.signersOf(c).length != 0;
            if (_active[c] && !active) ++_deactivations[c];
            _active[c] = active;
        }
    }
}
