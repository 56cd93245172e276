"""Chat messages carried through the text-only prompt boundary, for chat-mode endpoints.

Components build prompts as text (``render`` then ``generate``); a chat endpoint wants
messages. In chat mode ``render`` returns the messages as a marked JSON block, and
``generate`` turns it back into messages. Text a component appends after a rendered prompt
(a continuation such as "Wait,") travels as a final assistant message, which servers that
support assistant prefill continue; a plain prompt becomes one user message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from openai.types.chat import ChatCompletionMessageParam

from ttc.runtime import Message, RequestError

START = "\x00ttc-chat\x00"
END = "\x00/ttc-chat\x00"


def encode(messages: Sequence[Message]) -> str:
    return START + json.dumps([dict(m) for m in messages], ensure_ascii=False) + END


def decode(prompt: str) -> list[ChatCompletionMessageParam]:
    if not prompt.startswith(START):
        return [{"role": "user", "content": prompt}]
    body, sep, suffix = prompt[len(START):].partition(END)
    if not sep:
        raise RequestError("chat prompt: the rendered messages were cut (no end marker)")
    messages: list[ChatCompletionMessageParam] = json.loads(body)  # what encode wrote
    if suffix:
        messages.append({"role": "assistant", "content": suffix})
    return messages
