// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OfficeRegistry} from "../../contracts/OfficeRegistry.sol";
import {AnchorRegistry} from "../../contracts/AnchorRegistry.sol";
import {GovernanceRule} from "../../contracts/Common.sol";
import {Vm} from "./Vm.sol";

/// @notice Deploys the dev-like consortium: five offices, one key each, majority rule with a floor of 2.
library Fixture {
    uint256 internal constant OFFICES = 5;

    function codes() internal pure returns (bytes2[] memory c) {
        c = new bytes2[](OFFICES);
        c[0] = "EP";
        c[1] = "US";
        c[2] = "JP";
        c[3] = "EM";
        c[4] = "WO";
    }

    /// @notice Key `i` of the key pool (keys 0..4 are the genesis signers).
    function key(Vm vm, uint256 i) internal pure returns (address) {
        return vm.addr(0xA11CE + i);
    }

    function deploy(Vm vm) internal returns (OfficeRegistry offices, AnchorRegistry anchors) {
        bytes2[] memory c = codes();
        string[] memory names = new string[](OFFICES);
        string[] memory uris = new string[](OFFICES);
        address[] memory signers = new address[](OFFICES);
        for (uint256 i = 0; i < OFFICES; ++i) {
            names[i] = "office";
            uris[i] = "https://register.example/";
            signers[i] = key(vm, i);
        }
        offices = new OfficeRegistry(c, names, uris, signers, GovernanceRule(1, 2, 2, 100));
        anchors = new AnchorRegistry(address(offices), address(0));
    }
}
