"""The default storage plugin: records every run that asks to be recorded, adds ``--db``
and ``--record/--no-record`` to ``ttc run`` (as ``PipelineOptions``), and adds the
``ttc runs``, ``ttc replay`` and ``ttc resume`` commands.

A run says where it is recorded through ``Pipeline(store=...)`` (``RunInfo.store``): a URL, a
``RunStore``, True for the default store, False for none; ``ttc run``'s options become that
argument (``store_option``). With no choice (None) the environment decides:
``TTC_DATABASE_URL`` set, or ``TTC_RECORD=1``, records into the configured store;
``TTC_RECORD=0`` turns that off. Replay and resume claim their run with their own
``Recorder`` (``claim``), so no run is recorded twice.

A recording that fails (the store cannot be opened or written) fails the run
(``RecordingFailed``): a run is never reported "succeeded" with nothing stored.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ttc.errors import RecordingFailed
from ttc.pipeline_options import PipelineOption, PipelineOptions
from ttc.plugin_system import hookimpl

if TYPE_CHECKING:
    from ttc.calls import ModelCall
    from ttc.events import RunInfo, StageReport
    from ttc.result import RunResult
    from ttc.storage.recorder import Recorder
    from ttc.storage.store import RunStore

logger = logging.getLogger(__name__)

RECORD_ENV = "TTC_RECORD"
CACHE_ENV = "TTC_CALL_CACHE"
"""With recording on, serve any call already recorded with the same fingerprint."""

_lock = threading.Lock()
_claimed: dict[str, Recorder] = {}
_by_url: dict[str, Recorder] = {}
_by_store: dict[int, tuple[RunStore, Recorder]] = {}


def recording_enabled() -> bool:
    """Whether the environment asks runs without a ``store=`` choice to be recorded."""
    flag = os.environ.get(RECORD_ENV, "").strip().lower()
    if flag in {"0", "false", "no", "off"}:
        return False
    return flag in {"1", "true", "yes", "on"} or bool(os.environ.get("TTC_DATABASE_URL"))


def _cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "") in {"1", "true", "yes", "on"}


def recorder_for_url(url: str | None = None) -> Recorder:
    """The process's recorder for a database URL (None: the configured default store),
    opened once; ``RecordingFailed`` when the store cannot be opened."""
    from ttc.storage.errors import StoreError
    from ttc.storage.recorder import Recorder
    from ttc.storage.store import RunStore, resolve_url

    url = resolve_url(url)
    with _lock:
        recorder = _by_url.get(url)
        if recorder is None:
            try:
                store = RunStore.open(url)
            except StoreError as exc:
                raise RecordingFailed(f"the run cannot be recorded: {exc}") from None
            recorder = _by_url[url] = Recorder(store, cache=_cache_enabled())
        return recorder


def recorder_for_store(store: RunStore) -> Recorder:
    """The process's recorder for an open store object."""
    from ttc.storage.recorder import Recorder

    with _lock:
        found = _by_store.get(id(store))
        if found is None or found[0] is not store:
            found = _by_store[id(store)] = (store, Recorder(store, cache=_cache_enabled()))
        return found[1]


def default_recorder() -> Recorder | None:
    """The recorder the environment asks for, or None when it asks for none."""
    return recorder_for_url() if recording_enabled() else None


def recorder_for_option(option: Any) -> Recorder | None:
    """The recorder for a run's ``store=`` choice (see the module doc)."""
    from ttc.storage.store import RunStore

    if option is None:
        return default_recorder()
    if option is False:
        return None
    if option is True:
        return recorder_for_url()
    if isinstance(option, str):
        return recorder_for_url(option)
    if isinstance(option, RunStore):
        return recorder_for_store(option)
    raise RecordingFailed(f"store={option!r} is not a database URL, a RunStore, True, False "
                          "or None")


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
    return recorder if recorder is not None else recorder_for_option(run.store)


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
        try:
            recorder.ttc_run_finished(run=run, result=result)
        finally:
            if run.run_id not in _claimed:
                recorder.runs.pop(run.run_id, None)


@hookimpl
def ttc_recorded_response(run: RunInfo, fingerprint: str, kind: str) -> Any | None:
    recorder = _claimed.get(run.run_id)
    if recorder is None:
        recorder = _recorder(run)
        if recorder is None or not recorder.cache:
            return None
    return recorder.ttc_recorded_response(run=run, fingerprint=fingerprint, kind=kind)


def store_option(record: bool, db: str | None) -> dict[str, Any]:
    """``ttc run``'s ``--record/--no-record`` and ``--db`` as ``Pipeline(store=...)``: the
    command records by default, into ``--db`` or else the default store."""
    return {"store": (db or True) if record else False}


RUN_OPTIONS = PipelineOptions(
    options=(
        PipelineOption("record", ("--record/--no-record",), "Record the run in the run store.",
                       default=True, type=bool),
        PipelineOption("db", ("--db",), "Run store URL (default: TTC_DATABASE_URL, else the "
                       "SQLite file in the user data folder; see `ttc runs path`)."),
    ),
    configure=store_option,
)


@hookimpl
def ttc_register_pipeline_options(register: Any) -> None:
    register(RUN_OPTIONS)


@hookimpl
def ttc_register_commands(cli: Any) -> None:
    from ttc.storage.cli import register

    register(cli)
