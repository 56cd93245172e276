"""Error output of the command line: one unwrapped line, brackets printed as written."""

from __future__ import annotations

import os
import subprocess
import sys


def test_an_error_with_brackets_and_a_long_path_is_one_literal_line(tmp_path):
    folder = tmp_path / ("x" * 120) / "[bold]stages[0]"
    folder.mkdir(parents=True)
    path = folder / "runs.db"
    path.write_text("not a database")
    env = {**os.environ, "TTC_DISABLE_ENTRY_POINTS": "1", "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "ttc", "runs", "list", "--db",
                           f"sqlite:///{path}"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "[bold]stages[0]" in lines[0]
    assert "Traceback" not in proc.stderr
