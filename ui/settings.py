"""What one app process works on: the run store given by ``ttc ui --db`` and the plugin host.

``ttc ui`` passes its options to the app script after ``--`` (``streamlit run app.py -- --db
URL``), so the store is an explicit argument like in every other command, never an
environment variable the app would have to guess. Tests put ``DB_KEY`` in the session state.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from ttc import TTCError
from ttc.storage import RunStore

DB_KEY = "ttc.db"
"""Session-state key that overrides the ``--db`` argument (tests, one session)."""


@dataclass(frozen=True, slots=True)
class AppSettings:
    db: str | None = None
    """The run store URL; None is the default store (TTC_DATABASE_URL, else the user data
    folder), as for ``ttc runs``."""


def parse_args(argv: Sequence[str]) -> AppSettings:
    """The app's own arguments; anything else on the line (a test runner's) is ignored."""
    parser = argparse.ArgumentParser(prog="ttc ui", add_help=False)
    parser.add_argument("--db", default=None)
    known, _ = parser.parse_known_args(list(argv))
    return AppSettings(db=known.db)


def current_settings() -> AppSettings:
    override = st.session_state.get(DB_KEY)
    return AppSettings(db=override) if override else parse_args(sys.argv[1:])


@st.cache_resource(show_spinner=False)
def open_store(db: str | None) -> RunStore:
    """The run store, opened (and migrated) once per URL per process."""
    return RunStore.open(db)


def current_store() -> RunStore | None:
    """The store of this session, or None after showing why it cannot be opened."""
    try:
        return open_store(current_settings().db)
    except TTCError as exc:
        st.error(f"The run store cannot be opened: {exc}")
        return None
