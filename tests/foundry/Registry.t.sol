// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {IAnchorRegistry} from "../../contracts/IAnchorRegistry.sol";
import {IOfficeRegistry} from "../../contracts/IOfficeRegistry.sol";
import {Action, Batch, GovernanceRule} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {TestBase} from "./Vm.sol";

/// @notice Fuzz tests of single properties.
contract RegistryFuzz is TestBase {
    OfficeRegistry internal offices;
    AnchorRegistry internal anchors;

    function setUp() public {
        (offices, anchors) = Fixture.deploy(vm);
    }

    function _key(uint256 i) internal pure returns (address) {
        return Fixture.key(vm, i);
    }

    /// @notice No office can pre-empt another's root: the owner's batch stands whoever anchored first.
    function testFuzz_noPreemption(bytes32 root, uint8 attacker, uint8 owner, uint32 leafCount) public {
        vm.assume(root != bytes32(0) && root != keccak256("x") && leafCount != 0);
        uint256 a = attacker % 5;
        uint256 o = owner % 5;
        vm.assume(a != o);
        vm.prank(_key(a));
        anchors.anchorBatch(root, leafCount, "copied from the mempool");
        vm.roll(block.number + 1);
        vm.prank(_key(o));
        anchors.anchorBatch(root, leafCount, "owner");
        Batch memory b = anchors.batchOf(Fixture.codes()[o], root);
        assertTrue(b.signer == _key(o) && b.office == Fixture.codes()[o], "owner's batch missing");
        vm.prank(_key(a));
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.UnknownBatch.selector, Fixture.codes()[a], keccak256("x")));
        anchors.revokeBatch(keccak256("x"), 1);
    }

    /// @notice The contract computes the leaf from the values: a root or inner node never passes as a leaf.
    function testFuzz_leafFromValues(bytes calldata values, bytes32 sibling) public {
        bytes32 leaf = keccak256(bytes.concat(keccak256(values)));
        bytes32 root = sibling < leaf ? keccak256(abi.encode(sibling, leaf)) : keccak256(abi.encode(leaf, sibling));
        vm.prank(_key(0));
        anchors.anchorBatch(root, 2, "m");
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = sibling;
        (bool included,,, bytes32 computed,) = anchors.verifyRecord("EP", root, values, proof);
        assertTrue(included && computed == leaf, "a real leaf does not verify");
        bytes32[] memory none = new bytes32[](0);
        (bool rootAsLeaf,,,,) = anchors.verifyRecord("EP", root, abi.encodePacked(root), none);
        assertTrue(!rootAsLeaf, "the root with an empty proof passed as a leaf");
        (bool innerAsLeaf,,,,) = anchors.verifyRecord("EP", root, abi.encodePacked(leaf), proof);
        assertTrue(!innerAsLeaf, "a node passed as a leaf");
        vm.prank(_key(0));
        vm.expectRevert(abi.encodeWithSelector(IAnchorRegistry.LeafNotInBatch.selector, root, keccak256(bytes.concat(keccak256(abi.encodePacked(root))))));
        anchors.revokeLeaf(root, abi.encodePacked(root), none, 1);
    }

    /// @notice Gas of anchorBatch does not depend on the leaf count.
    function testFuzz_anchorGasFlat(uint32 leafCount) public {
        vm.assume(leafCount != 0);
        vm.prank(_key(1));
        anchors.anchorBatch(keccak256("warm-up"), 1, "m");
        vm.prank(_key(1));
        uint256 g1 = gasleft();
        anchors.anchorBatch(keccak256("a"), 1, "m");
        g1 -= gasleft();
        vm.prank(_key(1));
        uint256 g2 = gasleft();
        anchors.anchorBatch(keccak256("b"), leafCount, "m");
        g2 -= gasleft();
        assertTrue(g1 > g2 ? g1 - g2 < 200 : g2 - g1 < 200, "gas depends on the leaf count");
    }

    /// @notice Unsafe rules are refused by the constructor and by SetRule.
    function testFuzz_unsafeRulesRefused(uint16 num, uint16 den, uint16 floor, uint64 ttl) public {
        bool safe = den != 0 && uint256(num) * 2 >= den && num < den && floor >= 2 && ttl != 0 && ttl <= 1_000_000;
        GovernanceRule memory r = GovernanceRule(num, den, floor, ttl);
        vm.prank(_key(0));
        if (!safe) {
            vm.expectRevert(abi.encodeWithSelector(IOfficeRegistry.UnsafeRule.selector, num, den, floor, ttl));
        }
        offices.propose(Action.SetRule, bytes2(0), abi.encode(r));
    }

    /// @notice The rule never asks more than the active offices, and never lets one office act alone.
    function testFuzz_requiredApprovals(uint8 suspensions) public {
        bytes2[] memory codes = Fixture.codes();
        uint256 n = suspensions % 4;
        for (uint256 s = 0; s < n; ++s) {
            bytes2 target = codes[4 - s];
            uint256 need = offices.requiredApprovals();
            vm.prank(_key(0));
            uint256 id = offices.propose(Action.Suspend, target, "");
            bytes32 hash = offices.proposal(id).payloadHash;
            for (uint256 j = 1; j < need; ++j) {
                vm.prank(_key(j));
                offices.approve(id, hash);
            }
            if (offices.activeOfficeCount() - 1 < 2) {
                vm.expectRevert(abi.encodeWithSelector(IOfficeRegistry.GovernanceWouldStall.selector, 1, 2));
            }
            offices.execute(id);
            uint256 active = offices.activeOfficeCount();
            uint256 required = offices.requiredApprovals();
            assertTrue(required <= active && (active < 2 || required >= 2), "rule out of bounds");
            assertTrue(required * 2 > active, "less than a majority");
        }
    }

    /// @notice wasSignerAt agrees with the terms for any sequence of additions and removals (keys are never
    ///         reused within an office, so each key has at most one term).
    function testFuzz_signerTerms(uint8[8] calldata gaps) public {
        uint256[16] memory edges;
        for (uint256 i = 0; i < 8; ++i) {
            address k = _key(7 + i);
            vm.roll(block.number + 1 + (gaps[i] % 5));
            vm.prank(_key(0));
            offices.addSigner(k);
            vm.prank(k);
            offices.acceptSigner("EP");
            edges[2 * i] = block.number;
            vm.roll(block.number + 1 + (gaps[i] >> 4));
            vm.prank(_key(0));
            offices.removeSigner(k);
            edges[2 * i + 1] = block.number;
            vm.prank(_key(0));
            vm.expectRevert(abi.encodeWithSelector(IOfficeRegistry.KeyAlreadyUsed.selector, k, bytes2("EP")));
            offices.addSigner(k);
        }
        uint256 last = block.number + 2;
        for (uint256 i = 0; i < 8; ++i) {
            address k = _key(7 + i);
            for (uint256 b = 0; b <= last; ++b) {
                bool expected = edges[2 * i] <= b && b <= edges[2 * i + 1];
                assertTrue(offices.wasSignerAt("EP", k, b) == expected, "wasSignerAt disagrees with the terms");
            }
        }
    }
}
