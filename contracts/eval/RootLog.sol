// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RootLog: the bare alternative the evaluation compares AnchorRegistry with (evaluation only)
/// @notice Logs a Merkle root with the same payload as `AnchorRegistry.anchorBatch` (root, leaf count, manifest
///         URI) and nothing else: no office, no governance, no key history, no revocation, no storage, no
///         on-chain proof check. Anyone may log any root; a reader must trust the sending address off chain.
///         Not part of the product's deployed contracts: `ipreg evaluate` compiles it at run time.
contract RootLog {
    /// @notice `sender` logged `root` of `leafCount` records whose leaf values are published at `manifestURI`.
    event RootLogged(bytes32 indexed root, address indexed sender, uint32 leafCount, string manifestURI);

    /// @notice Log a root; never reverts.
    function logRoot(bytes32 root, uint32 leafCount, string calldata manifestURI) external {
        emit RootLogged(root, msg.sender, leafCount, manifestURI);
    }
}
