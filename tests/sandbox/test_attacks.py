"""Every attack in ``sandbox_attacks.py`` is blocked, as root and as an unprivileged user,
with each kernel isolation this machine has. The audit hook is off for all of them but
the first (which switches it off itself): the kernel layers and the harness must hold
alone. Each user's run is a child process (whose environment holds a fake secret), all
started at once."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sandbox_attacks
from sandbox_attacks import ATTACKS, BY_NAME, SECRET_VAR

RUNNER = Path(sandbox_attacks.__file__).resolve()
BACKENDS = ("namespaces", "bwrap")
USERS = ("root", "unprivileged")
DROP_TO_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  "--inh-caps=-all"]
KNOWN_GAPS = {
    ("bwrap", "filling the disk past the cap"):
        "bubblewrap cannot cap the number of files in its tmpfs (its size is capped)",
}

pytestmark = pytest.mark.slow  # each user's run takes several seconds (the fork bomb: 2)


def _nobody_cannot_enter(path: Path) -> Path | None:
    """The first folder above ``path`` that others may not enter (e.g. /root, 0700)."""
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


def _where_nobody_reaches_python(argv: list[str]) -> list[str]:
    """``argv``, run (as root) in a private mount namespace where a folder nobody may not
    enter (e.g. /root) shows only the interpreter, when it lives in one: nobody -- the
    unprivileged run, or bubblewrap run by root -- can then start it. Nothing on the host
    changes."""
    shown = sorted({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)})
    hidden = {_nobody_cannot_enter(Path(p)) for p in shown} - {None}
    if not hidden:
        return argv
    if len(hidden) > 1 or _nobody_cannot_enter(RUNNER) is not None:
        pytest.skip("the interpreter or the tests are where nobody cannot reach them")
    (folder,) = hidden
    stash = [f'd{i}=$(mktemp -d) && mount --bind "{p}" "$d{i}"' for i, p in enumerate(shown)]
    place = [f'mkdir -p "{p}" && mount --move "$d{i}" "{p}"' for i, p in enumerate(shown)]
    script = " && ".join([*stash, f'mount -t tmpfs -o mode=0755 tmpfs "{folder}"', *place,
                          'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], subprocess.Popen]:
    """One child per (user, backend), all running at once."""
    started = {}
    for user in USERS:
        for backend in BACKENDS:
            argv = [sys.executable, str(RUNNER), backend]
            if os.geteuid() != 0:
                if user == "root":
                    continue
            elif user == "unprivileged":
                argv = _where_nobody_reaches_python([*DROP_TO_NOBODY, *argv])
            elif backend == "bwrap":  # root runs bubblewrap as nobody
                argv = _where_nobody_reaches_python(argv)
            env = {**os.environ, SECRET_VAR: f"sk-fake-{secrets.token_hex(8)}", "HOME": "/tmp"}
            env.pop("TTC_SANDBOX", None)
            started[user, backend] = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/")
    yield started
    for process in started.values():
        process.kill()
        process.wait()


_results: dict[tuple[str, str], dict] = {}


def _outcomes(runs, user: str, backend: str) -> dict:
    if (user, backend) not in runs:
        pytest.skip(f"tests not running as root: no {user} run")
    if (user, backend) not in _results:
        stdout, stderr = runs[user, backend].communicate(timeout=120)
        try:
            _results[user, backend] = json.loads(stdout)
        except ValueError:
            pytest.fail(f"the {user} run failed: {stderr.decode()[-2000:]}")
    outcomes = _results[user, backend]
    if "unavailable" in outcomes:
        pytest.skip(f"{backend} is not available to {user}: {outcomes['unavailable']}")
    return outcomes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", [attack.name for attack in ATTACKS])
def test_the_attack_is_blocked(runs, user: str, backend: str, attack: str):
    outcome = _outcomes(runs, user, backend)[attack]
    assert outcome["isolation"] == backend
    assert outcome["user"] == (0 if user == "root" else os.geteuid() or 65534)
    if (backend, attack) in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[backend, attack])
    assert BY_NAME[attack].check(outcome) == []
