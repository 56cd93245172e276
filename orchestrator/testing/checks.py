"""Conformance checks any plugin author can call from their own tests.

Each check raises ``ConformanceError`` (an ``AssertionError``, so pytest shows it as a test
failure) listing every problem it found, with the rule and the fix. ``check_component`` runs
them all on one component; ``check_plugin`` on everything a plugin registers.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ttc.component import Component, ComponentConfig, Effect, Selection, Selector
from ttc.runtime import Runtime
from ttc.state import State
from ttc.task_format import TaskFormat
from ttc.testing.harness import (
    DEFAULT_RESPONSES,
    ComponentRun,
    make_state,
    run_component,
    scripted,
)

DEFAULT_TEXTS = ("The answer is 5.", "I think it is 6.", "5", "It must be 5 because 2 + 3 = 5.")
"""The pool a component that needs candidates is checked on: two agree, one differs."""


class ConformanceError(AssertionError):
    """A plugin breaks one of the rules every component, selector or task format follows."""

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = list(problems)
        super().__init__(f"{subject}:\n" + "\n".join(f"  - {p}" for p in self.problems))


def _fail_if(subject: str, problems: list[str]) -> None:
    if problems:
        raise ConformanceError(subject, problems)


# --- static checks --------------------------------------------------------------------------


def check_coroutines(cls: type[Component]) -> None:
    """``run`` (and a selector's ``select``) are ``async def``: the executor awaits them."""
    methods = ("run", "select") if issubclass(cls, Selector) else ("run",)
    problems = [f"{m}() is not 'async def' (the executor awaits it; a plain def fails "
                "mid-run)" for m in methods if not inspect.iscoroutinefunction(getattr(cls, m))]
    _fail_if(f"component {getattr(cls, 'name', cls.__name__)!r}", problems)


def check_config(cls: type[Component]) -> None:
    """The Config is a ``ttc.ComponentConfig`` whose every field is documented (the docs and
    the UI's help come from the docstrings), whose JSON schema exists (forms, the recipe
    reference), and whose default values survive a JSON round trip (recipes are YAML/JSON)."""
    name = getattr(cls, "name", cls.__name__)
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, ComponentConfig)):
        raise ConformanceError(f"component {name!r}", ["Config must subclass "
                                                       "ttc.ComponentConfig"])
    problems = [f"parameter {field!r} has no docstring (write one under the field: it is "
                "the docs and the UI's help)"
                for field, info in config.model_fields.items()
                if not (info.description or "").strip()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydantic only warns about a default JSON cannot hold
        try:
            json.dumps(config.model_json_schema())
        except Exception as exc:
            problems.append(f"the Config has no JSON schema: {type(exc).__name__}: {exc}")
    if all(not info.is_required() for info in config.model_fields.values()):
        try:
            default = config()
            text = default.model_dump_json()
            again = config.model_validate_json(text).model_dump_json()
            if again != text:
                problems.append(f"the default Config changes in a JSON round trip: {text} "
                                f"became {again}")
            cls(default)
        except Exception as exc:
            problems.append(f"the default Config does not round-trip through JSON: "
                            f"{type(exc).__name__}: {exc}")
    _fail_if(f"component {name!r}", problems)


# --- behaviour ------------------------------------------------------------------------------


MEASUREMENTS = frozenset({"wall_time", "latency", "elapsed_s", "duration_s"})
"""Keys whose values are measured, not computed (times): two equal runs may differ there, so
the determinism check leaves them out wherever they appear in a state's data."""


def snapshot(state: State, ignore: frozenset[str] = frozenset()) -> str:
    """Everything a state holds, as canonical JSON: equal snapshots, equal states (keys in
    ``ignore`` left out at any depth)."""
    from ttc.result import _jsonable

    data = {"task": state.task.to_dict(), "pool": [c.to_dict() for c in state.pool],
            "artifacts": _jsonable(state.artifacts), "done": state.done}
    return json.dumps(_without(data, ignore) if ignore else data, sort_keys=True, default=repr)


def _without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list | tuple):
        return [_without(v, keys) for v in value]
    return value


def check_effect(component: Component, before: State, run: ComponentRun) -> None:
    """The output is what the declared ``effect`` promises: producers make new candidates
    (new ids) whose parents exist; annotators return the same candidates (same ids and
    texts) with more information; selectors return a subset of the pool, unchanged."""
    after = run.state
    given = before.by_id()
    ids = [c.id for c in after.pool]
    problems = []
    if len(set(ids)) != len(ids):
        problems.append("the output pool holds one candidate id twice")
    effect = component.effect
    if effect is Effect.PRODUCES:
        known = set(given) | set(run.remembered) | set(ids)
        for c in after.pool:
            if c.id in given:
                if c.text != given[c.id].text:
                    problems.append(f"candidate {c.id} keeps its id but its text changed: "
                                    "new text needs a new candidate (ctx.candidate)")
                continue
            missing = [p for p in c.parents if p not in known]
            if missing:
                problems.append(f"new candidate {c.id} names parents that do not exist: "
                                f"{missing}")
            if component.needs_candidates and before.pool and not c.parents:
                problems.append(f"new candidate {c.id} has no parents although it was made "
                                "from the pool (pass parents=... to ctx.candidate)")
    else:
        verb = "annotator" if effect is Effect.ANNOTATES else "selector"
        extra = [i for i in ids if i not in given]
        if extra:
            problems.append(f"a {verb} returned candidates that were not in the pool: "
                            f"{extra} (declare effect = Effect.PRODUCES to make new ones)")
        if effect is Effect.ANNOTATES and set(ids) != set(given):
            problems.append(f"an annotator must return every candidate it was given (same "
                            f"ids); missing: {sorted(set(given) - set(ids))}")
        for c in after.pool:
            old = given.get(c.id)
            if old is not None and (c.text, c.parents, c.origin) != (
                    old.text, old.parents, old.origin):
                problems.append(f"candidate {c.id} kept its id but its text, parents or "
                                f"origin changed (a {verb} adds scores or feedback only)")
    _fail_if(f"component {component.name!r} ({effect})", problems)


def check_component(
    component: Component | type[Component], state: State | None = None, *,
    responses: Sequence[str] = DEFAULT_RESPONSES, fmt: str | TaskFormat | None = "number",
    seed: int = 0, runtime: Callable[[], Runtime] | None = None,
    order_invariant: bool = True,
) -> ComponentRun:
    """Every check on one component: coroutines, a documented JSON Config, the declared
    effect, inputs never mutated, the same output under the same seed and, for selectors,
    the same decision whatever the pool's order (up to ties; pass ``order_invariant=False``
    for a selector whose rule is about position). Runs on ``state`` (default: a task, plus
    ``DEFAULT_TEXTS`` as the pool when the component needs candidates) with a fresh
    ``runtime()`` per run (default: the scripted runtime answering ``responses``). Returns
    the first run, for further assertions."""
    cls = component if isinstance(component, type) else type(component)
    check_coroutines(cls)
    check_config(cls)
    instance = cls() if isinstance(component, type) else component
    if state is None:
        state = make_state(DEFAULT_TEXTS if cls.needs_candidates else (), fmt=fmt)
    make_runtime = runtime or (lambda: scripted(responses))
    before = snapshot(state)
    first = run_component(instance, state, runtime=make_runtime(), fmt=fmt, seed=seed)
    subject = f"component {cls.name!r}"
    _fail_if(subject, [] if snapshot(state) == before else [
        "it changed the state it was given (return a new State: state.with_pool(...), "
        "candidate.with_scores(...); never mutate artifacts in place)"])
    check_effect(instance, state, first)
    second = run_component(instance, state, runtime=make_runtime(), fmt=fmt, seed=seed)
    problems = []
    if snapshot(first.state, MEASUREMENTS) != snapshot(second.state, MEASUREMENTS):
        problems.append("two runs with the same seed gave different outputs (take seeds "
                        "from ctx.seed(...), make candidates with ctx.candidate(...), never "
                        "depend on time, set or dict order, or global randomness)")
    if sorted(c.fingerprint for c in first.calls) != sorted(c.fingerprint for c in second.calls):
        problems.append("two runs with the same seed made different model calls")
    _fail_if(subject, problems)
    if isinstance(instance, Selector) and order_invariant and len(state.pool) > 1:
        check_order_invariance(instance, state, make_runtime=make_runtime, fmt=fmt, seed=seed)
    return first


def check_order_invariance(
    selector: Selector, state: State, *, make_runtime: Callable[[], Runtime] | None = None,
    fmt: str | TaskFormat | None = "number", seed: int = 0,
) -> None:
    """A selector decides the same whatever the pool's order: the same scores per
    candidate, and a winner that is the same candidate, has the same answer, or ties."""
    make_runtime = make_runtime or (lambda: scripted(DEFAULT_RESPONSES))
    pool = state.pool
    orders = {"reversed": tuple(reversed(pool)), "rotated": pool[1:] + pool[:1]}
    base = _selection(selector, state, make_runtime, fmt, seed)
    problems = []
    for label, order in orders.items():
        other = _selection(selector, state.with_pool(order), make_runtime, fmt, seed)
        if not _close(base.scores, other.scores):
            problems.append(f"scores change when the pool is {label}: {dict(base.scores)} vs "
                            f"{dict(other.scores)}")
        if not _same_decision(base, other, state):
            problems.append(f"the winner changes when the pool is {label}: {base.winner} "
                            f"({base.answer!r}) vs {other.winner} ({other.answer!r}), not a "
                            "tie")
    _fail_if(f"selector {selector.name!r}", problems)


def _selection(selector: Selector, state: State, make_runtime: Callable[[], Runtime],
               fmt: str | TaskFormat | None, seed: int) -> Selection:
    run = run_component(selector, state, runtime=make_runtime(), fmt=fmt, seed=seed)
    return run.selection or Selection(winner=run.state.pool[0].id if run.state.pool else None,
                                      answer=None)


def _close(a: Any, b: Any) -> bool:
    if set(a) != set(b):
        return False
    return all(a[k] == b[k] or (isinstance(a[k], float) and isinstance(b[k], float) and (
        math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12)
        or (math.isnan(a[k]) and math.isnan(b[k])))) for k in a)


def _same_decision(a: Selection, b: Selection, state: State) -> bool:
    if a.winner == b.winner:
        return True
    if a.answer is not None and a.answer == b.answer:
        return True
    score_a, score_b = a.scores.get(a.winner or ""), a.scores.get(b.winner or "")
    if score_a is not None and score_b is not None and math.isclose(score_a, score_b):
        return True  # a tie broken by position
    by_id = state.by_id()
    first, second = by_id.get(a.winner or ""), by_id.get(b.winner or "")
    return bool(first and second and first.answer is not None
                and first.answer == second.answer)


# --- task formats and whole plugins -----------------------------------------------------------


def check_task_format(cls: type[TaskFormat], texts: Sequence[str] = DEFAULT_TEXTS) -> None:
    """A task format reads an answer (text or None) the same way every time, and its keys
    are hashable (answers are grouped by key)."""
    fmt = cls()
    problems = []
    for text in texts:
        answer = fmt.extract(text)
        if answer is not None and not isinstance(answer, str):
            problems.append(f"extract({text!r}) returned {type(answer).__name__}, not str")
            continue
        if fmt.extract(text) != answer:
            problems.append(f"extract({text!r}) is not deterministic")
        if answer is not None:
            try:
                hash(fmt.key(answer))
            except TypeError:
                problems.append(f"key({answer!r}) is not hashable")
    _fail_if(f"task format {getattr(cls, 'name', cls.__name__)!r}", problems)


def check_plugin(plugin: object, name: str = "plugin-under-test") -> dict[str, list[Any]]:
    """Load ``plugin`` (a module or object with hook implementations) the way ttc does and
    fail on anything the loader would refuse or report: hooks that do not match their
    specs, misspelled hook names, a hook spec it needs and this ttc lacks, registrations
    that do not fit. Then check every component and task format it registers. Returns what
    it registered, by hook."""
    from ttc.plugin_system import REGISTRATION_HOOKS, PluginHost, PluginInfo

    host = PluginHost(load_entry_points=False)
    registered_as = host.pm.get_name(plugin)
    if registered_as is not None:  # a built-in module: check it on its own
        host.unregister(registered_as)
    loaded = host._add(plugin, PluginInfo(name, "runtime", None, None))
    problems = [p for info in host.plugins() if info.name == name for p in info.problems]
    _fail_if(f"plugin {name!r}", problems or ([] if loaded else ["it was not loaded"]))
    registered: dict[str, list[Any]] = {}
    for hook in REGISTRATION_HOOKS:
        impl = getattr(plugin, hook, None)
        if impl is not None:
            impl(register=registered.setdefault(hook, []).append)
    for cls in registered.get("ttc_register_components", []):
        check_component(cls)
    for cls in registered.get("ttc_register_tasks", []):
        check_task_format(cls)
    return registered
