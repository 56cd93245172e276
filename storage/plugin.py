"""The default storage plugin: records every run when a store is configured, and adds the
``ttc runs``, ``ttc replay`` and ``ttc resume`` commands.

Recording is on when ``TTC_DATABASE_URL`` is set or ``TTC_RECORD=1`` (the ``ttc run``
command sets it unless ``--no-record``); ``TTC_RECORD=0`` turns it off. Replay and resume
claim their run with their own ``Recorder`` (``claim``), so no run is recorded twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ttc.plugin_system import hookimpl

if TYPE_CHECKING:
    from ttc.calls import ModelCall
    from ttc.events import RunInfo, StageReport
    from ttc.result import RunResult
    from ttc.storage.recorder import Recorder

logger = logging.getLogger(__name__)

RECORD_ENV = "TTC_RECORD"
CACHE_ENV = "TTC_CALL_CACHE"
"""With recording on, serve any call already recorded with the same fingerprint."""

_lock = threading.Lock()
_claimed: dict[str, Recorder] = {}
_defaults: dict[str, Recorder | None] = {}


def recording_enabled() -> bool:
    flag = os.environ.get(RECORD_ENV, "").strip().lower()
    if flag in {"0", "false", "no", "off"}:
        return False
    return flag in {"1", "true", "yes", "on"} or bool(os.environ.get("TTC_DATABASE_URL"))


def default_recorder() -> Recorder | None:
    """The process's recorder for the configured store, or None when recording is off or
    the store cannot be opened (warned once: a run is never stopped by its recording)."""
    if not recording_enabled():
        return None
    from ttc.storage.store import resolve_url

    url = resolve_url()
    with _lock:
        if url not in _defaults:
            from ttc.storage.errors import StoreError
            from ttc.storage.recorder import Recorder
            from ttc.storage.store import RunStore

            try:
                cache = os.environ.get(CACHE_ENV, "") in {"1", "true", "yes", "on"}
                _defaults[url] = Recorder(RunStore.open(url), cache=cache)
            except StoreError as exc:
                logger.warning("runs are not recorded: %s", exc)
                _defaults[url] = None
        return _defaults[url]


@contextmanager
def claim(run_id: str, recorder: Recorder) -> Iterator[Recorder]:
    """Route one run's events to ``recorder`` instead of the default one."""
    with _lock:
        _claimed[run_id] = recorder
    try:
        yield recorder
    finally:
        with _lock:
            _claimed.pop(run_id, None)


def _recorder(run: RunInfo) -> Recorder | None:
    recorder = _claimed.get(run.run_id)
    return recorder if recorder is not None else default_recorder()


@hookimpl
def ttc_run_started(run: RunInfo) -> None:
    recorder = _recorder(run)
    if recorder is not None:
        recorder.ttc_run_started(run=run)


@hookimpl
def ttc_model_called(run: RunInfo, call: ModelCall) -> None:
    recorder = _recorder(run)
    if recorder is not None:
        recorder.ttc_model_called(run=run, call=call)


@hookimpl
def ttc_stage_finished(run: RunInfo, stage: StageReport) -> None:
    recorder = _recorder(run)
    if recorder is not None:
        recorder.ttc_stage_finished(run=run, stage=stage)


@hookimpl
def ttc_run_finished(run: RunInfo, result: RunResult) -> None:
    recorder = _recorder(run)
    if recorder is not None:
        recorder.ttc_run_finished(run=run, result=result)
        recorder.runs.pop(run.run_id, None) if run.run_id not in _claimed else None


@hookimpl
def ttc_recorded_response(run: RunInfo, fingerprint: str, kind: str) -> Any | None:
    recorder = _claimed.get(run.run_id)
    if recorder is None:
        if not recording_enabled():
            return None
        recorder = default_recorder()
        if recorder is None or not recorder.cache:
            return None
    return recorder.ttc_recorded_response(run=run, fingerprint=fingerprint, kind=kind)


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.storage.cli import register

    register(cli)
