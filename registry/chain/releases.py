"""Runtime code of earlier releases of the AnchorRegistry, so that a migration's predecessor is recognised.

Each row: the release, its EVM version, the runtime length, where its immutables sit, and the keccak256 of
its runtime code with the immutables zeroed (as the compiler leaves them). Read by
:func:`registry.chain.artifacts.matching_release`; add a row when a release is superseded.
"""

from __future__ import annotations

from typing import Any, Final

#: AnchorRegistry 2.0.0 (issue 21 superseded it with 3.0.0), both shipped EVM versions.
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
)
