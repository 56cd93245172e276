"""The run page shows what the store holds: the lineage graph, each candidate with its own
critiques and scores, the certainty heat map, every model call and the ledger per round."""

from __future__ import annotations

import html
import json
import re

import pytest
from ui_support import REPEAT_RECIPE, record

from ttc.storage import RunStore
from ttc.ui.certainty import METRICS, certainty, heat_map_html, least_sure, token_pieces
from ttc.ui.ledger import ledger_rows
from ttc.ui.lineage import ANCESTOR, OTHER, WINNER, build_lineage


def lineage_spec(at) -> dict:
    """The lineage chart's Vega-Lite spec (the one with a clickable ``node`` selection)."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    (spec,) = [s for s in specs if '"node"' in json.dumps(s)]
    return spec


def heat_map_text(at) -> str:
    (block,) = [h.value for h in at.html if "ttc-heatmap" in h.value]
    pieces = re.findall(r'<span class="ttc-token"[^>]*>(.*?)</span>', block, flags=re.S)
    return html.unescape("".join(pieces).replace("⏎<br>", "\n"))


def test_run_page_shows_lineage_candidates_critiques_calls_and_ledger(
        app, db_url: str, scripted_run: str) -> None:
    run = RunStore.open(db_url).get_run(scripted_run)
    at = app(db_url, "run", run=scripted_run)
    assert at.title[0].value == f"Run {scripted_run}"
    spec = json.dumps(lineage_spec(at))
    assert all(c.id in spec for c in run.candidates)
    # the winner's card is shown first; its critique is its own
    cards = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert cards[0] == f"#### `{run.winner_id}` ★ winner"
    by_answer = {c.answer: c for c in run.candidates}
    # every candidate's expander holds the critique written about that candidate
    for expander in at.expander:
        cid = expander.label.lstrip("★ ").split(" ")[0]
        answer = next(c.answer for c in run.candidates if c.id == cid)
        texts = " ".join(c.value for c in expander.code)
        assert ("five is wrong" in texts) == (answer == "5")
        assert ("four is right" in texts) == (answer == "4")
    five = by_answer["5"].id
    at.selectbox(key=f"run.candidate.{scripted_run}").set_value(five).run()
    cards = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert cards[0] == f"#### `{five}`"
    # calls and ledger
    calls = next(d.value for d in at.dataframe if "latency_s" in d.value.columns)
    assert len(calls) == len(run.model_calls)
    assert list(calls["cached_tokens"]) == [c.cached_tokens for c in run.model_calls]
    ledger = next(d.value for d in at.dataframe if "cache_hit" in d.value.columns)
    assert list(ledger["stage"]) == ["1-sample", "2-critic", "select", "total"]
    assert ledger["calls"].iloc[-1] == run.calls
    # token ids, since the scripted runtime cannot decode them, shaded per token
    assert heat_map_text(at).startswith("[")
    assert not at.exception


def test_an_unknown_run_is_a_message_not_an_error(app, db_url: str, scripted_run: str) -> None:
    at = app(db_url, "run", run="r-nope")
    assert any("no recorded run 'r-nope'" in w.value for w in at.warning)


def test_lineage_and_ledger_of_a_repeat_block(db_url: str) -> None:
    run = RunStore.open(db_url).get_run(record(db_url, REPEAT_RECIPE, "What is 2 + 2?"))
    lineage = build_lineage(run)
    assert lineage.columns == ["1-sample", "2-repeat/1-self_refine · round 1",
                               "2-repeat/1-self_refine · round 2"]
    roles = {n.id: n.role for n in lineage.nodes}
    assert roles[run.winner_id] == WINNER
    chain = [run.winner_id]
    by_id = {c.id: c for c in run.candidates}
    while by_id[chain[-1]].parents:
        chain.append(by_id[chain[-1]].parents[0])
    assert len(chain) == 3 and all(roles[c] == ANCESTOR for c in chain[1:])
    assert sum(role == OTHER for role in roles.values()) == len(roles) - 3
    assert all(e.on_winner_path == (e.child in chain and e.parent in chain)
               for e in lineage.edges)
    rows = ledger_rows(run)
    rounds = [r for r in rows if r["stage"] == "2-repeat/1-self_refine"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[0]["calls"] == rounds[1]["calls"] > 0  # per round, not cumulative
    assert sum(r["calls"] for r in rows[:-1]) == rows[-1]["calls"] == run.calls
    assert rows[-1]["calls_recorded"] == len(run.model_calls)


def test_certainty_shading_marks_the_least_sure_token() -> None:
    logprob = METRICS[0]
    assert certainty([-0.1, -2.0, float("-inf")], True) == [1.0, 0.0, 0.0]
    assert least_sure([-0.1, -3.0, -1.0], True) == 1
    assert least_sure([0.1, 3.0, 1.0], False) == 1
    block = heat_map_html(["a", "<b>", "\n"], [-0.1, -3.0, -1.0], logprob)
    assert block.count('class="ttc-token"') == 3 and "&lt;b&gt;" in block
    assert "outline" in block.split('class="ttc-token"')[2]  # the second token
    words = ["Hel", "lo", " wor", "ld"]
    assert token_pieces(lambda ids: "".join(words[i] for i in ids), [0, 1, 2, 3]) == words
    # a token ending inside a character adds nothing until the character is whole
    decoded = {1: "\ufffd", 2: "é", 3: "é!"}
    assert token_pieces(lambda ids: decoded[len(ids)], [7, 8, 9]) == ["", "é", "!"]


@pytest.mark.model
def test_the_heat_map_shows_the_models_own_token_text(app, local_run) -> None:
    url, run_id = local_run
    run = RunStore.open(url).get_run(run_id)
    at = app(url, "run", timeout=120, run=run_id)
    winner = next(c for c in run.candidates if c.id == run.winner_id)
    shown = heat_map_text(at)  # the model's tokens, its end-of-turn token included
    assert shown.startswith(winner.text) and len(shown) <= len(winner.text) + 12
    at.radio(key="run.cert.metric").set_value("entropy").run()
    assert "entropy = " in next(h.value for h in at.html if "ttc-heatmap" in h.value)


def test_parse_failures_are_rederived_from_the_recording_without_model_calls(
        app, db_url: str) -> None:
    # the scripted critic answers "The answer is …", which is not a critique
    recipe = REPEAT_RECIPE.replace("        - {use: self_refine, max_tokens: 16}",
                                   "        - {use: critic, mode: each, parse_retries: 1}\n"
                                   "        - {use: self_refine, max_tokens: 16}")
    run_id = record(db_url, recipe, "What is 2 + 2?")
    store = RunStore.open(db_url)
    before = len(store.get_run(run_id).model_calls)
    at = app(db_url, "run", run=run_id)
    at.button(key=f"run.rederive.{run_id}").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["4 parse failure(s):"]  # 2 candidates x 2 rounds
    failures = next(d.value for d in at.dataframe if "attempts" in d.value.columns)
    assert set(failures["component"]) == {"critic"} and list(failures["attempts"]) == [2] * 4
    assert sorted(failures["round"]) == [1, 1, 2, 2]
    assert store.count_runs() == 1 and len(store.get_run(run_id).model_calls) == before
