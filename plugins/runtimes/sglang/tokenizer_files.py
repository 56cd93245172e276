"""The served model's tokenizer, from a local folder only: for ``render`` and token counts.

A remote server renders nothing for ``/generate`` (it takes text), so the chat template has
to be applied here, with the model's own tokenizer. It is loaded from a local path (the
server's ``tokenizer_path`` when that folder exists on this machine, or the runtime's
``tokenizer`` option) by ``load_tokenizer``: ``tokenizer.json`` without transformers when the
folder has one, else transformers with ``local_files_only``: a run never downloads from a hub.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ttc.runtime import RequestError

if TYPE_CHECKING:
    from ..folder_tokenizer import FolderTokenizer, TransformersTokenizer


class LocalTokenizer:
    """Loaded on first use (~0.1 s from tokenizer.json), then shared by every loop and thread
    (the loaded object is thread-safe)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._tokenizer: FolderTokenizer | TransformersTokenizer | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.path is not None

    def get(self) -> FolderTokenizer | TransformersTokenizer:
        if self.path is None:
            raise RequestError(
                "this runtime needs the model's tokenizer (chat template, token counts) but "
                "the server's tokenizer_path is not a folder on this machine: set the "
                "runtime option  tokenizer: /path/to/the/model/folder")
        with self._lock:
            if self._tokenizer is None:
                from ..folder_tokenizer import load_tokenizer

                try:
                    self._tokenizer = load_tokenizer(self.path)
                except Exception as error:
                    raise RequestError(
                        f"cannot load the tokenizer from {self.path}: {error}") from error
            return self._tokenizer

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        return self.get().render(messages, add_generation_prompt=add_generation_prompt)

    def encode(self, text: str) -> list[int]:
        return self.get().encode(text)


def local_folder(path: str | None) -> str | None:
    """``path`` if it names a folder on this machine, else None (a hub id, a remote path)."""
    if path and Path(path).expanduser().is_dir():
        return str(Path(path).expanduser())
    return None


def config_vocab_size(folder: str | None) -> int | None:
    """The model's vocabulary size from its ``config.json`` (the logits' width, which is
    what the self-certainty bound needs; ``len(tokenizer)`` may be smaller)."""
    if folder is None:
        return None
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    vocab = config.get("vocab_size") or config.get("text_config", {}).get("vocab_size")
    return int(vocab) if isinstance(vocab, int) and vocab > 1 else None
