// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {Action, Batch, OfficeStatus} from "../../contracts/Common.sol";
import {Fixture} from "./Fixture.sol";
import {Handler} from "./Handler.sol";
import {TestBase} from "./Vm.sol";

/// @notice Invariants over random sequences of governance, signer, anchoring and revocation actions.
contract RegistryInvariants is TestBase {
    OfficeRegistry internal offices;
    AnchorRegistry internal anchors;
    Handler internal handler;

    error ProbeSucceeded();

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
        bytes4[] memory s = new bytes4[](11);
        s[0] = Handler.propose.selector;
        s[1] = Handler.approve.selector;
        s[2] = Handler.approveMany.selector;
        s[3] = Handler.execute.selector;
        s[4] = Handler.addSigner.selector;
        s[5] = Handler.acceptAny.selector;
        s[6] = Handler.removeSigner.selector;
        s[7] = Handler.markCompromised.selector;
        s[8] = Handler.anchor.selector;
        s[9] = Handler.revoke.selector;
        s[10] = Handler.roll.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice Governance can always act while two or more offices are active: the active offices alone
    ///         pass a proposal (tried for real in a call that is then rolled back).
    function invariant_governanceCanAlwaysAct() public {
        uint256 active = offices.activeOfficeCount();
        uint256 required = offices.requiredApprovals();
        assertTrue(required <= active, "required approvals exceed the active offices");
        if (active < 2) return;
        assertTrue(required >= 2, "a single office could act while two are active");
        (bool ok, bytes memory data) = address(this).call(abi.encodeCall(this.probeGovernance, ()));
        assertTrue(!ok && data.length == 4 && bytes4(data) == ProbeSucceeded.selector, "active offices could not act");
    }

    /// @notice Propose, approve with just enough active offices, execute; then revert everything.
    function probeGovernance() external {
        bytes2[] memory codes = offices.officeCodes();
        uint256 required = offices.requiredApprovals();
        uint256 id;
        uint256 approvals;
        for (uint256 i = 0; i < codes.length && approvals < required; ++i) {
            (,, OfficeStatus status) = offices.office(codes[i]);
            address[] memory signers = offices.signersOf(codes[i]);
            if (status != OfficeStatus.Active || signers.length == 0) continue;
            if (approvals == 0) {
                vm.prank(signers[0]);
                id = offices.propose(Action.Freeze, bytes2(0), abi.encode(address(anchors)));
            } else {
                bytes32 hash = offices.proposal(id).payloadHash;
                vm.prank(signers[0]);
                offices.approve(id, hash);
            }
            ++approvals;
        }
        offices.execute(id);
        assertTrue(offices.frozenAt() == block.number, "freeze did not happen");
        revert ProbeSucceeded();
    }

    /// @notice Only approvals of offices active at execution (and since approving) count.
    function invariant_onlyActiveApprovalsCount() public view {
        assertTrue(!handler.badExecution(), "an execution or approval the model forbids succeeded");
        uint256 n = handler.proposalCount();
        for (uint256 id = 0; id < n; ++id) {
            if (handler.ghostProposalExecuted(id)) continue;
            assertEq(offices.countedApprovals(id), handler.ghostCounted(id), "counted approvals differ from the model");
        }
    }

    /// @notice A batch never changes after anchoring (only its revocation reason is set, once), and no
    ///         office's copy of a root displaces the owner's batch.
    function invariant_batchNeverChanges() public view {
        assertTrue(!handler.preempted(), "a copied root displaced the owner's batch");
        uint256 n = handler.batchCount();
        for (uint256 i = 0; i < n; ++i) {
            Handler.GhostBatch memory g = handler.ghostBatch(i);
            Batch memory b = anchors.batchOf(g.office, g.root);
            assertTrue(b.office == g.office && b.signer == g.signer, "batch owner changed");
            assertEq(b.timestamp, g.timestamp, "batch timestamp changed");
            assertEq(b.blockNumber, g.blockNumber, "batch block changed");
            assertEq(b.leafCount, g.leafCount, "batch leaf count changed");
            assertEq(b.revocationReason, g.reason, "batch revocation differs from the model");
            bytes32[] memory proof = new bytes32[](0);
            (bool included,, uint8 leafReason, bytes32 leaf,) =
                anchors.verifyRecord(g.office, g.root, abi.encode(g.seed), proof);
            assertTrue(included && leaf == g.root, "the anchored record does not verify");
            assertEq(leafReason, g.leafReason, "leaf revocation differs from the model");
            // The root itself is no leaf.
            (bool rootAsLeaf,,,,) = anchors.verifyRecord(g.office, g.root, abi.encode(g.root), proof);
            assertTrue(!rootAsLeaf, "the root passed as a leaf");
        }
    }

    /// @notice A record anchored by a key is authorised exactly when that key was valid and not
    ///         compromised at its block (checked for every batch, and for every key at every batch's block).
    function invariant_authorisedExactlyWhenValid() public view {
        uint256 n = handler.batchCount();
        bytes32[] memory proof = new bytes32[](0);
        for (uint256 i = 0; i < n; ++i) {
            Handler.GhostBatch memory g = handler.ghostBatch(i);
            bool expected = handler.ghostAuthorised(g.office, g.signer, g.blockNumber);
            assertTrue(handler.ghostWasSigner(g.office, g.signer, g.blockNumber), "anchored by a non-signer");
            (,,,, bool authorised) = anchors.verifyRecord(g.office, g.root, abi.encode(g.seed), proof);
            assertTrue(authorised == expected, "verifyRecord authorisation differs from the model");
            if (i + 1 < n) continue; // the full sweep over keys at the latest batch's block only (bounded cost)
            for (uint256 k = 0; k < handler.KEYS(); ++k) {
                address key = handler.key(k);
                for (uint256 c = 0; c < 8; ++c) {
                    bytes2 office = handler.code(c);
                    bool model = handler.ghostAuthorised(office, key, g.blockNumber);
                    assertTrue(offices.isAuthorisedAt(office, key, g.blockNumber) == model, "isAuthorisedAt != model");
                    assertTrue(
                        offices.wasSignerAt(office, key, g.blockNumber) == handler.ghostWasSigner(office, key, g.blockNumber),
                        "wasSignerAt != model"
                    );
                }
            }
        }
    }
}
