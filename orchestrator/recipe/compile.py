"""Recipe validation: every problem found before anything runs, all reported at once.

Each problem names the file, line and column and gives a one-line fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from ttc.component import Component, Effect
from ttc.errors import RecipeError, RecipeIssue
from ttc.recipe.plan import (
    MAX_SEED,
    SELECT_STAGE,
    Limits,
    ModelBinding,
    Plan,
    RepeatPlan,
    StagePlan,
    StepPlan,
    StopCondition,
)
from ttc.recipe.yaml_source import MAX_DEPTH, MAX_NODES, Path, Positions, load_yaml
from ttc.registry import Registry, did_you_mean
from ttc.runtime import offered_capabilities
from ttc.secrets import MASK, is_secret_key
from ttc.task_format import NoAnswer, TaskFormat

TOP_LEVEL = {"name", "description", "models", "task", "seed", "limits", "stages", "select",
             "source"}
"""``source`` is provenance the compiler checks is a mapping and otherwise ignores (e.g. the
original Archon JSON an imported recipe came from, kept for lossless export)."""
ENTRY_KEYS = {"use", "model"}
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_UNBUDGETED_STAGE_RUNS = 10_000
"""Stage executions (repeat blocks multiply their body by ``max_rounds``) a recipe may plan
without a budget: past this, ``limits: max_calls`` or ``max_tokens`` must bound the run."""

M = TypeVar("M", bound=pydantic.BaseModel)


def validate_strictly(model: type[M], params: Mapping[str, Any]) -> M:
    """Strict types, as in JSON: ``true`` is not 1 and ``"0.5"`` is not a number (an integer
    is a fine float); lists still fill tuples and text still names enum members."""
    return model.model_validate_json(json.dumps(params), strict=True)


def load_recipe(text: str, registry: Registry, source: str = "<recipe>") -> Plan:
    data, positions = load_yaml(text, source)
    return RecipeCompiler(registry, positions).compile(data, text)


def recipe_from_dict(data: Mapping[str, Any], registry: Registry, source: str = "<dict>") -> Plan:
    import yaml

    text = yaml.safe_dump(_plain(data, source), sort_keys=False)
    return load_recipe(text, registry, source)


def _plain(value: Any, source: str, depth: int = 0, count: list[int] | None = None) -> Any:
    """Mappings and sequences as dicts and lists, within the loader's caps (a dict that
    contains itself, or shares one child a million times, fails here instead of hanging)."""
    count = [0] if count is None else count
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        what = f"deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else \
            f"more than {MAX_NODES:,} values"
        raise RecipeError([RecipeIssue(f"the recipe is {what} (or contains itself)",
                                       "build a smaller recipe", source)])
    if isinstance(value, Mapping):
        return {str(k): _plain(v, source, depth + 1, count) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, source, depth + 1, count) for v in value]
    return value


def recipe_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class RecipeCompiler:
    def __init__(self, registry: Registry, positions: Positions) -> None:
        self.registry = registry
        self.pos = positions
        self.issues: list[RecipeIssue] = []
        self.warnings: list[RecipeIssue] = []
        self.models: dict[str, ModelBinding] = {}
        self.runtime_caps: dict[str, frozenset[Any]] = {}
        self._names: set[str] = set()
        self.declared: set[str] = set()
        """Aliases written in ``models:``, valid or not (no cascade of errors for a bad one)."""
        self._repeat_paths: dict[int, Path] = {}

    def fail(self, path: Path, message: str, fix: str) -> None:
        self.issues.append(self.pos.issue(path, message, fix))

    def warn(self, path: Path, message: str, fix: str) -> None:
        self.warnings.append(self.pos.issue(path, message, fix))

    def compile(self, data: Any, text: str) -> Plan:
        if not isinstance(data, dict):
            self.fail((), "a recipe must be a mapping with name, models and stages",
                      "start from a recipe in recipes/")
            raise RecipeError(self.issues)
        for key in data:
            if key not in TOP_LEVEL:
                hint = did_you_mean(key, sorted(TOP_LEVEL))
                self.fail((key,), f"unknown recipe key {key!r}",
                          hint or f"use only {', '.join(sorted(TOP_LEVEL))}")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail(("name",) if "name" in data else (), "the recipe needs a 'name' (text)",
                      "add  name: my-recipe")
            name = "unnamed"
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail(("description",), "'description' must be text", "quote the description")
            description = ""
        if "source" in data and not isinstance(data["source"], dict):
            self.fail(("source",), "'source' must be a mapping (provenance, ignored by runs)",
                      "write  source: {format: ..., config: {...}}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            self.fail(("seed",), f"'seed' must be an integer from 0 to 2**63-1 ({MAX_SEED}), "
                      f"not {seed!r}", "set  seed: 0")
            seed = 0
        self._models(data.get("models"))
        task_format = self._task(data.get("task"))
        limits = self._limits(data.get("limits"))
        stages = self._stages(data.get("stages"))
        if limits is not None:  # a broken limits: block is reported already
            self._check_budget(stages, limits)
        select = None
        if "select" in data:
            select = self._entry(data["select"], ("select",), index=0, final=True)
        self._check_wiring(stages, select)
        if self.issues:
            raise RecipeError(self.issues)
        return Plan(
            name=name,
            description=description,
            models=self.models,
            task_format=task_format,
            seed=seed,
            limits=limits or Limits(),
            stages=tuple(stages),
            select=select,
            source=self.pos.source,
            text=text,
            data=data,
            warnings=tuple(self.warnings),
        )

    # --- models ---------------------------------------------------------------------------

    def _models(self, models: Any) -> None:
        if models is None:
            return
        if not isinstance(models, dict):
            self.fail(("models",), "'models' must map aliases to {runtime, model, options}",
                      "write  models: {small: {runtime: local}}")
            return
        self.declared = set(models)
        for alias, spec in models.items():
            path: Path = ("models", alias)
            if not ALIAS.match(alias):
                self.fail(path, f"model alias {alias!r} is not a plain name",
                          "use letters, digits, _ . -")
            if isinstance(spec, str):
                spec = {"runtime": spec}
            if not isinstance(spec, dict):
                self.fail(path, f"model {alias!r} must be a mapping",
                          "write  {runtime: local, model: ''}")
                continue
            for key in spec:
                if key not in {"runtime", "model", "options"}:
                    self.fail((*path, key), f"unknown key {key!r} in model {alias!r}",
                              did_you_mean(key, ["runtime", "model", "options"])
                              or "use runtime, model and options")
            runtime_name = spec.get("runtime")
            if not isinstance(runtime_name, str):
                self.fail(path, f"model {alias!r} needs a 'runtime'",
                          f"add  runtime: one of {', '.join(sorted(self.registry.runtimes))}")
                continue
            if runtime_name not in self.registry.runtimes:
                hint = did_you_mean(runtime_name, self.registry.runtimes)
                self.fail((*path, "runtime"), f"unknown runtime {runtime_name!r}",
                          hint or f"use one of {', '.join(sorted(self.registry.runtimes))}")
                continue
            if self._unavailable(self.registry.runtimes[runtime_name].plugin,
                                 (*path, "runtime"), f"runtime {runtime_name!r}"):
                continue
            model = spec.get("model", "")
            if model is None:
                model = ""
            if not isinstance(model, str):
                self.fail((*path, "model"), "'model' must be text (a name or a path)",
                          "quote it")
                continue
            runtime_type = self.registry.runtime(runtime_name)
            raw_options = spec.get("options") or {}
            if not isinstance(raw_options, dict):
                self.fail((*path, "options"), "'options' must be a mapping", "write  options: {}")
                continue
            retired = getattr(runtime_type.Options, "retired", {})
            if any(key in retired for key in raw_options):
                for key in raw_options:
                    if key in retired:
                        self.fail((*path, "options", key), f"runtime {runtime_name!r} no "
                                  f"longer takes {key!r}", retired[key])
                continue
            try:
                options = validate_strictly(runtime_type.Options, raw_options)
            except pydantic.ValidationError as exc:
                self._pydantic_issues(exc, (*path, "options"), f"runtime {runtime_name!r}",
                                      runtime_type.Options)
                continue
            self.models[alias] = ModelBinding(alias, runtime_name, model, options)
            self.runtime_caps[alias] = offered_capabilities(runtime_type, options)

    # --- task and limits ------------------------------------------------------------------

    def _task(self, task: Any) -> TaskFormat:
        if task is None:
            return NoAnswer()
        path: Path = ("task",)
        params: dict[str, Any] = {}
        if isinstance(task, dict):
            params = {k: v for k, v in task.items() if k != "use"}
            task = task.get("use")
        if not isinstance(task, str):
            self.fail(path, "'task' must name an answer format",
                      f"use one of {', '.join(sorted(self.registry.tasks))}")
            return NoAnswer()
        if task not in self.registry.tasks:
            hint = did_you_mean(task, self.registry.tasks)
            self.fail(path, f"unknown task format {task!r}",
                      hint or f"use one of {', '.join(sorted(self.registry.tasks))}")
            return NoAnswer()
        cls = self.registry.task(task)
        try:
            return cls(validate_strictly(cls.Config, params))
        except pydantic.ValidationError as exc:
            self._pydantic_issues(exc, path, f"task {task!r}", cls.Config)
            return NoAnswer()

    def _limits(self, limits: Any) -> Limits | None:
        """The run limits, or None when they are broken (and reported)."""
        if limits is None:
            return Limits()
        if not isinstance(limits, dict):
            self.fail(("limits",), "'limits' must be a mapping", "write  limits: {max_calls: 100}")
            return None
        try:
            return validate_strictly(Limits, limits)
        except pydantic.ValidationError as exc:
            self._pydantic_issues(exc, ("limits",), "limits", Limits)
            return None

    # --- stages ---------------------------------------------------------------------------

    def _stages(self, stages: Any, base: Path = ("stages",), prefix: str = "") -> list:
        if stages is None and base == ("stages",):
            self.fail((), "the recipe has no 'stages'", "add  stages: [{use: sample, n: 4}]")
            return []
        if not isinstance(stages, list) or not stages:
            self.fail(base, "'stages' must be a non-empty list",
                      "add at least one stage, e.g.  - use: sample")
            return []
        out: list[StagePlan | RepeatPlan] = []
        for i, stage in enumerate(stages):
            path = (*base, i)
            planned = self._stage(stage, path, f"{prefix}{i + 1}")
            if planned is not None:
                out.append(planned)
        return out

    def _stage(self, stage: Any, path: Path, number: str) -> StagePlan | RepeatPlan | None:
        if isinstance(stage, dict) and "repeat" in stage:
            return self._repeat(stage, path, number)
        name: str | None = None
        if isinstance(stage, dict) and "components" in stage:
            for key in stage:
                if key not in {"name", "components"}:
                    self.fail((*path, key), f"unknown stage key {key!r}",
                              "a named stage has only  name  and  components")
            name = stage.get("name")
            if name is not None and not isinstance(name, str):
                self.fail((*path, "name"), "a stage name must be text", "quote it")
                name = None
            entries, entries_path = stage["components"], (*path, "components")
        elif isinstance(stage, dict):
            entries, entries_path = [stage], None
        elif isinstance(stage, list):
            entries, entries_path = stage, path
        else:
            self.fail(path, "a stage must be a component ({use: ...}), a list of components, "
                      "or a repeat block", "write  - use: sample")
            return None
        if not isinstance(entries, list) or not entries:
            self.fail(entries_path or path, "a stage needs at least one component",
                      "add  - use: NAME  to the stage, or remove the stage")
            return None
        steps = []
        for j, entry in enumerate(entries):
            entry_path = path if entries_path is None else (*entries_path, j)
            step = self._entry(entry, entry_path, index=j)
            if step is not None:
                steps.append(step)
        if not steps:
            return None
        label = name or f"{number}-{steps[0].component.name}"
        self._check_name(label, (*path, "name"))
        if label in self._names:
            self.fail(path, f"two stages are named {label!r}", "give each stage its own name")
        self._names.add(label)
        effects = {s.component.effect for s in steps}
        if Effect.SELECTS in effects and len(steps) > 1:
            self.fail(path, "a component that selects or filters the pool must be alone in "
                      "its stage", "move it into a stage of its own")
        elif len(effects) > 1:
            self.fail(path, "a stage mixes components that make candidates with ones that "
                      "annotate them", "split it into two stages")
        return StagePlan(label, tuple(steps))

    def _check_name(self, label: str, path: Path) -> None:
        if label == SELECT_STAGE:
            self.fail(path, f"a stage may not be named {SELECT_STAGE!r}: that is the name of "
                      "the recipe's final selection in the ledger and the run store",
                      f"rename it, e.g.  name: pre-{SELECT_STAGE}")

    def _repeat(self, stage: dict, path: Path, number: str) -> RepeatPlan | None:
        for key in stage:
            if key not in {"repeat", "name"}:
                self.fail((*path, key), f"unknown key {key!r} next to 'repeat'",
                          "put stages, max_rounds and until inside  repeat:")
        block = stage["repeat"]
        rpath = (*path, "repeat")
        if not isinstance(block, dict):
            self.fail(rpath, "'repeat' must be a mapping with stages, max_rounds and until",
                      "write  repeat: {max_rounds: 3, stages: [...]}")
            return None
        for key in block:
            if key not in {"stages", "max_rounds", "until"}:
                self.fail((*rpath, key), f"unknown key {key!r} in repeat",
                          did_you_mean(key, ["stages", "max_rounds", "until"])
                          or "use stages, max_rounds and until")
        rounds = block.get("max_rounds", 1)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 1000:
            self.fail((*rpath, "max_rounds"), f"max_rounds must be an integer from 1 to 1000, "
                      f"not {rounds!r}", "set  max_rounds: 3")
            rounds = 1
        until = StopCondition()
        if block.get("until") is not None:
            if not isinstance(block["until"], dict):
                self.fail((*rpath, "until"), "'until' must be a mapping",
                          "write  until: {agreement: 0.8}")
            else:
                try:
                    until = validate_strictly(StopCondition, block["until"])
                except pydantic.ValidationError as exc:
                    self._pydantic_issues(exc, (*rpath, "until"), "until", StopCondition)
                if (until.score is None) != (until.at_least is None):
                    self.fail((*rpath, "until"), "'score' and 'at_least' go together",
                              "write  until: {score: verifier, at_least: 0.9}")
        name = stage.get("name")
        label = name if isinstance(name, str) else f"{number}-repeat"
        self._check_name(label, (*path, "name"))
        if "stages" not in block:
            self.fail(rpath, "a repeat block needs 'stages'", "add  stages: [- use: ...]")
            return None
        body = self._stages(block["stages"], (*rpath, "stages"), prefix=f"{label}/")
        if not body:
            return None
        plan = RepeatPlan(label, rounds, until, tuple(body))
        self._repeat_paths[id(plan)] = path
        return plan

    def _entry(self, entry: Any, path: Path, index: int, final: bool = False) -> StepPlan | None:
        if isinstance(entry, str):
            entry = {"use": entry}
        if not isinstance(entry, dict) or "use" not in entry:
            self.fail(path, "a component entry needs 'use: NAME'",
                      f"write  use: one of {', '.join(sorted(self.registry.components)[:8])}")
            return None
        name = entry["use"]
        if not isinstance(name, str):
            self.fail((*path, "use"), "'use' must name a component", "write  use: sample")
            return None
        if name not in self.registry.components:
            hint = did_you_mean(name, self.registry.components)
            self.fail((*path, "use"), f"unknown component {name!r}",
                      hint or "run `ttc components` to list them")
            return None
        if self._unavailable(self.registry.components[name].plugin, (*path, "use"),
                             f"component {name!r}"):
            return None
        cls = self.registry.component(name)
        if final and cls.effect is not Effect.SELECTS:
            self.fail((*path, "use"), f"{name!r} is a {cls.kind}, not a selector",
                      "name a selector here (ttc components lists them)")
            return None
        params = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
        component = self._instantiate(cls, params, path)
        alias = self._model_for(cls, entry.get("model"), path)
        if component is None:
            return None
        if alias is not None and alias in self.runtime_caps:
            missing = component.required_capabilities() - self.runtime_caps[alias]
            if missing:
                binding = self.models[alias]
                names = ", ".join(sorted(missing))
                self.fail(path, f"{name!r} needs {names}, which runtime {binding.runtime!r} "
                          f"(model {alias!r}) does not offer",
                          "give it a model on a runtime that does (e.g. local), or change "
                          "its parameters")
        return StepPlan(component, alias, index)

    def _unavailable(self, plugin: str, path: Path, what: str) -> bool:
        """Report ``what`` when the plugin that registered it cannot work here (e.g. its
        extra is not installed); the fix is the plugin's own (the install command)."""
        problem = self.registry.unavailable.get(plugin)
        if problem:
            self.fail(path, f"{what} cannot run here: plugin {plugin} is unavailable", problem)
        return bool(problem)

    def _instantiate(self, cls: type[Component], params: dict, path: Path) -> Component | None:
        params = self._renamed(cls, params, path)
        for key in params:
            if key not in cls.Config.model_fields:
                hint = did_you_mean(key, list(cls.Config.model_fields))
                known = ", ".join(cls.Config.model_fields) or "none"
                self.fail((*path, key), f"{cls.name!r} has no parameter {key!r}",
                          hint or f"its parameters are: {known}")
        if any(key not in cls.Config.model_fields for key in params):
            return None
        try:
            return cls(validate_strictly(cls.Config, params))
        except pydantic.ValidationError as exc:
            self._pydantic_issues(exc, path, repr(cls.name), cls.Config)
            return None

    def _renamed(self, cls: type[Component], params: dict, path: Path) -> dict:
        """``params`` with old parameter names (``Config.renamed``) replaced by new ones,
        each with a warning; both names at once is an error."""
        renamed = cls.Config.renamed
        if not any(key in renamed for key in params):
            return params
        out = {}
        for key, value in params.items():
            new = renamed.get(key)
            if new is None:
                out[key] = value
            elif new in params:
                self.fail((*path, key), f"{cls.name!r} has both {key!r} and {new!r} (the "
                          f"new name of {key!r})", f"remove  {key}:")
            else:
                self.warn((*path, key), f"{cls.name!r}: {key!r} is now called {new!r}",
                          f"write  {new}: {json.dumps(value)}")
                out[new] = value
        return out

    def _model_for(self, cls: type[Component], alias: Any, path: Path) -> str | None:
        if not cls.uses_model:
            if alias is not None:
                self.fail((*path, "model"), f"{cls.name!r} uses no model", "remove  model:")
            return None
        if alias is None:
            if len(self.declared) == 1:
                return next(iter(self.models), None)
            if not self.declared:
                self.fail(path, f"{cls.name!r} needs a model and the recipe defines none",
                          "add  models: {default: {runtime: local}}")
            else:
                self.fail(path, f"{cls.name!r} needs a model and there are several",
                          f"add  model: one of {', '.join(self.models)}")
            return None
        if isinstance(alias, str) and alias in self.declared and alias not in self.models:
            return None  # already reported under models:
        if not isinstance(alias, str) or alias not in self.models:
            hint = did_you_mean(str(alias), self.models)
            self.fail((*path, "model"), f"no model alias {alias!r} in 'models'",
                      hint or f"use one of {', '.join(self.models) or '(define one in models:)'}")
            return None
        return alias

    # --- budget ---------------------------------------------------------------------------

    def _check_budget(self, stages: list, limits: Limits) -> None:
        """Nested repeats multiply: 10 blocks of 1,000 rounds plan 10^30 stage runs, which
        no one means to run unbounded."""
        if limits.max_calls is not None or limits.max_tokens is not None:
            return
        total = stage_runs(stages)
        if total <= MAX_UNBUDGETED_STAGE_RUNS:
            return
        largest = max((s for s in stages if isinstance(s, RepeatPlan)),
                      key=lambda stage: stage_runs([stage]))
        path = self._repeat_paths.get(id(largest), ("stages",))
        self.fail(path, f"the repeat blocks plan up to {total:,} stage runs (more than "
                  f"{MAX_UNBUDGETED_STAGE_RUNS:,}) and the recipe sets no budget",
                  "add  limits: {max_calls: 1000}  (or max_tokens), or lower max_rounds")

    # --- wiring ---------------------------------------------------------------------------

    def _check_wiring(self, stages: list, select: StepPlan | None) -> None:
        has_candidates = self._walk(stages, False, ("stages",))
        if select is not None and not has_candidates:
            self.fail(("select",), "the final selection has no candidates to choose from",
                      "add a stage that makes candidates (e.g.  - use: sample)")

    def _walk(self, stages: list, has_candidates: bool, base: Path) -> bool:
        for i, stage in enumerate(stages):
            if isinstance(stage, RepeatPlan):
                has_candidates = self._walk(list(stage.body), has_candidates,
                                            (*base, i, "repeat", "stages"))
                continue
            for step in stage.steps:
                if step.component.needs_candidates and not has_candidates:
                    self.fail((*base, i), f"{step.component.name!r} needs candidates, but no "
                              "earlier stage makes any",
                              "put a generator stage (e.g.  - use: sample) before it")
            if any(s.component.effect is Effect.PRODUCES for s in stage.steps):
                has_candidates = True
        return has_candidates

    def _pydantic_issues(
        self, exc: pydantic.ValidationError, path: Path, owner: str,
        model: type[pydantic.BaseModel]
    ) -> None:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if isinstance(p, (str, int)))
            field_name = str(loc[0]) if loc else ""
            field = model.model_fields.get(field_name) if hasattr(model, "model_fields") else None
            expected = _type_name(field.annotation) if field is not None else ""
            if error["type"] == "missing":
                fix = f"add  {field_name}: <{expected or 'value'}>"
                message = f"{owner} needs {field_name!r}"
            elif error["type"] == "missing_extra":  # ttc.extras.check_option
                fix = str(error.get("ctx", {}).get("fix", "install the extra it names"))
                message = f"{owner}: {error['msg']}"
            elif error["type"] == "extra_forbidden":
                fix = f"its keys are: {', '.join(model.model_fields)}"
                message = f"{owner} has no key {field_name!r}"
            else:
                value = error.get("input")
                shown = MASK if any(is_secret_key(str(p)) for p in loc) else repr(value)
                message = f"{owner}: {field_name or 'value'} = {shown}: {error['msg']}"
                fix = f"set {field_name} to {expected}" if expected else "fix the value"
                if error["type"] in {"int_type", "float_type"} and isinstance(value, (bool, str)):
                    fix += (", a number without quotes" if isinstance(value, str)
                            else ", a number, not true/false")
                if field is not None and field.description:
                    fix += f" ({field.description.strip().splitlines()[0]})"
            self.fail((*path, *loc), message, fix)


def stage_runs(stages: Any) -> int:
    """How many stage executions a list of stage plans makes at most."""
    return sum(stage.max_rounds * stage_runs(stage.body) if isinstance(stage, RepeatPlan)
               else 1 for stage in stages)


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")
