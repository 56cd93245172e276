"""FolderTokenizer against transformers itself, on the default model's folder and on copies of
it carrying other configs and chat templates (Llama-3, Qwen2 with tools, named templates)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from ttc.plugins.runtimes.folder_tokenizer import (
    ChatTemplateError,
    FolderTokenizer,
    TokenizerLoadError,
    TransformersTokenizer,
    load_tokenizer,
)
from ttc.runtime import RequestError, RuntimeCallError

TEXTS = [
    "", " ", "Hello, world!", "  leading and trailing  ", "tabs\tand\nnewlines\n\n\n",
    "\r\n windows line\r\n", "unicode: é ñ ü ß 中文 日本語 한국어 العربية Ελληνικά",
    "emoji 😀👍🏽 👨‍👩‍👧 🇫🇷", "special <|im_end|> inside <|im_start|>user\ntext",
    "<|endoftext|>", "<|im_start|><|im_end|>", "a" * 1000, "numbers 1234567890 3.14159 -7",
    "code: def f(x):\n    return x**2  # comment\n", "   \n   \n", "don't won't it's they're ,.?!",
    "zero\u200bwidth and combining e\u0301", "\x00 control \x7f chars", "  " * 40 + "x",
]
MESSAGES = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "a"},
     {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red."}],
    [{"role": "user", "content": "émoji 😀 <|im_end|> and\n\nnewlines  "}],
    [{"role": "user", "content": ""}],
]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather <b>now</b> in a city (é, 東京)",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
TOOL_CHAT = [
    {"role": "system", "content": "Use tools."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Paris", "note": "<&>é"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "tool", "content": "{\"wind\": 3}"},
    {"role": "assistant", "content": "21 degrees."},
    {"role": "user", "content": "Thanks"},
]

LLAMA3 = """{{- bos_token }}
{%- set ns = namespace(turns=0) %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message['role'] == 'system' %}
        {{- raise_exception('System message must come first') }}
    {%- endif %}
    {%- if message['role'] == 'note' %}{% continue %}{% endif %}
    {%- if (message['role'] == 'user') != (ns.turns % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/...') }}
    {%- endif %}
    {%- set ns.turns = ns.turns + 1 %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}
    {%- if message['role'] == 'assistant' %}
        {%- generation %}{{ message['content'] | trim }}{% endgeneration %}
    {%- else %}{{ message['content'] | trim }}{% endif %}
    {{- '<|eot_id|>' }}
    {%- if ns.turns >= 6 %}{% break %}{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

QWEN2 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n" }}{{ tools[0] | tojson(indent=2, sort_keys=true) }}{{ "<|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or
           (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' + tool_call.name + '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# Template features beyond the common ones: the dict() global, reasoning aliases, the special
# tokens as variables (pad/unk too), message keys dropped when None.
FEATURES = """{% set d = dict(a=1, b=2) %}{{ d | tojson }}|{{ pad_token }}|{{ unk_token }}
{% for m in messages %}[{{ m.role }}]{{ m.content if m.content is defined else '-' }}
{% if m.reasoning_content %}<think>{{ m.reasoning_content }}/{{ m.thinking }}</think>{% endif %}
{% endfor %}{% if add_generation_prompt %}{{ eos_token }}{% endif %}"""


@pytest.fixture(scope="module")
def folder() -> Path:
    from ttc.plugins.runtimes.local.model_files import ModelNotFoundError, prepare_model_folder

    try:
        return prepare_model_folder("").path
    except ModelNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def ours(folder: Path) -> FolderTokenizer:
    return FolderTokenizer.load(folder)


@pytest.fixture(scope="module")
def fast(folder: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(folder)


@pytest.fixture(scope="module")
def auto(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def copy_folder(source: Path, target: Path, *, template_file: bool = False,
                config: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """The tokenizer files of ``source`` in ``target``, the config updated with ``config``
    (a None value deletes the key); the chat_template.jinja only when asked."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    if template_file:
        shutil.copy(source / "chat_template.jinja", target / "chat_template.jinja")
    settings = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    for key, value in (config or {}).items():
        settings.pop(key, None) if value is None else settings.__setitem__(key, value)
    for key in drop:
        settings.pop(key, None)
    (target / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return target


def reference(path: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(path)


def expected_render(tokenizer: Any, messages: list[dict[str, Any]], add_generation_prompt: bool,
                    **kwargs: Any) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=add_generation_prompt, **kwargs)


# --- the default model's folder ----------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_encode_matches_transformers(ours: FolderTokenizer, fast: Any, auto: Any,
                                     text: str) -> None:
    ids = ours.encode(text)
    assert ids == fast(text, add_special_tokens=False).input_ids
    assert ids == auto(text, add_special_tokens=False).input_ids


@pytest.mark.parametrize("text", TEXTS)
def test_decode_matches_transformers(ours: FolderTokenizer, fast: Any, text: str) -> None:
    ids = fast(text, add_special_tokens=False).input_ids
    assert ours.decode(ids) == fast.decode(ids)


def test_decode_of_arbitrary_ids_matches(ours: FolderTokenizer, fast: Any, auto: Any) -> None:
    """Random ids split multi-byte characters and mix in special tokens."""
    rng = random.Random(7)
    for _ in range(200):
        ids = [rng.randrange(len(fast)) for _ in range(rng.randrange(1, 12))]
        assert ours.decode(ids) == fast.decode(ids) == auto.decode(ids), ids
    assert ours.decode([]) == fast.decode([])
    assert ours.decode((2, 1, 0)) == fast.decode([2, 1, 0])


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("messages", MESSAGES)
def test_render_matches_transformers(ours: FolderTokenizer, fast: Any, auto: Any,
                                     messages: list[dict[str, Any]],
                                     add_generation_prompt: bool) -> None:
    text = ours.render(messages, add_generation_prompt=add_generation_prompt)
    assert text == expected_render(fast, messages, add_generation_prompt)
    assert text == expected_render(auto, messages, add_generation_prompt)
    assert ours.apply_chat_template(messages, tokenize=False,
                                    add_generation_prompt=add_generation_prompt) == text
    assert ours.encode(text) == fast(text, add_special_tokens=False).input_ids


def test_properties_match_transformers(ours: FolderTokenizer, fast: Any) -> None:
    assert ours.eos_token_id == fast.eos_token_id
    assert ours.bos_token_id == fast.bos_token_id
    assert ours.unk_token_id == fast.unk_token_id
    assert ours.pad_token_id == fast.pad_token_id
    assert ours.vocab_size == len(fast) == len(ours)
    assert ours.special_tokens_map == fast.special_tokens_map
    ids = [0, 1, 2, 100, 4000, len(fast) - 1]
    assert ours.convert_ids_to_tokens(ids) == fast.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(5) == fast.convert_ids_to_tokens(5)
    tokens = ["ĠParis", "<|im_end|>", "not-a-token-at-all", "a"]
    assert ours.convert_tokens_to_ids(tokens) == fast.convert_tokens_to_ids(tokens)
    assert ours.convert_tokens_to_ids("ĠParis") == fast.convert_tokens_to_ids("ĠParis")


def test_threads_share_one_tokenizer(ours: FolderTokenizer) -> None:
    expected = [(ours.encode(t), ours.render([{"role": "user", "content": t}])) for t in TEXTS]
    failures: list[str] = []

    def work() -> None:
        for _ in range(20):
            for text, (ids, rendered) in zip(TEXTS, expected, strict=True):
                if ours.encode(text) != ids or ours.decode(ids) != ours.decode(list(ids)) or \
                        ours.render([{"role": "user", "content": text}]) != rendered:
                    failures.append(text)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_loading_does_not_import_transformers(folder: Path) -> None:
    code = (
        "import sys\n"
        "from ttc.plugins.runtimes.folder_tokenizer import load_tokenizer\n"
        f"tok = load_tokenizer({str(folder)!r})\n"
        "ids = tok.encode('Hello world')\n"
        "assert tok.decode(ids) == 'Hello world'\n"
        "assert tok.render([{'role': 'user', 'content': 'hi'}]).endswith('assistant\\n')\n"
        "assert 'transformers' not in sys.modules, 'transformers was imported'\n"
        "print(type(tok).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FolderTokenizer"


# --- other chat templates ----------------------------------------------------------------------


def test_llama3_style_template(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "llama", config={"chat_template": LLAMA3})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    chats = [*MESSAGES, [{"role": "user", "content": "q"}, {"role": "note", "content": "skip"},
                         {"role": "assistant", "content": "  a  "}],
             [{"role": "user", "content": str(i)} if i % 2 == 0
              else {"role": "assistant", "content": str(i)} for i in range(10)]]
    for messages in chats:
        for add in (True, False):
            assert ours.render(messages, add) == expected_render(theirs, messages, add)
    assert ours.render([{"role": "user", "content": "x"}]).startswith("<|im_start|>")


def test_raise_exception_in_template_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    import jinja2

    path = copy_folder(folder, tmp_path / "llama", config={"chat_template": LLAMA3})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(ChatTemplateError, match="roles must alternate") as caught:
        ours.render(bad)
    assert isinstance(caught.value, RequestError)
    assert "refused these messages" in str(caught.value)
    with pytest.raises(jinja2.TemplateError, match="roles must alternate"):
        expected_render(theirs, bad, True)


def test_qwen2_style_template_with_tools(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "qwen", config={"chat_template": QWEN2})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    for messages in [*MESSAGES, TOOL_CHAT]:
        for add in (True, False):
            assert ours.render(messages, add) == expected_render(theirs, messages, add)
            assert ours.render(messages, add, tools=TOOLS) == expected_render(
                theirs, messages, add, tools=TOOLS)
    text = ours.render(TOOL_CHAT, tools=TOOLS)
    assert '"description": "Weather <b>now</b> in a city (é, 東京)"' in text  # no HTML escaping
    assert '"arguments": {"city": "Paris", "note": "<&>é"}' in text


def test_named_templates_from_a_list(folder: Path, tmp_path: Path) -> None:
    templates = [{"name": "default", "template": FEATURES},
                 {"name": "tool_use", "template": QWEN2}]
    path = copy_folder(folder, tmp_path / "named", config={"chat_template": templates})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    assert ours.chat_template == theirs.chat_template
    for messages in [*MESSAGES, TOOL_CHAT]:
        for add in (True, False):
            assert ours.render(messages, add) == expected_render(theirs, messages, add)
            assert ours.render(messages, add, tools=TOOLS) == expected_render(
                theirs, messages, add, tools=TOOLS)
    reasoning = [{"role": "assistant", "content": None, "reasoning": "hmm"},
                 {"role": "assistant", "content": "x", "thinking": "t"}]
    assert ours.render(reasoning) == expected_render(theirs, reasoning, True)
    assert "<think>hmm/hmm</think>" in ours.render(reasoning)
    assert ours.render(MESSAGES[0], tools=TOOLS).startswith("<|im_start|>system")  # tool_use
    assert ours.render(MESSAGES[0]).startswith('{"a": 1, "b": 2}|<|im_end|>|<|endoftext|>')


def test_named_templates_without_default(folder: Path, tmp_path: Path) -> None:
    templates = [{"name": "tool_use", "template": QWEN2}, {"name": "rag", "template": FEATURES}]
    path = copy_folder(folder, tmp_path / "nodefault", config={"chat_template": templates})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    with pytest.raises(ChatTemplateError, match="none is named 'default'"):
        ours.render(MESSAGES[0])
    with pytest.raises(ValueError, match="no default"):
        expected_render(theirs, MESSAGES[0], True)
    assert ours.render(MESSAGES[0], tools=TOOLS) == expected_render(theirs, MESSAGES[0], True,
                                                                     tools=TOOLS)


def test_template_files_beat_the_config(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "files", template_file=True,
                       config={"chat_template": LLAMA3})
    (path / "additional_chat_templates").mkdir()
    (path / "additional_chat_templates" / "tool_use.jinja").write_text(QWEN2, encoding="utf-8")
    ours, theirs = FolderTokenizer.load(path), reference(path)
    assert ours.chat_template == theirs.chat_template
    assert isinstance(ours.chat_template, dict)
    for messages in MESSAGES:
        assert ours.render(messages) == expected_render(theirs, messages, True)
        assert ours.render(messages, tools=TOOLS) == expected_render(theirs, messages, True,
                                                                     tools=TOOLS)
    only_default = copy_folder(folder, tmp_path / "default", template_file=True,
                               config={"chat_template": LLAMA3})
    assert FolderTokenizer.load(only_default).chat_template == reference(
        only_default).chat_template == (folder / "chat_template.jinja").read_text()


def test_generation_tag_and_extra_variables(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "llama", config={"chat_template": LLAMA3})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    chat = MESSAGES[2]
    assert ours.render(chat, date_string="1 Jan 2000") == expected_render(
        theirs, chat, True, date_string="1 Jan 2000")
    assert "Today Date: 1 Jan 2000" in ours.render(chat, date_string="1 Jan 2000")
    assert ours.render(chat, bos_token="<BOS>").startswith("<BOS>")  # variables beat tokens


# --- special tokens and other config settings ----------------------------------------------------


def assert_same(ours: FolderTokenizer, theirs: Any, texts: list[str]) -> None:
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert (ours.eos_token_id, ours.bos_token_id, ours.unk_token_id, ours.pad_token_id) == (
        theirs.eos_token_id, theirs.bos_token_id, theirs.unk_token_id, theirs.pad_token_id)
    assert ours.vocab_size == len(theirs)
    for text in texts:
        ids = theirs(text, add_special_tokens=False).input_ids
        assert ours.encode(text) == ids, text
        assert ours.decode(ids) == theirs.decode(ids), text


def test_added_token_dicts_and_model_specific_tokens(folder: Path, tmp_path: Path) -> None:
    eos = {"__type": "AddedToken", "content": "<|im_end|>", "lstrip": False, "rstrip": False,
           "normalized": False, "single_word": False, "special": True}
    image = {"__type": "AddedToken", "content": "<video>", "lstrip": True, "rstrip": False,
             "normalized": False, "single_word": False, "special": True}
    path = copy_folder(folder, tmp_path / "tokens", template_file=True, config={
        "eos_token": eos, "image_token": "<image>", "video_token": image,
        "extra_special_tokens": ["<extra_a>", "<|im_start|>"], "pad_token": None})
    ours, theirs = FolderTokenizer.load(path), reference(path)
    assert_same(ours, theirs, [*TEXTS, "an <image> and a <video> x", "<extra_a><image>"])
    assert "image_token" in ours.special_tokens_map
    assert ours.render(MESSAGES[1]) == expected_render(theirs, MESSAGES[1], True)


def test_config_added_tokens_decoder_is_applied(folder: Path, tmp_path: Path) -> None:
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    decoder = {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
               for t in tokenizer["added_tokens"]}
    decoder["49152"] = {"content": "<tool>", "lstrip": False, "rstrip": True,
                        "normalized": False, "single_word": False, "special": False}
    path = copy_folder(folder, tmp_path / "decoder", config={**config,
                                                             "added_tokens_decoder": decoder})
    # special_tokens_map.json is ignored when the config has added_tokens_decoder
    (path / "special_tokens_map.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    ours, theirs = FolderTokenizer.load(path), reference(path)
    assert_same(ours, theirs, [*TEXTS, "call <tool>   now", "<tool>"])
    assert ours.eos_token_id == 2


def test_legacy_special_tokens_map_overrides_config(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "legacy", template_file=True)
    (path / "special_tokens_map.json").write_text(json.dumps({
        "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False,
                      "rstrip": False, "single_word": False},
        "mask_token": "<mask>", "additional_special_tokens": ["<|im_start|>", "<x1>"],
        "image_token": {"content": "<img>", "lstrip": True, "rstrip": False,
                        "normalized": False, "single_word": False}}))
    ours, theirs = FolderTokenizer.load(path), reference(path)
    assert_same(ours, theirs, [*TEXTS, "<mask> and <x1> and   <img>"])
    assert ours.eos_token_id == 0
    assert ours.special_tokens_map["image_token"] == "<img>"
    assert ours.render(MESSAGES[0]) == expected_render(theirs, MESSAGES[0], True)


def test_clean_up_tokenization_spaces(folder: Path, tmp_path: Path) -> None:
    texts = ["Hello , world . Isn 't it ?", "a ' b 're 've 's n't !"]
    skipped = copy_folder(folder, tmp_path / "bpe", config={"clean_up_tokenization_spaces": True})
    assert_same(FolderTokenizer.load(skipped), reference(skipped), texts)  # BPE: no clean-up
    forced = copy_folder(folder, tmp_path / "forced", config={
        "clean_up_tokenization_spaces": True,
        "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output": True})
    ours = FolderTokenizer.load(forced)
    assert_same(ours, reference(forced), texts)
    assert ours.decode(ours.encode(texts[0])) == "Hello, world. Isn 't it?"


def test_split_special_tokens_and_baked_in_truncation(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "split", config={"split_special_tokens": True,
                                                          "pad_token": None})
    data = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    data["truncation"] = {"direction": "Right", "max_length": 4, "strategy": "LongestFirst",
                          "stride": 0}
    data["padding"] = {"strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": None,
                       "pad_id": 0, "pad_type_id": 0, "pad_token": "<|endoftext|>"}
    (path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    ours = FolderTokenizer.load(path)
    assert_same(ours, reference(path), TEXTS)
    assert len(ours.encode("a b c d e f g h")) == 8  # neither truncated nor padded
    assert 2 not in ours.encode("<|im_end|>")
    assert ours.special_tokens_map["pad_token"] == "<|endoftext|>"  # from tokenizer.json


# --- errors --------------------------------------------------------------------------------------


def test_folder_without_chat_template(folder: Path, tmp_path: Path) -> None:
    path = copy_folder(folder, tmp_path / "plain", config={"chat_template": None})
    ours = FolderTokenizer.load(path)
    assert ours.encode("hi") == reference(path)("hi", add_special_tokens=False).input_ids
    with pytest.raises(ChatTemplateError, match="has no chat template"):
        ours.render(MESSAGES[0])
    with pytest.raises(ValueError, match="chat_template is not set"):
        expected_render(reference(path), MESSAGES[0], True)


def test_unreadable_files_are_clear_errors(folder: Path, tmp_path: Path) -> None:
    corrupt = copy_folder(folder, tmp_path / "corrupt")
    (corrupt / "tokenizer.json").write_text('{"version": "1.0", "model": ', encoding="utf-8")
    with pytest.raises(TokenizerLoadError, match=r"cannot read .*tokenizer\.json") as caught:
        load_tokenizer(corrupt)
    assert isinstance(caught.value, RuntimeCallError)
    wrong = copy_folder(folder, tmp_path / "wrong")
    (wrong / "tokenizer.json").write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(TokenizerLoadError, match=r"tokenizer\.json"):
        FolderTokenizer.load(wrong)
    bad_config = copy_folder(folder, tmp_path / "config")
    (bad_config / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerLoadError, match=r"tokenizer_config\.json"):
        load_tokenizer(bad_config)
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(TokenizerLoadError, match=r"no tokenizer\.json"):
        FolderTokenizer.load(tmp_path)


def test_bad_templates_and_messages(folder: Path, tmp_path: Path, ours: FolderTokenizer) -> None:
    with pytest.raises(ChatTemplateError, match="empty conversation"):
        ours.render([])
    path = copy_folder(folder, tmp_path / "syntax", config={"chat_template": "{% for m in %}"})
    broken = FolderTokenizer.load(path)  # encode still works; rendering says why it cannot
    assert broken.encode("hi") == ours.encode("hi")
    with pytest.raises(ChatTemplateError, match="does not compile"):
        broken.render(MESSAGES[0])
    unsafe = copy_folder(folder, tmp_path / "unsafe", config={
        "chat_template": "{{ messages.__class__.__mro__ }}"})
    with pytest.raises(ChatTemplateError):
        FolderTokenizer.load(unsafe).render(MESSAGES[0])


# --- the transformers fallback -------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab_merges_folder(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same BPE as vocab.json + merges.txt with no tokenizer.json: what transformers loads
    as a GPT2Tokenizer (sentencepiece-only folders would need a model file we cannot fetch
    offline; this exercises the same route)."""
    path = tmp_path_factory.mktemp("vocab_merges")
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    (path / "vocab.json").write_text(json.dumps(data["model"]["vocab"]), encoding="utf-8")
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                     encoding="utf-8")
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["tokenizer_class"] = "GPT2Tokenizer"
    config["added_tokens_decoder"] = {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
                                      for t in data["added_tokens"]}
    (path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(folder / "chat_template.jinja", path / "chat_template.jinja")
    return path


def test_folder_without_tokenizer_json_uses_transformers(vocab_merges_folder: Path,
                                                         ours: FolderTokenizer) -> None:
    from transformers import AutoTokenizer

    adapter = load_tokenizer(vocab_merges_folder)
    assert isinstance(adapter, TransformersTokenizer)
    theirs = AutoTokenizer.from_pretrained(vocab_merges_folder, local_files_only=True)
    for text in TEXTS:
        ids = theirs(text, add_special_tokens=False).input_ids
        assert adapter.encode(text) == ids == ours.encode(text)
        assert adapter.decode(ids) == theirs.decode(ids) == ours.decode(ids)
    for messages in MESSAGES:
        for add in (True, False):
            assert adapter.render(messages, add) == expected_render(theirs, messages, add) == \
                ours.render(messages, add)
    assert (adapter.eos_token_id, adapter.bos_token_id, adapter.unk_token_id) == (
        ours.eos_token_id, ours.bos_token_id, ours.unk_token_id)
    assert adapter.vocab_size == len(theirs) == ours.vocab_size
    assert adapter.convert_ids_to_tokens([5, 6]) == ours.convert_ids_to_tokens([5, 6])
    assert adapter.convert_tokens_to_ids("ĠParis") == ours.convert_tokens_to_ids("ĠParis")
    assert adapter.special_tokens_map == ours.special_tokens_map


def test_fallback_errors(vocab_merges_folder: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(vocab_merges_folder, plain)
    (plain / "chat_template.jinja").unlink()
    with pytest.raises(ChatTemplateError, match="has no chat template"):
        load_tokenizer(plain).render(MESSAGES[0])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerLoadError, match="cannot load the tokenizer"):
        load_tokenizer(tmp_path / "empty")
