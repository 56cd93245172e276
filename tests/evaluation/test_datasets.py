"""Data sets: the JSONL format, its errors, and the sets that ship with ttc."""

from __future__ import annotations

import json
import logging

import pytest

from ttc.dataset import DatasetError, read_jsonl
from ttc.plugin_system import default_host
from ttc.plugins.evaluation.datasets import generate


def write(tmp_path, text: str):
    path = tmp_path / "set.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_field_of_a_line(tmp_path):
    path = write(tmp_path, json.dumps({
        "input": "What is 2 + 3?", "reference": 5, "id": "q1", "task": "number",
        "tests": ["assert True"], "metadata": {"level": 1}}) + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    first, second = read_jsonl(path)
    task = first.task
    assert (task.prompt, task.reference, task.id, task.answer_format) == (
        "What is 2 + 3?", "5", "q1", "number")
    assert task.tests == ("assert True",) and dict(task.metadata) == {"level": 1}
    assert first.where == f"{path}:1"
    assert second.task.id == "3" and second.where == f"{path}:3"  # the line number


def test_unknown_fields_go_to_metadata_with_one_warning(tmp_path, caplog):
    path = write(tmp_path, '{"prompt": "a", "answer": 1, "source": "x"}\n'
                           '{"prompt": "b", "answer": 2}\n')
    with caplog.at_level(logging.WARNING):
        items = read_jsonl(path)
    assert [dict(i.task.metadata) for i in items] == [{"answer": 1, "source": "x"},
                                                       {"answer": 2}]
    warnings = [r for r in caplog.records if "not task fields" in r.getMessage()]
    assert len(warnings) == 1 and "answer, source" in warnings[0].getMessage()


@pytest.mark.parametrize(("text", "where", "says"), [
    ('{"prompt": "a"}\n{oops\n', ":2:2:", "not valid JSON"),
    ('{"reference": "5"}\n', ":1:", "has no question"),
    ('{"prompt": "a", "reference": [1]}\n', ":1:", "'reference' must be"),
    ('{"prompt": "a", "tests": [1]}\n', ":1:", "'tests' must be"),
    ('{"prompt": "a", "id": "x"}\n{"prompt": "b", "id": "x"}\n', ":2:", "used twice"),
    ("\n", "", "has no tasks"),
])
def test_bad_lines_name_the_file_line_and_fix(tmp_path, text, where, says):
    path = write(tmp_path, text)
    with pytest.raises(DatasetError) as raised:
        read_jsonl(path)
    assert f"{path}{where}" in str(raised.value) and says in str(raised.value)


def test_the_shipped_generated_sets_are_what_the_generator_makes():
    for name in generate.GENERATORS:
        for split, items in generate.generate(name).items():
            shipped = (generate.DATA / f"{name}-{split}.jsonl").read_text(encoding="utf-8")
            assert shipped == generate.render(items), f"{name}-{split}: run the generator"


def test_dev_and_test_splits_share_no_question_and_references_are_right():
    registry = default_host().registry
    for name in generate.GENERATORS:
        dev = registry.dataset(f"{name}-dev").load()
        test = registry.dataset(f"{name}-test").load()
        assert (len(dev), len(test)) == (100, 200)
        assert not {i.task.prompt for i in dev} & {i.task.prompt for i in test}
    for item in registry.dataset("arithmetic-test").load():  # recompute every reference
        expression = item.task.prompt.removeprefix("What is ").removesuffix("?")
        value = eval(expression.replace("×", "*").replace("÷", "//"))  # our own data
        assert str(value) == item.task.reference


def test_humaneval_loads_offline_from_the_package():
    items = default_host().registry.dataset("humaneval").load()
    assert len(items) == 164
    first = items[0].task
    assert first.id == "HumanEval/0" and first.answer_format == "code"
    assert first.tests[0].rstrip().endswith("check(has_close_elements)")
    assert first.metadata["entry_point"] == "has_close_elements"
