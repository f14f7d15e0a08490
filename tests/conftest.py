"""Shared fixtures: a real anvil node per test (or per session) from local-chain/."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anvil_fixtures import anvil, anvil_session  # noqa: F401
from office_home import office_home  # noqa: F401
