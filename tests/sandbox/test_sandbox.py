"""The sandbox runs code in another process and refuses what untrusted code must not do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ttc.plugins.sandbox.code_tests import extract_code, run_tests
from ttc.plugins.sandbox.limits import SandboxLimits
from ttc.plugins.sandbox.run import run_python

FAST = SandboxLimits(timeout_s=5, cpu_s=2)


def test_plain_code_runs_and_prints():
    result = run_python("print(6 * 7)", FAST)
    assert result.ok and result.stdout.strip() == "42"


def test_it_runs_in_another_process_in_a_fresh_folder():
    result = run_python("import os; print(os.getpid()); print(os.getcwd()); print(os.listdir('.'))",
                        FAST)
    pid, cwd, listing = result.stdout.splitlines()
    assert int(pid) != os.getpid()
    assert cwd != os.getcwd() and "ttc-sandbox-" in cwd and listing == "[]"
    assert not Path(cwd).exists()  # removed afterwards


def test_network_is_refused():
    code = ("import socket\n"
            "socket.create_connection(('127.0.0.1', 9), timeout=1)\n")
    result = run_python(code, FAST)
    assert result.status == "error" and "not allowed" in result.stderr


def test_the_raw_socket_module_is_refused_too():
    result = run_python("import _socket\n_socket.socket()", FAST)
    assert result.status == "error" and "PermissionError" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace needs root")
def test_the_process_has_no_network_interfaces_but_loopback():
    result = run_python("print(open('/proc/net/dev').read())", FAST)
    assert result.ok
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines()[2:]
                  if ":" in line]
    assert interfaces == ["lo"]


def test_writes_outside_its_folder_are_refused(tmp_path):
    target = tmp_path / "escape.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert result.status == "error" and "outside the working folder" in result.stderr
    assert not target.exists()
    result = run_python("import os; os.remove('/etc/hostname')", FAST)
    assert result.status == "error" and Path("/etc/hostname").exists()


def test_writes_inside_its_folder_are_allowed():
    result = run_python("open('a.txt', 'w').write('hi'); print(open('a.txt').read())", FAST)
    assert result.ok and result.stdout.strip() == "hi"


def test_a_fork_bomb_is_contained():
    started = time.perf_counter()
    for code in ("import os\nwhile True:\n    os.fork()\n",
                 "import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])\n",
                 "import multiprocessing\n"):
        result = run_python(code, FAST)
        assert result.status == "error" and "not allowed" in result.stderr, code
    assert time.perf_counter() - started < 10


def test_an_infinite_loop_is_killed():
    started = time.perf_counter()
    result = run_python("while True:\n    pass\n", SandboxLimits(timeout_s=2, cpu_s=1))
    assert result.status in {"timeout", "cpu_limit"}
    assert time.perf_counter() - started < 6


def test_a_sleeping_process_hits_the_wall_clock():
    result = run_python("import time\ntime.sleep(60)\n", SandboxLimits(timeout_s=1))
    assert result.status == "timeout" and result.wall_time < 5


def test_memory_is_capped():
    result = run_python("x = bytearray(3 * 1024 ** 3)\n", SandboxLimits(memory_mb=256))
    assert result.status == "error" and "MemoryError" in result.stderr


def test_output_is_capped():
    limits = SandboxLimits(output_bytes=4096)
    result = run_python("while True:\n    print('x' * 1000)\n", limits)
    assert result.status == "output_limit"
    assert len(result.stdout) <= 4096


def test_ctypes_is_refused():
    result = run_python("import ctypes\nctypes.CDLL(None).fork()", FAST)
    assert result.status == "error" and "not allowed" in result.stderr


def test_code_tests_report_each_test():
    outcome = run_tests("def add(a, b):\n    return a + b\n",
                        ["assert add(2, 3) == 5", "assert add(1, 1) == 3"], FAST)
    assert outcome.passed == (True, False)
    assert outcome.fraction == 0.5


def test_a_crash_or_a_hang_fails_every_test():
    assert run_tests("raise SystemExit(3)", ["assert True"], FAST).passed == (False,)
    hang = run_tests("while True:\n    pass\n", ["assert True"],
                     SandboxLimits(timeout_s=1, cpu_s=1))
    assert hang.passed == (False,)


def test_printed_text_cannot_forge_the_report():
    code = "print('@@ttc-results-0000@@[[true, \"\"]]')\nraise SystemExit(1)\n"
    assert run_tests(code, ["assert True"], FAST).passed == (False,)


def test_extract_code_takes_the_last_fenced_block():
    text = "First:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\n"
    assert extract_code(text).strip() == "x = 2"
    assert extract_code("x = 3") == "x = 3"
