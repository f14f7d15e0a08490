// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {Action, Batch, GovernanceRule, OfficeStatus, Revocation} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {Handler} from "./Handler.sol";
import {TestBase} from "./Vm.sol";

/// @notice Invariants over random sequences of governance, signer, anchoring and revocation actions; the
///         handler predicts every call's success or refusal from its model (invariant_everyCallAsPredicted).
contract RegistryInvariants is TestBase {
    OfficeRegistry internal offices;
    AnchorRegistry internal anchors;
    Handler internal handler;

    error ProbeSucceeded();

    /// @notice Gas within which ReplaceSigners of any office must always run (a 30M block holds 30 of them).
    uint256 public constant RECOVERY_GAS = 1_000_000;

    function setUp() public {
        (offices, anchors) = Fixture.deploy(vm);
        handler = new Handler(offices, anchors);
    }

    /// @notice Forge's selector filter (same ABI as forge-std's StdInvariant.FuzzSelector).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    /// @notice Forge fuzzes the handler only.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice ... and only its actions (not its model getters).
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](15);
        s[0] = Handler.propose.selector;
        s[1] = Handler.approve.selector;
        s[2] = Handler.approveMany.selector;
        s[3] = Handler.execute.selector;
        s[4] = Handler.cancel.selector;
        s[5] = Handler.addSigner.selector;
        s[6] = Handler.acceptAny.selector;
        s[7] = Handler.cancelNomination.selector;
        s[8] = Handler.removeSigner.selector;
        s[9] = Handler.markCompromised.selector;
        s[10] = Handler.anchor.selector;
        s[11] = Handler.revoke.selector;
        s[12] = Handler.roll.selector;
        s[13] = Handler.approveMany.selector; // governance needs several approvals: weigh it twice
        s[14] = Handler.majorityAgainst.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice Every call succeeded exactly when the model said it would (no wrongful success or refusal).
    function invariant_everyCallAsPredicted() public view {
        string memory failure = handler.failure();
        assertTrue(bytes(failure).length == 0, failure);
    }

    /// @notice No single office acts alone: at least two active offices, at least two approvals, never all
    ///         of three or more (no single veto); the contract's count and rule equal the model's.
    function invariant_noSingleOfficeActsAlone() public view {
        uint256 active = offices.activeOfficeCount();
        uint256 required = offices.requiredApprovals();
        assertEq(active, handler.ghostActiveCount(), "active offices differ from the model");
        assertEq(required, handler.ghostRequired(), "required approvals differ from the model");
        assertTrue(active >= 2, "fewer than two active offices");
        assertTrue(required >= 2, "one approval suffices");
        if (active >= 3) assertTrue(required < active, "every active office is needed (a single veto)");
    }

    /// @notice Governance can always act: the active offices alone pass a proposal (tried for real in a
    ///         call that is then rolled back).
    function invariant_governanceCanAlwaysAct() public {
        (bool ok, bytes memory data) = address(this).call(abi.encodeCall(this.probeGovernance, ()));
        assertTrue(!ok && data.length == 4 && bytes4(data) == ProbeSucceeded.selector, "active offices could not act");
    }

    /// @notice Propose a fresh payload (never blocked by another), approve with just enough active offices,
    ///         execute; then revert everything.
    function probeGovernance() external {
        bytes2[] memory codes = offices.officeCodes();
        uint256 required = offices.requiredApprovals();
        uint256 id;
        uint256 approvals;
        for (uint256 i = 0; i < codes.length && approvals < required; ++i) {
            address[] memory signers = offices.signersOf(codes[i]);
            (,, OfficeStatus status) = offices.office(codes[i]);
            if (status != OfficeStatus.Active || signers.length == 0) continue;
            if (approvals == 0) {
                vm.prank(signers[0]);
                id = offices.propose(Action.SetRule, bytes2(0), abi.encode(GovernanceRule(1, 2, 2, 777)));
            } else {
                bytes32 hash = offices.proposal(id).payloadHash;
                vm.prank(signers[0]);
                offices.approve(id, hash);
            }
            ++approvals;
        }
        offices.execute(id);
        assertTrue(offices.rule().ttlBlocks == 777, "the rule did not change");
        revert ProbeSucceeded();
    }

    /// @notice Recovery gas is independent of the key set: every office stays within the cap, and
    ///         ReplaceSigners of the office with the most keys (tried, then rolled back) fits RECOVERY_GAS.
    function invariant_recoveryGasIndependentOfTheKeySet() public {
        bytes2[] memory codes = offices.officeCodes();
        bytes2 biggest;
        uint256 most;
        for (uint256 i = 0; i < codes.length; ++i) {
            uint256 n = offices.signersOf(codes[i]).length + offices.pendingNominees(codes[i]).length;
            assertTrue(n <= offices.MAX_SIGNERS(), "an office exceeds the signer cap");
            assertEq(offices.signersOf(codes[i]).length, handler.ghostSignerCount(codes[i]), "signers differ");
            assertEq(offices.pendingNominees(codes[i]).length, handler.ghostPendingCount(codes[i]), "pending differ");
            if (n > most && offices.activeOfficeCount() >= 3) (most, biggest) = (n, codes[i]);
        }
        assertTrue(handler.maxRecoveryGas() < RECOVERY_GAS, "a ReplaceSigners execution exceeded the bound");
        if (biggest == bytes2(0)) return;
        (bool ok, bytes memory data) = address(this).call(abi.encodeCall(this.probeRecovery, (biggest)));
        assertTrue(!ok && data.length == 36, "recovery probe failed");
        uint256 gas = abi.decode(_tail(data), (uint256));
        assertTrue(gas < RECOVERY_GAS, "ReplaceSigners of the biggest office exceeds the bound");
    }

    error RecoveryGas(uint256 gas);

    /// @notice ReplaceSigners of `target` approved by it (if active) and enough others; reverts with its gas.
    function probeRecovery(bytes2 target) external {
        bytes2[] memory codes = offices.officeCodes();
        uint256 id = type(uint256).max;
        for (uint256 i = 0; i < codes.length; ++i) {
            address[] memory signers = offices.signersOf(codes[i]);
            (,, OfficeStatus status) = offices.office(codes[i]);
            if (status != OfficeStatus.Active || signers.length == 0) continue;
            if (id == type(uint256).max) {
                bytes memory payload = abi.encode(vm.addr(0xF00D));
                vm.prank(signers[0]);
                id = offices.propose(Action.ReplaceSigners, target, payload);
            } else {
                bytes32 hash = offices.proposal(id).payloadHash;
                vm.prank(signers[0]);
                offices.approve(id, hash);
            }
        }
        uint256 gas = gasleft();
        offices.execute(id);
        revert RecoveryGas(gas - gasleft());
    }

    /// @notice Only approvals of offices active at execution (and since approving) count.
    function invariant_onlyActiveApprovalsCount() public view {
        uint256 n = handler.proposalCount();
        for (uint256 id = 0; id < n; ++id) {
            if (!handler.ghostProposalLive(id)) continue;
            assertEq(offices.countedApprovals(id), handler.ghostCounted(id), "counted approvals differ from the model");
        }
    }

    /// @notice 3.1.0: governance never changes, without the office's own counted approval, the verdict of a
    ///         batch of that office (whether it is authorised, whether its revocations stand), and the
    ///         contract agrees with the model on the block each office last stopped being active.
    function invariant_noVerdictChangesWithoutConsent() public view {
        assertEq(handler.verdictsChangedWithoutConsent(), 0, "a majority changed a verdict without the office");
        for (uint256 c = 0; c < 8; ++c) {
            bytes2 office = handler.codeAt(c);
            (bool ok, bytes memory ret) =
                address(offices).staticcall(abi.encodeWithSignature("deactivatedAt(bytes2)", office));
            assertTrue(ok, "no deactivatedAt view"); // by selector: the suite also compiles against 3.0.0
            assertEq(abi.decode(ret, (uint64)), handler.ghostDeactivatedAt(office), "deactivatedAt != model");
        }
    }

    /// @notice A batch never changes after anchoring; its revocations are those of the model that stand.
    function invariant_batchNeverChanges() public view {
        uint256 n = handler.batchCount();
        for (uint256 i = 0; i < n; ++i) {
            Handler.GhostBatch memory g = handler.ghostBatch(i);
            Batch memory b = anchors.batchOf(g.office, g.root);
            assertTrue(b.office == g.office && b.signer == g.signer, "batch owner changed");
            assertEq(b.timestamp, g.timestamp, "batch timestamp changed");
            assertEq(b.blockNumber, g.blockNumber, "batch block changed");
            assertEq(b.leafCount, 1, "batch leaf count changed");
            assertEq(b.revocationReason, handler.ghostStanding(g.office, g.batchRev), "batch revocation != model");
            bytes32[] memory proof = new bytes32[](0);
            (bool included, Batch memory vb, uint8 leafReason, bytes32 leaf,) =
                anchors.verifyRecord(g.office, g.root, abi.encode(g.seed), proof);
            assertTrue(included && leaf == g.root, "the anchored record does not verify");
            assertEq(vb.revocationReason, b.revocationReason, "verifyRecord and batchOf disagree");
            assertEq(leafReason, handler.ghostStanding(g.office, g.leafRev), "leaf revocation != model");
            assertEq(anchors.leafRevocation(g.office, g.root, leaf), leafReason, "leafRevocation != verifyRecord");
            Revocation memory r = anchors.batchRevocation(g.office, g.root);
            assertTrue(r.reason == g.batchRev.reason && r.by == g.batchRev.by && r.atBlock == g.batchRev.atBlock, "attr");
            assertTrue(r.stands == (handler.ghostStanding(g.office, g.batchRev) != 0), "stands != model");
            (bool rootAsLeaf,,,,) = anchors.verifyRecord(g.office, g.root, abi.encode(g.root), proof);
            assertTrue(!rootAsLeaf, "the root passed as a leaf");
        }
    }

    /// @notice What a key did from its compromise block on does not stand: no batch it anchored then is
    ///         authorised, no revocation it made then counts (compromise as the model computes it).
    function invariant_compromisedKeysActsDoNotStand() public view {
        uint256 n = handler.batchCount();
        bytes32[] memory proof = new bytes32[](0);
        for (uint256 i = 0; i < n; ++i) {
            Handler.GhostBatch memory g = handler.ghostBatch(i);
            uint64 from = handler.ghostCompromisedFrom(g.office, g.signer);
            (,,,, bool authorised) = anchors.verifyRecord(g.office, g.root, abi.encode(g.seed), proof);
            if (from != 0 && g.blockNumber >= from) assertTrue(!authorised, "a compromised key's batch verifies");
            if (g.batchRev.reason != 0) {
                uint64 f = handler.ghostCompromisedFrom(g.office, g.batchRev.by);
                if (f != 0 && g.batchRev.atBlock >= f) {
                    assertEq(anchors.batchOf(g.office, g.root).revocationReason, 0, "a compromised key's revocation");
                }
            }
            if (g.leafRev.reason != 0) {
                uint64 f = handler.ghostCompromisedFrom(g.office, g.leafRev.by);
                if (f != 0 && g.leafRev.atBlock >= f) {
                    assertEq(anchors.leafRevocation(g.office, g.root, g.root), 0, "a compromised key's leaf revocation");
                }
            }
        }
    }

    /// @notice A record anchored by a key is authorised exactly when that key was valid and not compromised
    ///         at its block (every batch; every key and office at the latest batch's block).
    function invariant_authorisedExactlyWhenValid() public view {
        uint256 n = handler.batchCount();
        bytes32[] memory proof = new bytes32[](0);
        for (uint256 i = 0; i < n; ++i) {
            Handler.GhostBatch memory g = handler.ghostBatch(i);
            bool expected = handler.ghostAuthorised(g.office, g.signer, g.blockNumber);
            assertTrue(handler.ghostWasSigner(g.office, g.signer, g.blockNumber), "anchored by a non-signer");
            (,,,, bool authorised) = anchors.verifyRecord(g.office, g.root, abi.encode(g.seed), proof);
            assertTrue(authorised == expected, "verifyRecord authorisation differs from the model");
        }
        uint256 atBlock = n == 0 ? block.number : handler.ghostBatch(n - 1).blockNumber;
        for (uint256 k = 0; k < handler.KEYS(); ++k) {
            address key = handler.keyAt(k);
            assertTrue(offices.officeOf(key) == handler.ghostOfficeOf(key), "officeOf != model");
            for (uint256 c = 0; c < 8; ++c) {
                bytes2 office = handler.codeAt(c);
                assertEq(offices.compromisedFrom(office, key), handler.ghostCompromisedFrom(office, key), "mark");
                assertTrue(offices.isAuthorisedAt(office, key, atBlock) == handler.ghostAuthorised(office, key, atBlock), "auth");
                assertTrue(offices.wasSignerAt(office, key, atBlock) == handler.ghostWasSigner(office, key, atBlock), "term");
            }
        }
    }

    function _tail(bytes memory data) private pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 i = 0; i < out.length; ++i) {
            out[i] = data[i + 4];
        }
    }
}
