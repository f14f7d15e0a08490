"""``ipreg`` that can be held at a moment of an anchoring run, to be killed there (crash tests and scenario).

With ``IPREG_TEST_HOLD=<moment>:<file>`` in its environment, the run touches ``<file>`` when it reaches
``<moment>`` (one of :mod:`registry.anchor.checkpoints`) and then waits up to 600 s to be killed;
without it, this is plain ``ipreg``. :data:`COMMAND` runs it::

    subprocess.Popen([*COMMAND, "anchor", "GAZETTE", "--office", "EP"], env={..., "IPREG_TEST_HOLD": ...})

The hold is installed from outside: the runtime code only calls its checkpoints. The command line,
not this module, imports the CLI (the evaluation sits below the CLI).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from registry.anchor.checkpoints import HOOKS
from registry.config import env_text

#: ``ipreg`` with :func:`hold` installed at every checkpoint (append ``ipreg``'s arguments).
COMMAND: tuple[str, ...] = (
    sys.executable,
    "-c",
    "import registry.evaluate.hold as h; h.install(); import registry.cli as c; c.main()",
)


def hold(moment: str) -> None:
    """With ``IPREG_TEST_HOLD=<moment>:<file>``, touch the file and wait to be killed."""
    spec = env_text("IPREG_TEST_HOLD") or ""
    if spec.startswith(moment + ":"):
        Path(spec.split(":", 1)[1]).touch()
        time.sleep(600)


def install() -> None:
    """Hook :func:`hold` into every checkpoint of this process; name the program ``ipreg`` in messages."""
    HOOKS.append(hold)
    sys.argv[0] = "ipreg"
