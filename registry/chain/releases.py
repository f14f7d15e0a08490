"""Runtime code of earlier releases of the contracts, so that a predecessor or an archived chain is recognised.

Each row: the release, its EVM version, the runtime length, where its immutables sit, and the keccak256 of
its runtime code with the immutables zeroed (as the compiler leaves them). Read by
:func:`registry.chain.artifacts.matching_release` (migrations' predecessors, archives' "a released build");
add a row per contract and EVM version when a release is superseded.
"""

from __future__ import annotations

from typing import Any, Final

#: AnchorRegistry 2.0.0 (issue 21 superseded it with 3.0.0) and 3.0.0 (superseded by 3.1.0: the office
#: consent rule of OfficeRegistry; only VERSION changed here), both shipped EVM versions.
ANCHOR_REGISTRY_RELEASES: Final[tuple[dict[str, Any], ...]] = (
    {
        "version": "2.0.0",
        "evmVersion": "prague",
        "length": 5101,
        "immutableReferences": {
            "20": [
                {"start": 512, "length": 32},
                {"start": 1259, "length": 32},
                {"start": 1443, "length": 32},
                {"start": 1641, "length": 32},
                {"start": 3214, "length": 32},
            ],
            "23": [{"start": 430, "length": 32}],
        },
        "runtimeKeccak": "0x456300885f9005a97164aa5b1f3a152bd2f34726f71d7155e88cc87b3fc322d0",
    },
    {
        "version": "2.0.0",
        "evmVersion": "paris",
        "length": 5229,
        "immutableReferences": {
            "20": [
                {"start": 519, "length": 32},
                {"start": 1274, "length": 32},
                {"start": 1461, "length": 32},
                {"start": 1661, "length": 32},
                {"start": 3257, "length": 32},
            ],
            "23": [{"start": 437, "length": 32}],
        },
        "runtimeKeccak": "0xbfc942e4bc078f58df7b93da5f7218527ccabc1b9075bff84e7917a002d57440",
    },
    {
        "version": "3.0.0",
        "evmVersion": "prague",
        "length": 6476,
        "immutableReferences": {
            "28": [
                {"start": 598, "length": 32},
                {"start": 1460, "length": 32},
                {"start": 1692, "length": 32},
                {"start": 1865, "length": 32},
                {"start": 4275, "length": 32},
                {"start": 4779, "length": 32},
            ],
            "31": [{"start": 516, "length": 32}],
        },
        "runtimeKeccak": "0x1b66a4151e38786af532d59e3694b28060c39217e90e450b00beda54f781e924",
    },
    {
        "version": "3.0.0",
        "evmVersion": "paris",
        "length": 6627,
        "immutableReferences": {
            "28": [
                {"start": 604, "length": 32},
                {"start": 1475, "length": 32},
                {"start": 1711, "length": 32},
                {"start": 1886, "length": 32},
                {"start": 4337, "length": 32},
                {"start": 4846, "length": 32},
            ],
            "31": [{"start": 522, "length": 32}],
        },
        "runtimeKeccak": "0xabdc22a7bfcf7a7ca7942f7049a48d8989984b1ff0237e1b72cf33a013f2ccff",
    },
)

#: OfficeRegistry 3.0.0 (superseded by 3.1.0: the office consent rule), both shipped EVM versions (no
#: immutables). Earlier OfficeRegistry releases are not listed: archives of them were never shipped.
OFFICE_REGISTRY_RELEASES: Final[tuple[dict[str, Any], ...]] = (
    {
        "version": "3.0.0",
        "evmVersion": "prague",
        "length": 19688,
        "immutableReferences": {},
        "runtimeKeccak": "0xe3277c283ce13c1849e19a04cf973e7939aed62df4ae64c6d69193fee381fbc8",
    },
    {
        "version": "3.0.0",
        "evmVersion": "paris",
        "length": 19986,
        "immutableReferences": {},
        "runtimeKeccak": "0x2bac92668d9a1b3cdc2ca79459ba3113994b01017a2161cad121b65bce5fb8e9",
    },
)
