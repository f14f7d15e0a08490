// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {Action, Batch, GovernanceRule} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {TestBase, Vm} from "./Vm.sol";

/// @notice One test per finding of issue 21 (N1-N10). Calls whose ABI changed in 3.0.0 go through
///         low-level calls, so that the same file compiles against 2.0.0 and fails there (see
///         scripts/mutate_contracts.py --baseline): each test asserts the 3.0.0 rule, not an ABI.
abstract contract FindingsBase is TestBase {
    OfficeRegistry internal offices;
    AnchorRegistry internal anchors;

    // Keys 0..4: genesis signers of EP, US, JP, EM, WO. Key 5: a second EP key (the thief's later).
    address internal H;
    address internal T;

    function setUp() public {
        (offices, anchors) = Fixture.deploy(vm);
        H = _key(0);
        T = _key(5);
        vm.roll(10);
    }

    // ------------------------------------------------------------ helpers

    function _key(uint256 i) internal pure returns (address) {
        return Fixture.key(vm, i);
    }

    function _call(address actor, address target, bytes memory data) internal returns (bool ok, bytes memory ret) {
        vm.prank(actor);
        (ok, ret) = target.call(data);
    }

    /// @dev Nominate and accept `k` for the office of `by`.
    function _addKey(address by, address k) internal {
        bytes2 code = offices.officeOf(by);
        vm.prank(by);
        offices.addSigner(k);
        vm.prank(k);
        offices.acceptSigner(code);
    }

    /// @dev A key's mark of `signer` "now": 3.0.0's markCompromised(address), else 2.0.0's with this block.
    function _markNow(address actor, address signer) internal returns (bool ok) {
        (ok,) = _call(actor, address(offices), abi.encodeWithSignature("markCompromised(address)", signer));
        if (!ok) {
            (ok,) = _call(
                actor,
                address(offices),
                abi.encodeWithSignature("markCompromised(address,uint64)", signer, uint64(block.number))
            );
        }
    }

    function _anchor(address k, bytes32 root) internal returns (uint64 atBlock) {
        vm.prank(k);
        anchors.anchorBatch(root, 1, "m");
        return uint64(block.number);
    }

    function _leafRoot(uint256 seed) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(seed))));
    }

    function _authorised(bytes2 code, bytes32 root) internal view returns (bool ok) {
        (,,,, ok) = anchors.verifyRecord(code, root, abi.encode(uint256(0)), new bytes32[](0));
        Batch memory b = anchors.batchOf(code, root);
        assertTrue(ok == offices.isAuthorisedAt(code, b.signer, b.blockNumber), "verifyRecord != isAuthorisedAt");
    }

    /// @dev Propose with `keys[0]`, approve with the others, execute; returns whether execution succeeded.
    function _govern(uint256[] memory keys, Action action, bytes2 code, bytes memory payload) internal returns (bool) {
        vm.prank(_key(keys[0]));
        uint256 id = offices.propose(action, code, payload);
        bytes32 hash = offices.proposal(id).payloadHash;
        for (uint256 i = 1; i < keys.length; ++i) {
            vm.prank(_key(keys[i]));
            offices.approve(id, hash);
        }
        (bool ok,) = address(offices).call(abi.encodeCall(offices.execute, (id)));
        return ok;
    }

    function _keys(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory k) {
        k = new uint256[](3);
        (k[0], k[1], k[2]) = (a, b, c);
    }

    function _keys(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256[] memory k) {
        k = new uint256[](4);
        (k[0], k[1], k[2], k[3]) = (a, b, c, d);
    }

    function _keys(uint256 a, uint256 b) internal pure returns (uint256[] memory k) {
        k = new uint256[](2);
        (k[0], k[1]) = (a, b);
    }
}

/// @notice The findings of issue 21, one test each (see the file's header).
contract FindingsTest is FindingsBase {
    // ------------------------------------------------------------ N1

    /// @notice N1: a thief's key cannot mark an honest key from an earlier block; its mark stops the key from now.
    function test_N1_keyMarkIsNeverRetroactive() public {
        bytes32 root = _leafRoot(0);
        uint64 anchoredAt = _anchor(H, root);
        vm.roll(20);
        _addKey(H, T);
        vm.roll(30);
        (bool retro,) = _call(
            T, address(offices), abi.encodeWithSignature("markCompromised(address,uint64)", H, uint64(1))
        );
        assertTrue(!retro, "a key marked another key from an earlier block");
        assertTrue(_markNow(T, H), "a key's mark from now was refused");
        assertEq(offices.compromisedFrom("EP", H), 30, "the key's mark is not from the current block");
        assertTrue(_authorised("EP", root), "the office's history was rewritten by one key");
        assertTrue(offices.isAuthorisedAt("EP", H, anchoredAt), "isAuthorisedAt rewritten");
        assertTrue(offices.officeOf(H) == bytes2(0), "the marked key still signs");
    }

    /// @notice N1: only governance moves a mark earlier; every mark names its author and block.
    function test_N1_governanceMovesMarkEarlierAndMarksNameTheirAuthor() public {
        _addKey(H, T);
        vm.roll(20);
        bytes32 honest = _leafRoot(1);
        _anchor(H, honest);
        vm.roll(25);
        bytes32 forged = _leafRoot(2);
        _anchor(T, forged);
        vm.roll(30);
        assertTrue(_markNow(H, T), "the honest key could not stop the thief");
        assertTrue(_authorised("EP", forged), "a mark from now reached back");
        (bool ok, bytes memory ret) = address(offices).staticcall(
            abi.encodeWithSignature("compromiseMark(bytes2,address)", bytes2("EP"), T)
        );
        assertTrue(ok, "no attribution view");
        (uint64 fromBlock, uint64 atBlock, address by) = abi.decode(ret, (uint64, uint64, address));
        assertTrue(fromBlock == 30 && atBlock == 30 && by == H, "the mark does not name its author");
        // Governance (the office's own approval included) moves it back to the theft.
        assertTrue(
            _govern(_keys(0, 1, 2), Action.MarkCompromised, "EP", abi.encode(T, uint64(21))), "governance refused"
        );
        assertTrue(!_authorised("EP", forged), "the forgery still verifies");
        assertTrue(_authorised("EP", honest), "the honest batch was lost");
        (, ret) = address(offices).staticcall(abi.encodeWithSignature("compromiseMark(bytes2,address)", bytes2("EP"), T));
        (fromBlock, atBlock, by) = abi.decode(ret, (uint64, uint64, address));
        assertTrue(fromBlock == 21 && atBlock == 30 && by == address(0), "the governance mark is not attributed");
    }

    // ------------------------------------------------------------ N2

    /// @notice N2: a thief's revocations stop standing once its key is marked from before them.
    function test_N2_thiefRevocationsDoNotStand() public {
        _addKey(H, T);
        bytes32 root = _leafRoot(0);
        _anchor(H, root);
        vm.roll(20);
        vm.prank(T);
        anchors.revokeBatch(root, 3);
        vm.prank(T);
        anchors.revokeLeaf(root, abi.encode(uint256(0)), new bytes32[](0), 4);
        vm.roll(30);
        _markNow(H, T);
        assertEq(anchors.batchOf("EP", root).revocationReason, 3, "a mark from now undid an earlier revocation");
        assertTrue(_govern(_keys(0, 1, 2), Action.MarkCompromised, "EP", abi.encode(T, uint64(20))), "governance");
        assertEq(anchors.batchOf("EP", root).revocationReason, 0, "the thief's batch revocation stands");
        assertEq(anchors.leafRevocation("EP", root, root), 0, "the thief's leaf revocation stands");
        (bool included, Batch memory b, uint8 leafReason,,) =
            anchors.verifyRecord("EP", root, abi.encode(uint256(0)), new bytes32[](0));
        assertTrue(included && b.revocationReason == 0 && leafReason == 0, "verifyRecord follows the thief");
        (bool ok, bytes memory ret) = address(anchors).staticcall(
            abi.encodeWithSignature("batchRevocation(bytes2,bytes32)", bytes2("EP"), root)
        );
        assertTrue(ok, "no attribution view");
        (uint8 reason, address by, uint64 atBlock, bool stands) = abi.decode(ret, (uint8, address, uint64, bool));
        assertTrue(reason == 3 && by == T && atBlock == 20 && !stands, "attribution wrong");
        // The office can revoke for itself.
        vm.prank(H);
        anchors.revokeBatch(root, 5);
        assertEq(anchors.batchOf("EP", root).revocationReason, 5, "the office's own revocation");
    }

    /// @notice N2: no revocation while the office is suspended.
    function test_N2_noRevocationWhileSuspended() public {
        bytes32 root = _leafRoot(0);
        _anchor(_key(4), root);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "suspend");
        vm.prank(_key(4));
        (bool ok,) = address(anchors).call(abi.encodeCall(anchors.revokeBatch, (root, 1)));
        assertTrue(!ok, "a suspended office revoked a batch");
        vm.prank(_key(4));
        (ok,) = address(anchors).call(
            abi.encodeCall(anchors.revokeLeaf, (root, abi.encode(uint256(0)), new bytes32[](0), 1))
        );
        assertTrue(!ok, "a suspended office revoked a record");
    }

    // ------------------------------------------------------------ N3

    /// @notice N3a: keys the thief nominated after its compromise, accepted or not, current or retired, are void.
    function test_N3a_keysNominatedByTheThiefAreVoid() public {
        _addKey(H, T);
        vm.roll(20);
        address t2 = _key(6);
        address t3 = _key(7);
        address t4 = _key(8);
        _addKey(T, t2);
        _addKey(T, t3);
        vm.roll(21);
        bytes32 f2 = _leafRoot(2);
        bytes32 f3 = _leafRoot(3);
        _anchor(t2, f2);
        _anchor(t3, f3);
        vm.prank(T);
        offices.removeSigner(t3); // retired: its forgery must still be caught
        _addKey(t2, t4); // a second generation
        vm.roll(22);
        bytes32 f4 = _leafRoot(4);
        _anchor(t4, f4);
        bytes32 honest = _leafRoot(5);
        _anchor(H, honest);
        assertTrue(_govern(_keys(0, 1, 2), Action.MarkCompromised, "EP", abi.encode(T, uint64(15))), "governance");
        assertTrue(offices.officeOf(t2) == bytes2(0) && offices.officeOf(t4) == bytes2(0), "void keys still sign");
        assertTrue(!_authorised("EP", f2) && !_authorised("EP", f3) && !_authorised("EP", f4), "a forgery verifies");
        assertTrue(_authorised("EP", honest), "the honest batch was lost");
        assertEq(offices.compromisedFrom("EP", t2), 20, "a void key's compromise is its acceptance");
        assertEq(offices.compromisedFrom("EP", H), 0, "the honest key was touched");
        assertEq(offices.signersOf("EP").length, 1, "only the honest key remains");
    }

    /// @notice N3a: a nominee of a key nominated before the theft stays valid.
    function test_N3a_nomineesBeforeTheTheftStand() public {
        _addKey(H, T);
        address early = _key(6);
        _addKey(T, early); // block 10, before the theft at 15
        vm.roll(20);
        assertTrue(_govern(_keys(0, 1, 2), Action.MarkCompromised, "EP", abi.encode(T, uint64(15))), "governance");
        assertTrue(offices.officeOf(early) == "EP", "an honest nominee was voided");
        assertEq(offices.compromisedFrom("EP", early), 0, "an honest nominee is marked");
    }

    /// @notice N3b: signers plus pending nominations are capped per office.
    function test_N3b_signerCap() public {
        for (uint256 i = 0; i < 7; ++i) {
            _addKey(H, _key(20 + i));
        }
        vm.prank(H);
        (bool ok,) = address(offices).call(abi.encodeCall(offices.addSigner, (_key(40))));
        assertTrue(!ok, "a ninth key was nominated");
        vm.prank(H);
        offices.removeSigner(_key(20));
        vm.prank(H);
        offices.addSigner(_key(40)); // a pending nomination takes the freed place
        vm.prank(H);
        (ok,) = address(offices).call(abi.encodeCall(offices.addSigner, (_key(41))));
        assertTrue(!ok, "pending nominations do not count");
    }

    /// @notice N3b: re-keying an office at the cap fits easily in a block (constant bound, whatever happened before).
    function test_N3b_recoveryGasAtTheCap() public {
        for (uint256 i = 0; i < 40; ++i) {
            // Long history: keys come and go.
            _addKey(H, _key(100 + i));
            vm.prank(H);
            offices.removeSigner(_key(100 + i));
        }
        for (uint256 i = 0; i < 7; ++i) {
            _addKey(H, _key(20 + i));
        }
        assertEq(offices.signersOf("EP").length, 8, "not at the cap");
        uint256[] memory k = _keys(1, 2, 0);
        vm.prank(_key(k[0]));
        uint256 id = offices.propose(Action.ReplaceSigners, "EP", abi.encode(_key(50)));
        bytes32 hash = offices.proposal(id).payloadHash;
        vm.prank(_key(2));
        offices.approve(id, hash);
        vm.prank(H);
        offices.approve(id, hash);
        uint256 g = gasleft();
        offices.execute(id);
        g -= gasleft();
        assertTrue(g < 1_000_000, "ReplaceSigners at the cap needs more than 1M gas");
        assertEq(offices.signersOf("EP").length, 0, "keys remain");
    }

    /// @notice N3: a nomination chain has at most MAX_CHAIN key-made links (the cascade walk is bounded).
    function test_N3_nominationChainIsCapped() public {
        address current = H;
        for (uint256 i = 0; i < 32; ++i) {
            address next = _key(200 + i);
            vm.prank(current);
            offices.rotateSigner(current, next);
            vm.prank(next);
            offices.acceptSigner("EP");
            current = next;
        }
        (,, uint8 depth) = offices.originOf("EP", current);
        assertEq(depth, 32, "depth");
        vm.prank(current);
        (bool ok,) = address(offices).call(abi.encodeCall(offices.addSigner, (_key(300))));
        assertTrue(!ok, "a 33rd key-made link was accepted");
        // Governance restarts the chain.
        assertTrue(_govern(_keys(1, 2, 3), Action.Suspend, "EP", ""), "suspend");
        assertTrue(_govern(_keys(1, 2, 3), Action.ReplaceSigners, "EP", abi.encode(_key(301))), "re-key");
        vm.prank(_key(301));
        offices.acceptSigner("EP");
        (,, depth) = offices.originOf("EP", _key(301));
        assertEq(depth, 0, "governance does not restart the chain");
    }

    // ------------------------------------------------------------ N4

    /// @notice N4: another payload never blocks an honest proposal.
    function test_N4_otherPayloadNeverBlocks() public {
        vm.prank(_key(4));
        offices.propose(Action.ReplaceSigners, "US", abi.encode(_key(9)));
        vm.prank(_key(0));
        (bool ok,) = address(offices).call(
            abi.encodeCall(offices.propose, (Action.ReplaceSigners, "US", abi.encode(_key(10))))
        );
        assertTrue(ok, "a squatter's payload blocked the honest proposal");
        vm.prank(_key(4));
        offices.propose(Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 4, 100)));
        vm.prank(_key(0));
        (ok,) = address(offices).call(
            abi.encodeCall(offices.propose, (Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 2, 200))))
        );
        assertTrue(ok, "a squatted SetRule blocked the honest one");
    }

    /// @notice N4: a suspended proposer's proposals cannot execute, and free their payload; the proposer cancels.
    function test_N4_suspendedProposerAndCancel() public {
        bytes memory payload = abi.encode(GovernanceRule(1, 2, 3, 100));
        vm.prank(_key(4));
        uint256 squat = offices.propose(Action.SetRule, bytes2(0), payload);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "suspend");
        bytes32 hash = offices.proposal(squat).payloadHash;
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(_key(i));
            offices.approve(squat, hash);
        }
        (bool ok,) = address(offices).call(abi.encodeCall(offices.execute, (squat)));
        assertTrue(!ok, "a suspended office's proposal executed");
        vm.prank(_key(0));
        (ok,) = address(offices).call(abi.encodeCall(offices.propose, (Action.SetRule, bytes2(0), payload)));
        assertTrue(ok, "the suspended proposer's payload is still blocked");
        vm.prank(_key(1));
        uint256 mine = offices.propose(Action.Suspend, "EM", "");
        (ok,) = _call(_key(0), address(offices), abi.encodeWithSignature("cancel(uint256)", mine));
        assertTrue(!ok, "another office withdrew a proposal");
        (ok,) = _call(_key(1), address(offices), abi.encodeWithSignature("cancel(uint256)", mine));
        assertTrue(ok, "the proposer could not withdraw");
        vm.prank(_key(2));
        (ok,) = address(offices).call(abi.encodeCall(offices.approve, (mine, offices.proposal(mine).payloadHash)));
        assertTrue(!ok, "a withdrawn proposal was approved");
    }

    // ------------------------------------------------------------ N5 / N6

    /// @notice N5: no office ever acts alone, whatever keys are marked.
    function test_N5_noOfficeActsAlone() public {
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "suspend WO");
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "EM", ""), "suspend EM");
        _markNow(_key(2), _key(2)); // JP's last key: 2 active remain
        _markNow(_key(1), _key(1)); // US's last key: must be refused
        assertTrue(offices.activeOfficeCount() >= 2, "fewer than two active offices");
        assertTrue(offices.requiredApprovals() >= 2, "one approval suffices");
        vm.prank(H);
        uint256 id = offices.propose(Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 2, 77)));
        (bool ok,) = address(offices).call(abi.encodeCall(offices.execute, (id)));
        assertTrue(!ok, "one office acted alone");
    }

    /// @notice N6: no rule makes every active office necessary (no single veto) with three or more.
    function test_N6_noUnanimity() public {
        assertTrue(
            _govern(_keys(0, 1, 2), Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 65535, 100))), "rule"
        );
        assertEq(offices.requiredApprovals(), 4, "five active offices need all five");
        assertTrue(_govern(_keys(0, 1, 2, 3), Action.SetRule, bytes2(0), abi.encode(GovernanceRule(9, 10, 2, 100))), "r");
        assertEq(offices.requiredApprovals(), 4, "9/10 is unanimity for five");
        assertTrue(_govern(_keys(0, 1, 2, 3), Action.Suspend, "WO", ""), "suspend WO");
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "EM", ""), "suspend EM");
        assertEq(offices.requiredApprovals(), 2, "three active offices need all three");
    }

    // ------------------------------------------------------------ N7 / N8

    /// @notice N7: a majority cannot re-key an active office without it; after suspending it, it can.
    function test_N7_rekeyNeedsOwnConsentOrSuspension() public {
        assertTrue(!_govern(_keys(1, 2, 3), Action.ReplaceSigners, "EP", abi.encode(_key(9))), "re-keyed EP");
        assertTrue(offices.officeOf(H) == "EP", "EP lost its key");
        assertTrue(!_govern(_keys(1, 2, 3), Action.MarkCompromised, "EP", abi.encode(H, uint64(1))), "EP rewritten");
        assertTrue(_govern(_keys(1, 2, 3), Action.Suspend, "EP", ""), "suspend EP");
        offices.execute(0); // the first proposal, refused while EP was active, now passes
        assertTrue(offices.officeOf(H) == bytes2(0), "EP was not re-keyed");
    }

    /// @notice N8: Freeze refuses a successor without code.
    function test_N8_freezeNeedsACodedSuccessor() public {
        vm.prank(H);
        (bool ok,) = address(offices).call(
            abi.encodeCall(offices.propose, (Action.Freeze, bytes2(0), abi.encode(address(0xBEEF))))
        );
        assertTrue(!ok, "an EOA successor was accepted");
        assertTrue(_govern(_keys(0, 1, 2), Action.Freeze, bytes2(0), abi.encode(address(anchors))), "freeze");
    }

    // ------------------------------------------------------------ N9 / N10

    /// @notice N9: events name the acting key (marks, revocations).
    function test_N9_eventsNameTheActingKey() public {
        _addKey(H, T);
        bytes32 root = _leafRoot(0);
        _anchor(H, root);
        vm.recordLogs();
        vm.prank(T);
        anchors.revokeBatch(root, 2);
        _markNow(H, T);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool revokedBy;
        bool markedBy;
        for (uint256 i = 0; i < logs.length; ++i) {
            for (uint256 j = 1; j < logs[i].topics.length; ++j) {
                if (logs[i].emitter == address(offices) && logs[i].topics[j] == bytes32(uint256(uint160(H)))) {
                    markedBy = markedBy || j == 3;
                }
            }
            if (logs[i].emitter == address(anchors) && logs[i].data.length == 32) {
                revokedBy = revokedBy || abi.decode(logs[i].data, (address)) == T;
            }
        }
        assertTrue(revokedBy, "no revocation event names the key");
        assertTrue(markedBy, "no mark event names the marking key");
    }

    /// @notice N10: a nomination lapses when its nominator stops being a signer.
    function test_N10_nominationsLapseWithTheirNominator() public {
        _addKey(H, T);
        vm.prank(T);
        offices.addSigner(_key(6));
        vm.prank(H);
        offices.removeSigner(T);
        vm.roll(2_000_000);
        vm.prank(_key(6));
        (bool ok,) = address(offices).call(abi.encodeCall(offices.acceptSigner, ("EP")));
        assertTrue(!ok, "a retired key's nomination was accepted");
    }
}

/// @notice Deterministic unit tests of the basic rules (each kills its mutant of scripts/mutate_contracts.py
///         without waiting for the invariant runs).
contract RulesTest is FindingsBase {
    function _proposeRule(uint256 proposer, uint64 ttl) internal returns (uint256 id, bytes32 hash) {
        vm.prank(_key(proposer));
        id = offices.propose(Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 2, ttl)));
        hash = offices.proposal(id).payloadHash;
    }

    function test_executeOnceApproveOnce() public {
        (uint256 id, bytes32 hash) = _proposeRule(0, 100);
        vm.prank(_key(1));
        offices.approve(id, hash);
        vm.prank(_key(1));
        (bool ok,) = address(offices).call(abi.encodeCall(offices.approve, (id, hash)));
        assertTrue(!ok, "an office approved twice");
        (ok,) = address(offices).call(abi.encodeCall(offices.execute, (id)));
        assertTrue(!ok, "executed with two approvals of five");
        vm.prank(_key(2));
        (ok,) = address(offices).call(abi.encodeCall(offices.approve, (id, keccak256("other"))));
        assertTrue(!ok, "an approval of another payload was accepted");
        vm.prank(_key(2));
        offices.approve(id, hash);
        offices.execute(id);
        (ok,) = address(offices).call(abi.encodeCall(offices.execute, (id)));
        assertTrue(!ok, "executed twice");
    }

    function test_unsafeRulesRefused() public {
        GovernanceRule[4] memory bad = [
            GovernanceRule(1, 2, 1, 100), // a single office could act
            GovernanceRule(1, 3, 2, 100), // a minority
            GovernanceRule(1, 2, 2, 0), // no expiry
            GovernanceRule(1, 2, 2, 1_000_001) // too long
        ];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.prank(H);
            (bool ok,) = address(offices).call(abi.encodeCall(offices.propose, (Action.SetRule, bytes2(0), abi.encode(bad[i]))));
            assertTrue(!ok, "an unsafe rule was proposed");
        }
    }

    function test_proposalsExpire() public {
        (uint256 id, bytes32 hash) = _proposeRule(0, 100);
        vm.roll(block.number + 101);
        vm.prank(_key(1));
        (bool ok,) = address(offices).call(abi.encodeCall(offices.approve, (id, hash)));
        assertTrue(!ok, "an expired proposal was approved");
    }

    function test_staleApprovalsDoNotCount() public {
        (uint256 id, bytes32 hash) = _proposeRule(0, 100);
        vm.prank(_key(4));
        offices.approve(id, hash);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "suspend");
        assertTrue(_govern(_keys(0, 1, 2), Action.Reinstate, "WO", ""), "reinstate");
        assertEq(offices.countedApprovals(id), 1, "an approval from before a suspension counts");
    }

    function test_suspendedOfficeNeitherAnchorsNorVotes() public {
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "suspend");
        vm.prank(_key(4));
        (bool ok,) = address(anchors).call(abi.encodeCall(anchors.anchorBatch, (_leafRoot(1), 1, "m")));
        assertTrue(!ok, "a suspended office anchored");
        vm.prank(_key(4));
        (ok,) = address(offices).call(
            abi.encodeCall(offices.propose, (Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 2, 9))))
        );
        assertTrue(!ok, "a suspended office proposed");
    }

    function test_lastKeyRootsRevocationsAndFreeze() public {
        vm.prank(H);
        (bool ok,) = address(offices).call(abi.encodeCall(offices.removeSigner, (H)));
        assertTrue(!ok, "the last key was removed");
        bytes32 root = _leafRoot(3);
        _anchor(H, root);
        vm.prank(H);
        (ok,) = address(anchors).call(abi.encodeCall(anchors.anchorBatch, (root, 2, "again")));
        assertTrue(!ok, "a root was anchored twice by its office");
        vm.prank(H);
        anchors.revokeBatch(root, 1);
        vm.prank(H);
        (ok,) = address(anchors).call(abi.encodeCall(anchors.revokeBatch, (root, 2)));
        assertTrue(!ok, "revoked twice");
        assertTrue(_govern(_keys(0, 1, 2), Action.Freeze, bytes2(0), abi.encode(address(anchors))), "freeze");
        vm.prank(H);
        (ok,) = address(anchors).call(abi.encodeCall(anchors.anchorBatch, (_leafRoot(4), 1, "m")));
        assertTrue(!ok, "anchored after the freeze");
    }

    function test_governanceReplacesPendingNominations() public {
        assertTrue(_govern(_keys(1, 2, 3), Action.Suspend, "EP", ""), "suspend");
        assertTrue(_govern(_keys(1, 2, 3), Action.ReplaceSigners, "EP", abi.encode(_key(30))), "first");
        assertTrue(_govern(_keys(1, 2, 3), Action.ReplaceSigners, "EP", abi.encode(_key(31))), "second");
        assertEq(offices.pendingNominees("EP").length, 1, "the first nominee still pending");
        vm.prank(_key(30));
        (bool ok,) = address(offices).call(abi.encodeCall(offices.acceptSigner, ("EP")));
        assertTrue(!ok, "a replaced governance nomination was accepted");
    }

    function test_lapsedNominationsLeaveTheCap() public {
        _addKey(H, T);
        vm.prank(T);
        offices.addSigner(_key(6));
        vm.prank(H);
        offices.removeSigner(T);
        assertEq(offices.pendingNominees("EP").length, 0, "a lapsed nomination still takes a place");
    }

    /// @notice A mark whose cascade would empty an office may not leave fewer than two active offices.
    function test_N5_cascadeCannotLeaveOneOffice() public {
        vm.roll(20);
        _addKey(H, T);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "WO", ""), "WO");
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, "EM", ""), "EM");
        assertTrue(_govern(_keys(0, 1), Action.Suspend, "JP", ""), "JP");
        assertEq(offices.activeOfficeCount(), 2, "two active");
        vm.prank(H);
        (bool ok,) = address(offices).call(abi.encodeCall(offices.propose, (Action.Suspend, "US", "")));
        assertTrue(!ok, "a suspension to one active office was proposed");
        assertTrue(!_govern(_keys(0, 1), Action.MarkCompromised, "EP", abi.encode(H, uint64(15))), "one office left");
        assertEq(offices.activeOfficeCount(), 2, "two active");
    }
}
