"""The project's own data sets, generated from fixed seeds (``python -m
ttc.plugins.evaluation.datasets.generate`` rewrites ``data/``; a test checks the shipped files
equal a fresh generation).

Each set has a ``dev`` split (tune recipes here) and a ``test`` split (report here), drawn
from different seeds with no question in both.

- ``arithmetic``: one expression, five levels of difficulty (``metadata.level``): single
  digits; two-digit sums and differences; products and exact quotients with one two-digit
  operand; three-digit sums and two-digit products; two operations with brackets.
- ``word-problems``: short stories with one or two steps of +, −, × or exact ÷
  (``metadata.steps``), the numbers small enough to do by hand.
- ``choice``: four-option multiple choice (compute, compare, parity), answered with a letter.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
SPLITS = {"dev": (100, 1001), "test": (200, 2002)}
"""Split name → (items, seed)."""

Item = dict[str, Any]


# --- arithmetic ---------------------------------------------------------------------------

def _level1(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    if rng.random() < 0.5:
        return f"{a} + {b}", a + b
    a, b = max(a, b), min(a, b)
    return f"{a} - {b}", a - b


def _level2(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    if rng.random() < 0.5:
        return f"{a} + {b}", a + b
    a, b = max(a, b), min(a, b)
    return f"{a} - {b}", a - b


def _level3(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(11, 99), rng.randint(2, 9)
    if rng.random() < 0.5:
        return f"{a} × {b}", a * b
    return f"{a * b} ÷ {b}", a


def _level4(rng: random.Random) -> tuple[str, int]:
    if rng.random() < 0.5:
        a, b = rng.randint(100, 999), rng.randint(100, 999)
        if rng.random() < 0.5:
            return f"{a} + {b}", a + b
        a, b = max(a, b), min(a, b)
        return f"{a} - {b}", a - b
    a, b = rng.randint(11, 99), rng.randint(11, 99)
    return f"{a} × {b}", a * b


def _level5(rng: random.Random) -> tuple[str, int]:
    a, b, c = rng.randint(2, 30), rng.randint(2, 30), rng.randint(2, 9)
    shape = rng.randrange(4)
    if shape == 0:
        return f"({a} + {b}) × {c}", (a + b) * c
    if shape == 1:
        return f"{a} × {c} + {b}", a * c + b
    if shape == 2:
        a, b = max(a, b), min(a, b)
        return f"({a} - {b}) × {c}", (a - b) * c
    return f"{a} × {c} - {b}", a * c - b


LEVELS: tuple[Callable[[random.Random], tuple[str, int]], ...] = (
    _level1, _level2, _level3, _level4, _level5)


def arithmetic(rng: random.Random) -> Iterator[Item]:
    while True:
        for level, make in enumerate(LEVELS, start=1):
            expression, value = make(rng)
            yield {"prompt": f"What is {expression}?", "reference": str(value),
                   "task": "number", "metadata": {"level": level}}


# --- word problems --------------------------------------------------------------------------

NAMES = ("Tom", "Anna", "Ravi", "Mia", "Leo", "Sara", "Omar", "Lena", "Ben", "Yuki", "Ada",
         "Sam")
THINGS = ("apples", "stickers", "marbles", "books", "pencils", "cards", "shells", "coins")


def _one_step(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        return (f"{name} has {a} {thing}. {name} gets {b} more {thing}. How many {thing} "
                f"does {name} have now?", a + b)
    if kind == 1:
        a = rng.randint(10, 80)
        b = rng.randint(2, a - 1)
        return (f"{name} has {a} {thing} and gives away {b} of them. How many {thing} does "
                f"{name} have left?", a - b)
    if kind == 2:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        return (f"A box holds {a} {thing}. How many {thing} are in {b} boxes?", a * b)
    a, b = rng.randint(2, 9), rng.randint(2, 12)
    return (f"{name} shares {a * b} {thing} equally among {a} friends. How many {thing} does "
            "each friend get?", b)


def _two_steps(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(10, 50), rng.randint(2, 30)
        c = rng.randint(1, a + b - 1)
        return (f"{name} has {a} {thing}, buys {b} more, then loses {c}. How many {thing} "
                f"does {name} have now?", a + b - c)
    if kind == 1:
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
        return (f"{name} buys {a} packs of {thing} with {b} in each pack, and already had "
                f"{c}. How many {thing} does {name} have in all?", a * b + c)
    if kind == 2:
        a, b = rng.randint(2, 9), rng.randint(3, 15)
        return (f"{name} reads {b} pages every day for {a} days, then {b} more pages. How "
                "many pages did {name} read?".replace("{name}", name), a * b + b)
    a, b, c = rng.randint(2, 6), rng.randint(2, 10), rng.randint(2, 10)
    return (f"There are {a} shelves with {b} {thing} each and {c} {thing} on the table. "
            f"How many {thing} are there?", a * b + c)


def word_problems(rng: random.Random) -> Iterator[Item]:
    while True:
        for steps, make in ((1, _one_step), (2, _two_steps)):
            question, value = make(rng)
            yield {"prompt": question, "reference": str(value), "task": "number",
                   "metadata": {"steps": steps}}


# --- multiple choice -------------------------------------------------------------------------

LETTERS = "ABCD"


def _options(rng: random.Random, right: int, wrong: list[int]) -> tuple[str, str]:
    values = [right, *wrong[:3]]
    rng.shuffle(values)
    text = " ".join(f"({LETTERS[i]}) {v}" for i, v in enumerate(values))
    return text, LETTERS[values.index(right)]


def _distinct_wrong(rng: random.Random, right: int, spread: int) -> list[int]:
    wrong: set[int] = set()
    while len(wrong) < 3:
        candidate = right + rng.choice((-1, 1)) * rng.randint(1, spread)
        if candidate != right and candidate >= 0:
            wrong.add(candidate)
    return sorted(wrong)


def choice(rng: random.Random) -> Iterator[Item]:
    while True:
        kind = rng.randrange(3)
        if kind == 0:
            a, b = rng.randint(3, 12), rng.randint(3, 12)
            options, letter = _options(rng, a * b, _distinct_wrong(rng, a * b, 12))
            question = f"What is {a} × {b}? {options}"
        elif kind == 1:
            values = rng.sample(range(10, 100), 4)
            right = max(values)
            options, letter = _options(rng, right, [v for v in values if v != right])
            question = f"Which number is the largest? {options}"
        else:
            odds = [rng.randrange(11, 99, 2) for _ in range(3)]
            even = rng.randrange(10, 99, 2)
            options, letter = _options(rng, even, odds)
            question = f"Which number is even? {options}"
        yield {"prompt": question + "\nAnswer with the letter of the right option.",
               "reference": letter, "task": "choice", "metadata": {"kind": kind}}


GENERATORS: dict[str, Callable[[random.Random], Iterator[Item]]] = {
    "arithmetic": arithmetic,
    "word-problems": word_problems,
    "choice": choice,
}


def generate(name: str) -> dict[str, list[Item]]:
    """Every split of one data set, with ids ``<set>-<split>-<n>`` and no question in two
    splits."""
    seen: set[str] = set()
    splits: dict[str, list[Item]] = {}
    for split, (count, seed) in SPLITS.items():
        rng = random.Random(f"{name}/{seed}")
        items: list[Item] = []
        for item in GENERATORS[name](rng):
            if item["prompt"] in seen:
                continue
            seen.add(item["prompt"])
            items.append({"id": f"{name}-{split}-{len(items) + 1:03d}", **item})
            if len(items) == count:
                break
        splits[split] = items
    return splits


def render(items: list[Item]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name in GENERATORS:
        for split, items in generate(name).items():
            (DATA / f"{name}-{split}.jsonl").write_text(render(items), encoding="utf-8")


if __name__ == "__main__":
    main()
