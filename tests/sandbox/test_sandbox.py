"""The sandbox runs code in another process and refuses what untrusted code must not do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ttc.plugins.sandbox import isolation
from ttc.plugins.sandbox.code_tests import called_names, extract_code, run_tests
from ttc.plugins.sandbox.isolation import SandboxUnavailable
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


def test_extract_code_picks_the_block_that_defines_the_tested_function():
    text = ("Solution:\n```python\ndef add(a, b):\n    return a + b\n```\n"
            "Usage:\n```python\nprint(add(1, 2))\n```\n")
    assert extract_code(text).strip() == "print(add(1, 2))"  # without defines: the last
    assert extract_code(text, defines=("add",)).strip().startswith("def add(a, b):")


def test_extract_code_adds_the_earlier_blocks_holding_its_helpers():
    text = ("```python\nimport math\n```\n```python\ndef helper(x):\n    return x * 2\n```\n"
            "```python\ndef unrelated():\n    pass\n```\n"
            "```python\ndef add(a, b):\n    return helper(a) + math.floor(b)\n```\n"
            "```python\nprint(add(1, 2))\n```\n")
    code = extract_code(text, defines=("add",))
    assert code == ("import math\n\ndef helper(x):\n    return x * 2\n\n"
                    "def add(a, b):\n    return helper(a) + math.floor(b)\n")
    assert run_tests(code, ["assert add(1, 2.5) == 4"], FAST).passed == (True,)


def test_extract_code_joins_blocks_when_the_names_are_spread_out():
    text = ("```python\ndef inc(x):\n    return x + 1\n```\n"
            "```py\ndef dec(x):\n    return x - 1\n```\n")
    assert extract_code(text, defines=("inc", "dec")) == (
        "def inc(x):\n    return x + 1\n\ndef dec(x):\n    return x - 1\n")
    assert extract_code(text, defines=("missing",)) == "def dec(x):\n    return x - 1\n"
    assert extract_code("x = 3", defines=("add",)) == "x = 3"


def test_called_names_are_what_the_tests_expect_the_code_to_define():
    tests = ["assert add(2, 3) == 5", "x = scale(2)\nassert x == 4",
             "def check(candidate):\n    assert candidate(1) == 2\n\ncheck(inc)",
             "import math\nassert math.isclose(root(4.0), 2.0)", "assert len(sq(3)) == 1"]
    assert called_names(tests) == ("add", "scale", "inc", "root", "sq")


def test_runs_get_kernel_isolation_by_default():
    assert run_python("pass", FAST).isolation in {"namespaces", "bwrap"}


def test_without_kernel_isolation_code_does_not_run_and_the_error_says_what_to_install(
        monkeypatch):
    monkeypatch.setattr(isolation, "probe", lambda backend: f"{backend} is missing")
    monkeypatch.delenv("TTC_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable) as raised:
        run_python("print('ran')", FAST)
    message = str(raised.value)
    assert "namespaces: namespaces is missing" in message and "bwrap is missing" in message
    assert "apt-get install bubblewrap" in message and "user namespaces" in message
    assert "TTC_SANDBOX=unsafe" in message
    with pytest.raises(SandboxUnavailable):
        run_tests("def f():\n    return 1\n", ["assert f() == 1"], FAST)


def test_running_without_kernel_isolation_is_opt_in_by_name(monkeypatch):
    monkeypatch.setattr(isolation, "probe", lambda backend: "missing")
    monkeypatch.delenv("TTC_SANDBOX", raising=False)
    assert run_python("print(1)", SandboxLimits(isolation="unsafe")).isolation == "unsafe"
    monkeypatch.setenv("TTC_SANDBOX", "unsafe")
    result = run_python("print(1)", FAST)
    assert result.ok and result.isolation == "unsafe" and result.stdout == "1\n"
    monkeypatch.setenv("TTC_SANDBOX", "none")
    with pytest.raises(SandboxUnavailable, match="TTC_SANDBOX='none' is not one of"):
        run_python("print(1)", FAST)


def test_the_work_folder_is_a_size_capped_tmpfs():
    code = ("import errno\ntry:\n    for i in range(100):\n"
            "        open(f'f{i}', 'wb').write(b'x' * 60_000)\n"
            "except OSError as error:\n    print(errno.errorcode[error.errno], i)\n")
    result = run_python(code, SandboxLimits(disk_mb=1))
    error, files = result.stdout.split()
    assert error == "ENOSPC" and int(files) <= 18  # 1 MiB / 60 kB


def test_a_test_that_hangs_fails_alone_when_the_others_finished_first():
    code = "def f(x):\n    while x:\n        pass\n    return 1\n"
    outcome = run_tests(code, ["assert f(0) == 1", "assert f(1) == 1"],
                        SandboxLimits(timeout_s=1.5, cpu_s=5))
    assert outcome.passed == (True, False)
    assert outcome.errors[1].startswith("timeout")


def test_tests_use_objects_of_the_code_but_compare_only_data():
    code = ("class Stack:\n    def __init__(self):\n        self.items = []\n"
            "    def push(self, x):\n        self.items.append(x)\n"
            "    def pop(self):\n        return self.items.pop()\n"
            "    def __len__(self):\n        return len(self.items)\n")
    outcome = run_tests(code, ["s = Stack()\ns.push(1)\ns.push((2, 'b'))\nassert len(s) == 2",
                               "assert s.pop() == (2, 'b') and s.items == [1]",
                               "assert Stack() == Stack()"], FAST)
    assert outcome.passed == (True, True, False)
    assert "tests compare data" in outcome.errors[2]


def test_the_code_cannot_shadow_builtins_for_the_tests():
    code = "import math\nlen = lambda x: 3\ndef add(a, b):\n    return a + b\n"
    outcome = run_tests(code, ["assert len([1]) == 1", "assert math.floor(add(0.5, 1)) == 1",
                               "assert add(1, 1) == 2"], FAST)
    assert outcome.passed == (True, True, True)


def test_what_the_tested_code_prints_is_kept():
    code = "print('loaded')\ndef f():\n    print('called')\n    return 1\n"
    outcome = run_tests(code, ["assert f() == 1"], FAST)
    assert outcome.passed == (True,)
    assert outcome.run.stdout.split() == ["loaded", "called"]


def test_code_that_breaks_off_while_loading_fails_every_test_and_says_so():
    outcome = run_tests("import os\nos._exit(0)\n", ["assert True", "assert 1 == 1"], FAST)
    assert outcome.passed == (False, False)
    assert "broke off before the tests" in outcome.errors[0]
