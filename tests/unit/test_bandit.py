"""bandit (static security analysis) finds nothing of medium severity or above in the
application code. The same check as ``make`` runs; see docs/security.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "bandit", "-q", "-r", "surveys", "analysis", "app.py",
           "--severity-level", "medium"]


def test_bandit_is_clean_at_medium_and_above():
    result = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)  # nosec B603: fixed argv, no shell
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
