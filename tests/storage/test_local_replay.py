"""Replay of a run recorded on the real embedded model is bit-identical."""

from __future__ import annotations

import pytest
from test_recording import record
from test_replay import snapshot

from ttc.plugin_system import PluginHost
from ttc.storage import RunStore
from ttc.storage.replay import replay

LOCAL = """\
name: local-replay
models:
  small: {runtime: local}
task: number
seed: 3
stages:
  - use: sample
    model: small
    n: 2
    max_tokens: 12
    top_logprobs: 3
select:
  use: majority
"""


@pytest.mark.model
def test_replay_of_a_local_run_is_bit_identical(tmp_path, host: PluginHost) -> None:
    store = RunStore.open(f"sqlite:///{tmp_path / 'local.db'}")
    try:
        _, original = record(store, host, LOCAL, task="What is 3+4? Answer with a number.")
    except Exception as exc:  # no weights on this machine
        pytest.skip(f"the local runtime is not available here: {exc}")
    assert original.status == "succeeded", original.error
    report = replay(store, original.run_id, host=host)
    assert report.made == 0 and report.identical
    assert snapshot(report.result) == snapshot(original)  # token ids, logprobs, stats: exact
