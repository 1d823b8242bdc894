"""Every entry point (CLI, web, flows) has the lifecycle notices subscribed, in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", ["hazardloop.cli", "hazardloop.web.app", "hazardloop.flows.dispatch"])
def test_entry_point_subscribes_lifecycle_notices(module):
    code = (f"import {module}\n"
            "from hazardloop.states import events\n"
            "print(len(events._listeners))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) >= 2  # lifecycle notices and escalation cycles
