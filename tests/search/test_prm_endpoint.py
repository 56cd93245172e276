"""The ``prm`` step scorer and the ``prm_endpoint`` runtime against a scripted reward server
speaking SGLang's ``/classify``, the OpenAI-style ``/v1/classify`` and vLLM's ``/pooling``."""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from search_support import TreeRuntime, record

import ttc
from ttc.plugins.search.prm_endpoint import PRMEndpointOptions, PRMEndpointRuntime
from ttc.runtime import GenerateRequest, RequestError, RuntimeCallError, ScoreRequest
from ttc.storage import RunStore
from ttc.storage.replay import replay

STEP = re.compile(r"v(\d)")


def reward(text: str) -> float:
    """The scripted PRM: the last ``v<k>`` the text states, as (k + 1)/11 (1/22 when
    none): strictly between 0 and 1, so its logit exists."""
    found = STEP.findall(text)
    return (int(found[-1]) + 1) / 11 if found else 1 / 22


class RewardServer:
    """A reward endpoint in a thread; ``bodies`` keeps what it was sent, by path."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict]] = []
        self.fail_with: int | None = None
        self.rows_per_step = 1
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append((self.path, body))
                status, answer = server.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, body: dict) -> tuple[int, object]:
        if self.fail_with is not None:
            return self.fail_with, {"error": {"message": "scripted failure"}}
        if path == "/classify":
            return 200, [{"embedding": [math.log(reward(t) / (1 - reward(t)))],
                          "meta_info": {"prompt_tokens": len(t.split())}} for t in body["text"]]
        if path == "/v1/classify":
            data = [{"index": i, "label": "x", "num_classes": 2,
                     "probs": [1 - reward(t), reward(t)]} for i, t in enumerate(body["input"])]
            return 200, {"data": data[::-1], "usage": {"prompt_tokens": 7}}
        if path == "/pooling":
            out = []
            for i, text in enumerate(body["input"]):
                steps = [s for s in text.split("<tag>")[:-1]] * self.rows_per_step
                out.append({"index": i, "data": [[1 - reward(s), reward(s)] for s in steps]})
            return 200, {"data": out, "usage": {"prompt_tokens": 3}}
        return 404, {"error": {"message": "no such path"}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[RewardServer]:
    s = RewardServer()
    yield s
    s.close()


def runtime(server: RewardServer, **options) -> PRMEndpointRuntime:
    return PRMEndpointRuntime("prm-7b", PRMEndpointOptions(url=server.url,
                                                           **options))


def rewards(rt: PRMEndpointRuntime, question: str, *solutions: list[str]) -> list[list[float]]:
    results = asyncio.run(rt.score([ScoreRequest(prompt=question, continuation=json.dumps(s))
                                    for s in solutions]))
    return [[round(math.exp(lp), 6) for lp in r.logprobs] for r in results]


def r6(*rows: list[float]) -> list[list[float]]:
    return [[round(x, 6) for x in row] for row in rows]


@pytest.mark.parametrize("api", ["sglang", "openai"])
def test_classify_apis_score_every_prefix_of_every_solution(server, api) -> None:
    rt = runtime(server, api=api)
    got = rewards(rt, "Q?", ["a v3", "b v7"], ["c v1"])
    assert got == r6([4 / 11, 8 / 11], [2 / 11])
    (path, body), = server.bodies
    texts = body["text"] if api == "sglang" else body["input"]
    assert path == ("/classify" if api == "sglang" else "/v1/classify")
    assert texts == ["Q?\n\na v3", "Q?\n\na v3\n\nb v7", "Q?\n\nc v1"]
    assert body["model"] == "prm-7b"


def test_pooling_reads_one_row_per_step_tag(server) -> None:
    rt = runtime(server, api="pooling", step_tag="<tag>", template="{question} {steps}",
                 step_join=" ")
    assert rewards(rt, "Q?", ["a v3", "b v7", "c v2"]) == r6([4 / 11, 8 / 11, 3 / 11])
    (path, body), = server.bodies
    assert path == "/pooling" and body["input"] == ["Q? a v3<tag> b v7<tag> c v2<tag>"]


def test_pooling_with_the_wrong_number_of_rows_says_what_to_check(server) -> None:
    server.rows_per_step = 2
    rt = runtime(server, api="pooling", step_tag="<tag>")
    with pytest.raises(RuntimeCallError, match=r"rows for 2 steps.*step_tag"):
        rewards(rt, "Q?", ["a v3", "b v7"])


def test_server_errors_are_retryable_and_request_errors_are_not(server) -> None:
    rt = runtime(server, api="openai")
    server.fail_with = 503
    with pytest.raises(RuntimeCallError) as error:
        rewards(rt, "Q?", ["a v1"])
    assert error.value.retryable
    server.fail_with = 400
    with pytest.raises(RequestError):
        rewards(rt, "Q?", ["a v1"])
    with pytest.raises(RequestError, match="only scores"):
        asyncio.run(rt.generate(GenerateRequest(prompt="x")))
    with pytest.raises(RequestError, match="JSON list of steps"):
        asyncio.run(rt.score([ScoreRequest(prompt="Q?", continuation="just text")]))


def search_recipe(server: RewardServer, api: str) -> dict:
    return {
        "name": "prm-search",
        "models": {"m": {"runtime": "scripted"},
                   "prm": {"runtime": "prm_endpoint", "model": "prm-7b",
                           "options": {"url": server.url, "api": api}}},
        "stages": [{"use": "beam_search", "model": "m", "n": 4, "beam_width": 2,
                    "max_steps": 3, "scorer": {"use": "prm", "model": "prm"}}],
        "select": {"use": "weighted_best_of_n", "score": "prm", "mode": "naive"},
    }


@pytest.mark.parametrize("api", ["sglang", "openai"])
def test_beam_search_follows_the_prm_and_its_calls_replay_from_the_store(server, api,
                                                                        tmp_path) -> None:
    store = RunStore.open(f"sqlite:///{tmp_path}/runs.db")
    pipeline = ttc.Pipeline.from_dict(search_recipe(server, api),
                                      runtimes={"m": TreeRuntime()}, store=store)
    result = pipeline.run("What is 6*7?", seed=3)
    assert result.status == "succeeded"
    for c in result.candidates.values():  # every step scored by the PRM's own rule
        steps = c.text.rstrip("\n").split("\n\n")
        assert [c.scores[f"prm#{i}"] for i in range(len(steps))] == pytest.approx(
            [reward(s) for s in steps])
    finished = [c for c in result.candidates.values() if c.artifacts["search"].get("final")]
    assert result.winner.scores["prm#2"] == max(c.scores["prm#2"] for c in finished)
    spent = record(result)
    assert spent["scorer"]["calls"] == 3 == len(server.bodies)  # one PRM call a round
    calls = len(server.bodies)
    report = replay(store, result.run_id, runtimes={"m": TreeRuntime()})
    assert report.made == 0 and report.identical and len(server.bodies) == calls


def test_a_prm_scorer_on_a_model_that_is_no_reward_endpoint_fails_clearly() -> None:
    recipe = {"name": "t", "models": {"m": {"runtime": "scripted"}},
              "stages": [{"use": "dvts", "n": 2, "beam_width": 1, "max_steps": 2,
                          "scorer": {"use": "prm", "model": "m"}}]}
    result = ttc.Pipeline.from_dict(recipe, runtimes={"m": TreeRuntime()},
                                    store=False).run("Q?")
    assert result.status == "failed" and "is not a reward endpoint" in result.error
