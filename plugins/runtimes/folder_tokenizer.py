"""A Hugging Face model folder's tokenizer without importing transformers.

Importing transformers takes ~0.8 s of the local engine's warm start; its fast tokenizer is a
thin layer over the ``tokenizers`` library plus a jinja2 chat template. ``FolderTokenizer``
rebuilds that layer from the folder's files with the same precedence rules as
``PreTrainedTokenizerFast.from_pretrained`` in transformers 5 (which special tokens win, which
tokens get added to the vocabulary, where the chat template comes from), so ``encode``,
``decode`` and ``render`` give what transformers gives. Folders without ``tokenizer.json``
(sentencepiece-only, tiktoken...) still go through transformers: see ``load_tokenizer``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ttc.extras import require
from ttc.runtime import RuntimeCallError

from .chat_template import ChatTemplateError, compile_template, render_template

if TYPE_CHECKING:
    from tokenizers import AddedToken, Tokenizer

    Token = str | AddedToken

__all__ = ["ChatTemplateError", "FolderTokenizer", "TokenizerLoadError",
           "TransformersTokenizer", "load_tokenizer"]

NAMED_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                "mask_token")
"""transformers' ``SPECIAL_TOKENS_ATTRIBUTES``, in its order (new ids follow this order)."""
TEMPLATE_FILE = "chat_template.jinja"
TEMPLATE_DIR = "additional_chat_templates"


class TokenizerLoadError(RuntimeCallError):
    """The folder's tokenizer files are missing or cannot be read."""


class FolderTokenizer:
    """``tokenizer.json`` + ``tokenizer_config.json`` + chat template, as transformers reads them.

    Thread-safe: encode/decode hold a lock. Nothing mutates the backend after ``load``, but a
    lock is the cheap guarantee: ~0.3 µs a call, and no lost parallelism (8 threads encoding
    without it took as long as with it: the backend keeps the GIL); a per-call deepcopy would
    cost ~150 ms. Rendering needs no lock: each jinja2 render has its own context.
    """

    def __init__(self, folder: Path, backend: Tokenizer, special_tokens: dict[str, Token],
                 chat_template: str | dict[str, str] | None, clean_up_spaces: bool) -> None:
        self.folder = folder
        self.special_tokens_map = {key: str(value) for key, value in special_tokens.items()}
        """Named special tokens as strings: the chat template sees them as variables."""
        self.chat_template = chat_template
        self._backend = backend
        self._clean_up_spaces = clean_up_spaces
        self._lock = threading.Lock()
        self._templates: dict[str, Any] = {}
        self._template_lock = threading.Lock()
        self.unk_token_id = self._named_id("unk_token", None)
        self.bos_token_id = self._named_id("bos_token", self.unk_token_id)
        self.eos_token_id = self._named_id("eos_token", self.unk_token_id)
        self.pad_token_id = self._named_id("pad_token", self.unk_token_id)

    @classmethod
    def load(cls, folder: str | Path) -> FolderTokenizer:
        from tokenizers import Tokenizer

        folder = Path(folder).expanduser()
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise TokenizerLoadError(f"{folder} has no tokenizer.json")
        try:
            backend = Tokenizer.from_file(str(path))
        except Exception as error:  # the Rust side raises a bare Exception for bad JSON
            raise TokenizerLoadError(f"cannot read {path}: {error}") from error
        config = _read_json(folder / "tokenizer_config.json")
        template = _chat_template(folder, config)
        special, extras, added = _special_tokens(folder, config, backend)
        _add_missing_tokens(backend, added, special, extras)
        backend.no_truncation()  # transformers turns both off for a plain ``tokenizer(text)``
        backend.no_padding()
        backend.encode_special_tokens = bool(config.get("split_special_tokens", False))
        # transformers skips the clean-up for BPE: it strips real spaces before punctuation.
        clean = bool(config.get("clean_up_tokenization_spaces", False)) and (
            type(backend.model).__name__ != "BPE" or bool(config.get(
                "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output")))
        return cls(folder, backend, special, template, clean)

    # --- text <-> ids ------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` with no special tokens added (special-token strings in the text
        still map to their ids, as in transformers)."""
        with self._lock:
            return self._backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        """Text of ``ids``, special tokens kept unless ``skip_special_tokens``."""
        with self._lock:
            text = self._backend.decode([int(i) for i in ids],
                                        skip_special_tokens=skip_special_tokens)
        return _clean_up_tokenization(text) if self._clean_up_spaces else text

    @property
    def vocab_size(self) -> int:
        """Every id the tokenizer can produce, added tokens included (``len(tokenizer)`` in
        transformers, whose own ``vocab_size`` leaves the added tokens out)."""
        return self._backend.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str | None] | None:
        if isinstance(ids, int):
            return self._backend.id_to_token(ids)
        return [self._backend.id_to_token(int(i)) for i in ids]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int | None] | None:
        """Vocabulary entries to ids; unknown entries give ``unk_token_id`` (maybe None)."""
        if isinstance(tokens, str):
            return self._token_id(tokens)
        return [self._token_id(token) for token in tokens]

    # --- chat template -----------------------------------------------------------------------

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True, *,
               tools: list[dict[str, Any]] | None = None, **variables: Any) -> str:
        """``apply_chat_template(messages, tokenize=False, ...)``; ``variables`` are extra
        template kwargs (e.g. ``enable_thinking``)."""
        template = self._template(self._template_source(tools))
        return render_template(template, messages, add_generation_prompt=add_generation_prompt,
                               tools=tools, variables={**self.special_tokens_map, **variables})

    def apply_chat_template(self, conversation: list[dict[str, Any]],
                            tools: list[dict[str, Any]] | None = None, *, tokenize: bool = True,
                            add_generation_prompt: bool = False, **variables: Any) -> str:
        """The transformers spelling of ``render`` (text only), for callers written for it."""
        if tokenize:
            raise NotImplementedError("FolderTokenizer.apply_chat_template renders text only "
                                      "(tokenize=False); use encode(render(...)) for ids")
        return self.render(conversation, add_generation_prompt, tools=tools, **variables)

    def _template_source(self, tools: list[dict[str, Any]] | None) -> str:
        """transformers' ``get_chat_template``: ``tool_use`` when tools are given, else
        ``default``."""
        templates = self.chat_template
        if templates is None:
            raise ChatTemplateError(
                f"the tokenizer in {self.folder} has no chat template (no {TEMPLATE_FILE} and "
                "no chat_template in tokenizer_config.json), so messages cannot be rendered: "
                "use an instruct/chat model, or send plain text prompts")
        if isinstance(templates, str):
            return templates
        if tools is not None and "tool_use" in templates:
            return templates["tool_use"]
        if "default" in templates:
            return templates["default"]
        raise ChatTemplateError(
            f"the tokenizer in {self.folder} has several chat templates and none is named "
            f"'default': {sorted(templates)}")

    def _template(self, source: str) -> Any:
        with self._template_lock:  # compiled once, on first use (a few ms, jinja2 import)
            if source not in self._templates:
                self._templates[source] = compile_template(source)
            return self._templates[source]

    def _token_id(self, token: str) -> int | None:
        index = self._backend.token_to_id(token)
        return self.unk_token_id if index is None else index

    def _named_id(self, key: str, fallback: int | None) -> int | None:
        token = self.special_tokens_map.get(key)
        if token is None:
            return None
        index = self._backend.token_to_id(token)
        return fallback if index is None else index


class TransformersTokenizer:
    """The same methods over ``AutoTokenizer`` for folders without ``tokenizer.json``.

    transformers' fast tokenizers change backend settings inside each call, so every call
    holds the lock."""

    def __init__(self, tokenizer: Any, folder: Path) -> None:
        self.tokenizer = tokenizer
        self.folder = folder
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: str | Path) -> TransformersTokenizer:
        folder = Path(folder).expanduser()
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as error:
            raise TokenizerLoadError(f"cannot load the tokenizer in {folder}: {error}") from error
        return cls(tokenizer, folder)

    def encode(self, text: str) -> list[int]:
        with self._lock:
            return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        with self._lock:
            return self.tokenizer.decode([int(i) for i in ids],
                                         skip_special_tokens=skip_special_tokens)

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True, *,
               tools: list[dict[str, Any]] | None = None, **variables: Any) -> str:
        if self.tokenizer.chat_template is None:
            raise ChatTemplateError(
                f"the tokenizer in {self.folder} has no chat template, so messages cannot be "
                "rendered: use an instruct/chat model, or send plain text prompts")
        import jinja2

        try:
            with self._lock:
                return self.tokenizer.apply_chat_template(
                    messages, tools=tools, tokenize=False,
                    add_generation_prompt=add_generation_prompt, **variables)
        except jinja2.TemplateError as error:
            raise ChatTemplateError(
                f"the chat template refused these messages: {error}") from error

    def apply_chat_template(self, conversation: list[dict[str, Any]], *args: Any,
                            **kwargs: Any) -> Any:
        with self._lock:
            return self.tokenizer.apply_chat_template(conversation, *args, **kwargs)

    @property
    def special_tokens_map(self) -> dict[str, str]:
        return dict(self.tokenizer.special_tokens_map)

    @property
    def chat_template(self) -> str | dict[str, str] | None:
        return self.tokenizer.chat_template

    @property
    def eos_token_id(self) -> int | None:
        return self.tokenizer.eos_token_id

    @property
    def bos_token_id(self) -> int | None:
        return self.tokenizer.bos_token_id

    @property
    def unk_token_id(self) -> int | None:
        return self.tokenizer.unk_token_id

    @property
    def pad_token_id(self) -> int | None:
        return self.tokenizer.pad_token_id

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def __len__(self) -> int:
        return self.vocab_size

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> Any:
        with self._lock:
            return self.tokenizer.convert_ids_to_tokens(ids if isinstance(ids, int) else list(ids))

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> Any:
        with self._lock:
            return self.tokenizer.convert_tokens_to_ids(
                tokens if isinstance(tokens, str) else list(tokens))


def load_tokenizer(folder: str | Path) -> FolderTokenizer | TransformersTokenizer:
    """The fast path when the folder has ``tokenizer.json``, else transformers (local files
    only: nothing is ever downloaded)."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise TokenizerLoadError(f"tokenizer folder {path} does not exist")
    if (path / "tokenizer.json").is_file():
        return FolderTokenizer.load(path)
    require("local", f"a tokenizer without tokenizer.json ({path})")  # transformers reads it
    return TransformersTokenizer.load(path)


# --- reading the folder the way transformers 5 does ------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise TokenizerLoadError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise TokenizerLoadError(f"{path} does not hold a JSON object")
    return data


def _chat_template(folder: Path, config: Mapping[str, Any]) -> str | dict[str, str] | None:
    """Template files beat the config's ``chat_template``; one default file is a plain
    string, several templates a name -> template dict."""
    templates: dict[str, str] = {}
    try:
        if (folder / TEMPLATE_FILE).is_file():
            templates["default"] = (folder / TEMPLATE_FILE).read_text(encoding="utf-8")
        if (folder / TEMPLATE_DIR).is_dir():
            for path in (folder / TEMPLATE_DIR).glob("*.jinja"):
                templates[path.name.removesuffix(".jinja")] = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TokenizerLoadError(f"cannot read the chat template in {folder}: {error}") from error
    if list(templates) == ["default"]:
        return templates["default"]
    if templates:
        return templates
    value = config.get("chat_template")
    if isinstance(value, list | tuple):
        try:
            return {entry["name"]: entry["template"] for entry in value}
        except (KeyError, TypeError) as error:
            raise TokenizerLoadError(
                f"{folder / 'tokenizer_config.json'}: chat_template is a list but not of "
                "{name, template} entries") from error
    if value is None or isinstance(value, str | dict):
        return value
    raise TokenizerLoadError(f"{folder / 'tokenizer_config.json'}: chat_template is a "
                             f"{type(value).__name__}, not a string or a list")


def _special_tokens(folder: Path, config: Mapping[str, Any], backend: Tokenizer
                    ) -> tuple[dict[str, Token], list[Token], dict[int, AddedToken]]:
    """Named special tokens (standard ones first, then model-specific ``*_token`` keys), the
    extra ones, and the added tokens transformers re-adds, following
    ``PreTrainedTokenizerBase._from_pretrained`` and the ``__init__`` methods."""
    from tokenizers import AddedToken

    kwargs = dict(config)
    if "additional_special_tokens" in kwargs and not kwargs.get("extra_special_tokens"):
        kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")
    explicit = {key: kwargs.pop(key) for key in list(kwargs)
                if key not in NAMED_TOKENS and key.endswith("_token")
                and isinstance(kwargs[key], str)}
    if isinstance(kwargs.get("extra_special_tokens"), dict):
        explicit.update(kwargs.pop("extra_special_tokens"))
    added: dict[int, AddedToken] = {}
    if "added_tokens_decoder" in kwargs:
        for index, spec in dict(kwargs["added_tokens_decoder"]).items():
            added[int(index)] = _added_token(spec, folder)
    else:  # legacy folders: special_tokens_map.json overrides the config
        kwargs.update(_legacy_special_tokens(folder, kwargs))
        if isinstance(kwargs.get("extra_special_tokens"), dict):
            explicit.update(kwargs.pop("extra_special_tokens"))
        added.update(_legacy_added_tokens(folder, kwargs))
        added.update(backend.get_added_tokens_decoder())
    # (transformers also swaps named tokens for their added_tokens_decoder entries here; those
    # entries are re-added below anyway, so the swap changes nothing observable.)
    if "pad_token" not in kwargs and backend.padding is not None:
        kwargs["pad_token"] = backend.padding["pad_token"]
    if "additional_special_tokens" in kwargs and "extra_special_tokens" not in kwargs:
        kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")
    extras = [_token_value(t, folder, "extra_special_tokens")
              for t in kwargs.get("extra_special_tokens") or []]
    auto = {key: value for key, value in kwargs.items()
            if key not in NAMED_TOKENS and key.endswith("_token")
            and (isinstance(value, str | AddedToken) or _is_added_token_dict(value))}
    special = {key: _token_value(kwargs.get(key), folder, key) for key in NAMED_TOKENS}
    for key, value in {**auto, **explicit}.items():
        special[key] = _token_value(value, folder, key)
    named = {key: value for key, value in special.items() if value is not None}
    return named, [token for token in extras if token is not None], added


def _legacy_special_tokens(folder: Path, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``special_tokens_map.json``, read only when the config has no ``added_tokens_decoder``."""
    from tokenizers import AddedToken

    update: dict[str, Any] = {}
    for key, value in _read_json(folder / "special_tokens_map.json").items():
        if isinstance(value, dict) and key != "extra_special_tokens":
            value = AddedToken(**{**_token_fields(value, folder), "special": True})
        elif key == "extra_special_tokens" and isinstance(value, list):
            existing = list(kwargs.get("extra_special_tokens") or [])
            for item in value:
                if isinstance(item, dict):
                    item = AddedToken(**{**_token_fields(item, folder), "special": True})
                if all(str(item) != str(old) for old in existing):
                    existing.append(item)
            value = existing
        update[key] = value
    return update


def _legacy_added_tokens(folder: Path, kwargs: Mapping[str, Any]) -> dict[int, AddedToken]:
    """``added_tokens.json`` (very old folders): special when named as a special token."""
    from tokenizers import AddedToken

    entries = _read_json(folder / "added_tokens.json")
    special = {str(kwargs[k]) for k in NAMED_TOKENS if kwargs.get(k)}
    special.update(str(t) for t in kwargs.get("extra_special_tokens") or [])
    return {int(index): AddedToken(content, rstrip=False, lstrip=False,
                                   normalized=content not in special, special=content in special)
            for content, index in entries.items()}


def _add_missing_tokens(backend: Tokenizer, added: Mapping[int, AddedToken],
                        special: Mapping[str, Token], extras: list[Token]) -> None:
    """transformers re-adds the added tokens it read, then every special token the backend
    does not know yet (as special), in this order: same calls, same ids."""
    from tokenizers import AddedToken

    to_add: list[Token] = [token for _, token in sorted(added.items())]
    known = {token.content for token in backend.get_added_tokens_decoder().values()}
    known.update(str(token) for token in to_add)
    for token in [*special.values(), *extras]:
        if str(token) not in known and token not in to_add:
            to_add.append(token)
    if not to_add:
        return
    named = {str(token) for token in special.values()}
    tokens = []
    for token in to_add:
        if isinstance(token, str):
            token = AddedToken(token, special=True)
        elif not token.special and token.content in named:
            token.special = True
        tokens.append(token)
    backend.add_tokens(tokens)


def _token_value(value: Any, folder: Path | None, key: str) -> Token | None:
    """A special token from a config value: a string or an AddedToken-like dict."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and "content" in value:
        return _added_token(value, folder)
    from tokenizers import AddedToken

    if isinstance(value, AddedToken):
        return value
    raise TokenizerLoadError(f"{folder}: special token {key} is a {type(value).__name__}, "
                             "not a string or an AddedToken")


def _added_token(spec: Any, folder: Path | None) -> AddedToken:
    from tokenizers import AddedToken

    if isinstance(spec, AddedToken):
        return spec
    return AddedToken(**_token_fields(spec, folder))


def _token_fields(spec: Any, folder: Path | None) -> dict[str, Any]:
    fields = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")
    if not isinstance(spec, dict) or not isinstance(spec.get("content"), str):
        raise TokenizerLoadError(f"{folder}: an added token without content: {spec!r}")
    return {key: spec[key] for key in fields if key in spec}


def _is_added_token_dict(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type") == "AddedToken"


def _clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization`` (WordPiece-era spacing fixes)."""
    return (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m")
            .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re"))
