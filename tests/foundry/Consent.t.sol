// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Action} from "../../contracts/Common.sol";
import {FindingsBase} from "./Findings.t.sol";
import {Vm} from "./Vm.sol";

/// @notice The office consent rule of 3.1.0 (the governance story of the evaluation, findings a-c): a majority
///         never changes, without the office's own approval, the verdict of a record the office made while
///         active. New errors, events and views are reached by selector, so that this file also compiles
///         against 3.0.0 and fails there (scripts/mutate_contracts.py --baseline).
contract ConsentTest is FindingsBase {
    bytes4 internal constant OFFICE_CONSENT_MISSING = bytes4(keccak256("OfficeConsentMissing(uint256,bytes2)"));
    bytes4 internal constant MARK_BEFORE_DEACTIVATION =
        bytes4(keccak256("MarkBeforeDeactivation(uint256,bytes2,address,uint64,uint64)"));
    bytes4 internal constant FROZEN_CONSENT_MISSING =
        bytes4(keccak256("FrozenRegistryConsentMissing(uint256,bytes2,uint256)"));
    bytes32 internal constant ACTED_WITHOUT_CONSENT = keccak256("ActedWithoutConsent(uint256,uint8,bytes2)");

    // Keys 0..4: EP, US, JP, EM, WO. The colluding majority: EP, US, JP. The victim: WO.
    bytes2 internal constant WO = "WO";

    function _wo() internal pure returns (address) {
        return _key(4);
    }

    /// @dev Propose with `keys[0]`, approve with the others; the proposal id (not executed).
    function _proposeApproved(uint256[] memory keys, Action action, bytes2 code, bytes memory payload)
        internal
        returns (uint256 id)
    {
        vm.prank(_key(keys[0]));
        id = offices.propose(action, code, payload);
        bytes32 hash = offices.proposal(id).payloadHash;
        for (uint256 i = 1; i < keys.length; ++i) {
            vm.prank(_key(keys[i]));
            offices.approve(id, hash);
        }
    }

    /// @dev Execute `id`; the revert data ("" on success).
    function _execute(uint256 id) internal returns (bool ok, bytes memory ret) {
        (ok, ret) = address(offices).call(abi.encodeCall(offices.execute, (id)));
    }

    function _deactivatedAt(bytes2 code) internal view returns (uint64) {
        (bool ok, bytes memory ret) =
            address(offices).staticcall(abi.encodeWithSignature("deactivatedAt(bytes2)", code));
        assertTrue(ok, "no deactivatedAt view");
        return abi.decode(ret, (uint64));
    }

    function _announced(Vm.Log[] memory logs, uint256 id, Action action, bytes2 code) internal view returns (bool) {
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            if (l.emitter != address(offices) || l.topics.length != 3 || l.topics[0] != ACTED_WITHOUT_CONSENT) continue;
            if (uint256(l.topics[1]) == id && l.topics[2] == bytes32(code) && abi.decode(l.data, (Action)) == action) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------ (a) earlier records of a suspended office

    /// @notice (a) Refused while WO is active, the majority's retroactive mark of WO's key stays refused after
    ///         it suspends WO: without WO's approval a mark starts after WO's deactivation, so WO's day-0 record
    ///         stays VERIFIED (3.0.0: the suspension let the same proposal through, UNAUTHORISED).
    function test_consent_suspensionDoesNotOpenTheVictimsPast() public {
        bytes32 root = _leafRoot(40);
        uint64 anchoredAt = _anchor(_wo(), root);
        vm.roll(20);
        uint256 id = _proposeApproved(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(1)));
        (bool ok, bytes memory ret) = _execute(id);
        assertTrue(!ok && keccak256(ret) == keccak256(abi.encodeWithSelector(OFFICE_CONSENT_MISSING, id, WO)), "active");
        vm.roll(30);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, WO, ""), "the majority could not suspend WO");
        (ok, ret) = _execute(id);
        assertTrue(!ok, "the majority's retroactive mark passed once WO was suspended");
        assertEq(_deactivatedAt(WO), 30, "deactivatedAt is not the suspension block");
        assertTrue(
            keccak256(ret)
                == keccak256(abi.encodeWithSelector(MARK_BEFORE_DEACTIVATION, id, WO, _wo(), uint64(1), uint64(30))),
            "the refusal does not name the proposal, office, key, mark block and deactivation block"
        );
        // In the suspension block itself WO may have acted before it was suspended: still refused.
        vm.roll(35);
        assertTrue(
            !_govern(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(30))), "mark from 30"
        );
        assertTrue(_authorised(WO, root), "WO's record made while active changed verdict");
        assertTrue(offices.isAuthorisedAt(WO, _wo(), anchoredAt), "isAuthorisedAt changed");
        // After the deactivation: a stop for a suspended office's lost key stays possible.
        assertTrue(_govern(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(31))), "mark from 31");
        assertEq(offices.compromisedFrom(WO, _wo()), 31, "the mark is not from 31");
        assertTrue(_authorised(WO, root), "WO's record changed verdict");
    }

    /// @notice (a) for every suspension block and mark block: without the office's approval a mark executes
    ///         exactly when it starts after the office's deactivation, and the office's record never changes.
    function testFuzz_consent_markWithoutConsentNeverBeforeDeactivation(uint256 suspendSeed, uint256 fromSeed)
        public
    {
        bytes32 root = _leafRoot(41);
        _anchor(_wo(), root);
        vm.roll(10 + bound(suspendSeed, 0, 50));
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, WO, ""), "suspend");
        uint64 suspendedAt = uint64(block.number);
        vm.roll(block.number + 30);
        uint64 fromBlock = uint64(bound(fromSeed, 1, block.number));
        bool ok = _govern(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), fromBlock));
        assertTrue(ok == (fromBlock > suspendedAt), "a mark without consent started at or before the deactivation");
        assertTrue(_authorised(WO, root), "WO's record made while active changed verdict");
    }

    // ------------------------------------------------------------ (b) a frozen registry

    /// @notice (b) After the freeze the majority suspends WO; it can neither mark WO's key (from any block) nor
    ///         re-key WO there without WO's approval, so the frozen registry's records keep their verdicts. With
    ///         the office's own approval a frozen registry still takes a retroactive mark.
    function test_consent_frozenRegistryRefusesWithoutTheOffice() public {
        bytes32 root = _leafRoot(42);
        _anchor(_wo(), root);
        vm.roll(20);
        assertTrue(_govern(_keys(0, 1, 2), Action.Freeze, bytes2(0), abi.encode(address(anchors))), "freeze");
        vm.roll(30);
        assertTrue(_govern(_keys(0, 1, 2), Action.Suspend, WO, ""), "suspend WO after the freeze");
        vm.roll(40);
        uint256 early = _proposeApproved(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(1)));
        uint256 late = _proposeApproved(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(31)));
        uint256 rekey = _proposeApproved(_keys(0, 1, 2), Action.ReplaceSigners, WO, abi.encode(_key(9)));
        uint256[3] memory ids = [early, late, rekey];
        for (uint256 i = 0; i < 3; ++i) {
            (bool ok, bytes memory ret) = _execute(ids[i]);
            assertTrue(!ok, "the frozen registry's majority acted on WO without it");
            assertTrue(
                keccak256(ret) == keccak256(abi.encodeWithSelector(FROZEN_CONSENT_MISSING, ids[i], WO, uint256(20))),
                "the refusal does not name the proposal, office and freeze block"
            );
        }
        assertTrue(_authorised(WO, root), "a frozen registry's record changed verdict");
        assertTrue(offices.officeOf(_wo()) == WO, "WO was re-keyed");
        // EM's own approval: EM's retroactive mark goes through in the frozen registry.
        address em = _key(3);
        vm.roll(41);
        assertTrue(_govern(_keys(0, 3, 1), Action.MarkCompromised, "EM", abi.encode(em, uint64(15))), "EM consented");
        assertEq(offices.compromisedFrom("EM", em), 15, "EM's consented mark");
    }

    // ------------------------------------------------------------ (c) recovery stays possible, and is announced

    /// @notice (c) Suspend, replace the signers, reinstate: the lost-key recovery path still works, and each
    ///         step taken without WO's approval (suspension, re-keying, mark) is announced on chain
    ///         (`ActedWithoutConsent`), so monitors alert WO and every watcher.
    function test_consent_recoveryStaysPossibleAndIsAnnounced() public {
        vm.recordLogs();
        uint256 suspend = _proposeApproved(_keys(0, 1, 2), Action.Suspend, WO, "");
        (bool ok,) = _execute(suspend);
        assertTrue(ok, "suspend");
        vm.roll(20);
        uint256 rekey = _proposeApproved(_keys(0, 1, 2), Action.ReplaceSigners, WO, abi.encode(_key(9)));
        (ok,) = _execute(rekey);
        assertTrue(ok, "the recovery's re-keying of a suspended office was refused");
        vm.roll(21);
        uint256 mark = _proposeApproved(_keys(0, 1, 2), Action.MarkCompromised, WO, abi.encode(_wo(), uint64(21)));
        (ok,) = _execute(mark);
        assertTrue(ok, "a mark after the deactivation was refused");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertTrue(_announced(logs, suspend, Action.Suspend, WO), "the suspension without WO is not announced");
        assertTrue(_announced(logs, rekey, Action.ReplaceSigners, WO), "the re-keying without WO is not announced");
        assertTrue(_announced(logs, mark, Action.MarkCompromised, WO), "the mark without WO is not announced");
        vm.prank(_key(9));
        offices.acceptSigner(WO);
        assertTrue(_govern(_keys(0, 1, 2), Action.Reinstate, WO, ""), "reinstate");
        vm.roll(30);
        bytes32 root = _leafRoot(44);
        _anchor(_key(9), root);
        assertTrue(_authorised(WO, root), "the recovered office cannot anchor");
    }
}
