"""Archon JSON configs → ttc recipes (docs/methods.md §9).

Each Archon layer becomes a stage (a layer that mixes component types becomes one stage per
run of same-typed components); several generators or fusers in one layer become one stage
of several entries (an ensemble); each distinct (model, model_type) becomes a model alias on
a runtime that exists (``providers``), with Archon's implicit system messages and
``no_system`` carried over (``system_prompts``). What cannot be mapped is reported, never
silently dropped; Archon's random final pick becomes an explicit selector, reported only
when more than one candidate can reach it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ttc.plugins.archon.providers import PROVIDERS, binding, guessed_address
from ttc.plugins.archon.system_prompts import OWN, system_for

COMMON = {"type", "model", "model_type", "temperature", "custom", "no_system"}
PARAMS: dict[str, dict[str, str]] = {
    "generator": {"samples": "samples", "max_tokens": "max_tokens"},
    "fuser": {"samples": "samples", "max_tokens": "max_tokens",
              "length_control": "length_control"},
    "critic": {"samples": "samples", "max_tokens": "max_tokens"},
    "ranker": {"top_k": "top_k", "use_critiques": "use_critiques", "max_tokens": "max_tokens"},
    "verifier": {"samples": "samples", "first_k": "first_k", "max_tokens": "max_tokens"},
    "unit_test_generator": {"unit_test_cap": "unit_test_cap", "max_tokens": "max_tokens"},
    "unit_test_evaluator": {"top_k": "top_k", "first_k": "first_k",
                            "remove_unit_tests_from_prompt": "remove_unit_tests_from_prompt"},
}
"""Archon key → ttc parameter, per component type (``temperature`` maps for all)."""
IGNORED = {"samples": {"unit_test_generator", "unit_test_evaluator"}}
"""Keys with no effect in ttc for these types (one test list, one judgement per test)."""
READS_CRITIQUES = {"ranker", "fuser", "verifier"}
PRODUCERS = {"generator", "fuser"}


@dataclass
class Conversion:
    recipe: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def alias_for(model: str) -> str:
    """A readable alias from a model name: ``Qwen/Qwen2-72B-Instruct`` → ``qwen2-72b-instruct``."""
    base = model.rsplit("/", 1)[-1].lower()
    alias = re.sub(r"[^a-z0-9_.-]+", "-", base).strip("-.") or "model"
    return alias if alias[0].isalpha() or alias[0] == "_" else f"m-{alias}"


def convert(config: Mapping[str, Any], *, runtime: str | None = None,
            registered: Iterable[str] | None = None,
            known_components: Mapping[str, Any] | Iterable[str] | None = None) -> Conversion:
    """Convert one Archon config. ``runtime`` maps every model onto that ttc runtime (e.g.
    ``local`` to try a config on the embedded model); ``registered`` (runtime names) and
    ``known_components`` (the registry's components; default: the installed ones) let the
    report say what will not resolve."""
    out = Conversion(recipe={})
    name = config.get("name") or "archon-import"
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        out.errors.append("the config has no 'layers' list")
        return out
    models: dict[tuple[str, str], str] = {}
    bindings: dict[str, dict[str, Any]] = {}
    stages: list[Any] = []
    critiques_fresh = False
    critiqued_before = False
    components = _components(known_components)
    lost_system: dict[str, None] = {}
    for li, layer in enumerate(layers):
        if isinstance(layer, Mapping) and "models" in layer:  # older format
            layer = [{"type": "generator", **m} for m in layer["models"]]
        if not isinstance(layer, list):
            out.errors.append(f"layer {li}: expected a list of components")
            continue
        groups: list[tuple[str, list[dict[str, Any]]]] = []
        for ci, component in enumerate(layer):
            where = f"layer {li} component {ci}"
            if not isinstance(component, Mapping) or "type" not in component:
                out.errors.append(f"{where}: a component needs a 'type'")
                continue
            kind = str(component["type"])
            if kind not in PARAMS:
                if component.get("custom") and kind in components:
                    entry: dict[str, Any] = {"use": kind}
                    out.warnings.append(f"{where}: custom component {kind!r} is used by name; "
                                        "its parameters are not translated")
                else:
                    out.errors.append(f"{where}: unknown component type {kind!r}")
                    continue
            else:
                entry = _entry(kind, component, where, out)
                system, lost = system_for(kind, component, _parameters(components, kind))
                if system is not None:
                    entry["system"] = system
                if lost:
                    lost_system[kind] = None
            alias = _model(component, where, runtime, models, bindings, out)
            if alias is not None:
                entry["model"] = alias
            if groups and groups[-1][0] == kind:
                groups[-1][1].append(entry)
            else:
                groups.append((kind, [entry]))
        for kind, entries in groups:
            reads = kind in READS_CRITIQUES and (kind != "ranker" or any(
                e.get("use_critiques") for e in entries))
            if kind in READS_CRITIQUES and critiqued_before and not critiques_fresh:
                out.warnings.append(
                    f"layer {li}: a {kind} follows a critic with a new pool in between "
                    "(Archon's quickstart-advanced shape). In Archon the old critiques would "
                    "be paired by position with the new candidates"
                    + ("" if reads else ", even with use_critiques false")
                    + "; in ttc this component sees no critiques unless a critic runs again")
            if kind == "critic":
                critiques_fresh = critiqued_before = True
            elif kind in PRODUCERS:
                critiques_fresh = False
            stages.append(entries[0] if len(entries) == 1 else entries)
    if not stages:
        out.errors.append("no layer could be converted")
        return out
    if registered is not None:
        for alias, spec in bindings.items():
            if spec["runtime"] not in set(registered):
                out.warnings.append(f"model {alias!r}: runtime {spec['runtime']!r} is not "
                                    "installed; the recipe will not validate until it is")
    if lost_system:
        said = "; ".join(f"{kind}: {' / '.join(repr(p) for p in OWN[kind])}"
                         for kind in lost_system)
        out.warnings.append(
            f"Archon starts each {', '.join(lost_system)} call with a system message of its "
            f"own ({said}); ttc's take no system parameter, so those calls go without one")
    _provider_notes(models, bindings, stages, out)
    survivors = max_pool(stages)
    if survivors is None or survivors > 1:
        out.warnings.append(
            "Archon returns a random surviving candidate"
            + (" (the last layer can leave several)" if survivors else
               " (a custom component's output size is unknown)")
            + "; the recipe ends with an explicit selector instead (select: first, the top "
            "of the last stage)")
    out.recipe = {
        "name": str(name),
        "description": f"Imported from the Archon config {name!r} by ttc import-archon.",
        "models": bindings,
        "stages": stages,
        "select": {"use": "first"},
        "source": {"format": "archon", "config": _plain(config)},
    }
    return out


def _plain(value: Any) -> Any:
    """The config as plain JSON data (lossless export keeps it exactly)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _provider_notes(models: Mapping[tuple[str, str], str], bindings: Mapping[str, Any],
                    stages: list[Any], out: Conversion) -> None:
    """What the user must still do: point guessed server addresses at their servers, give
    a fuser's ``length_control`` a tokenizer, install the litellm extra when it is used."""
    for (_, model_type), alias in sorted(models.items(), key=lambda item: item[1]):
        guess = guessed_address(model_type, bindings[alias])
        if guess is not None:
            out.warnings.append(f"model {alias!r} ({model_type}): the server address {guess} "
                                "is a guess; set it to your server")
    remote = {"openai", "litellm"}
    fuser_models = {e.get("model") for stage in stages
                    for e in (stage if isinstance(stage, list) else [stage])
                    if e.get("use") == "fuser" and e.get("length_control")}
    for alias in sorted(a for a in fuser_models if a in bindings
                        and bindings[a].get("runtime") in remote):
        out.warnings.append(
            f"model {alias!r}: a fuser's length_control counts tokens with the model's "
            f"tokenizer, which the {bindings[alias]['runtime']} runtime has only with  "
            "options: {tokenizer: /local/model/folder}; ttc validate refuses the recipe "
            "until it has one (or drop length_control)")
    on_litellm = sorted(a for a, spec in bindings.items() if spec.get("runtime") == "litellm")
    if on_litellm:
        from ttc.extras import missing

        problem = missing("litellm")
        if problem:
            out.warnings.append(f"models {', '.join(on_litellm)} use the litellm runtime: "
                                f"{problem}")


def max_pool(stages: list[Any]) -> int | None:
    """The most candidates the last stage can leave (None: a custom component's, unknown),
    following Archon's semantics: generators and fusers add ``samples`` each, a ranker keeps
    ``top_k``, a verifier may keep all (all pass, or none does), critics keep the pool."""
    size: int | None = 0
    for stage in stages:
        entries = stage if isinstance(stage, list) else [stage]
        kind = entries[0].get("use")
        if kind in ("generator", "fuser"):
            size = sum(int(e.get("samples", 1)) for e in entries)
        elif kind == "ranker":
            size = min(int(e["top_k"]) for e in entries) if size is None else min(
                [size, *(int(e["top_k"]) for e in entries)])
        elif kind == "unit_test_evaluator":
            tops = [int(e["top_k"]) for e in entries if e.get("top_k")]
            size = (min(tops) if size is None else min([size, *tops])) if tops else size
        elif kind not in ("critic", "verifier", "unit_test_generator"):
            size = None
    return size


def _components(known: Mapping[str, Any] | Iterable[str] | None) -> Mapping[str, Any]:
    """Component name → its registry entry (or None when only names were given)."""
    if known is None:
        from ttc.plugin_system import default_host

        return default_host().registry.components
    if isinstance(known, Mapping):
        return known
    return dict.fromkeys(known)


def _parameters(components: Mapping[str, Any], kind: str) -> list[str]:
    entry = components.get(kind)
    config = getattr(getattr(entry, "obj", None), "Config", None)
    return list(getattr(config, "model_fields", {}) or {})


def _entry(kind: str, component: Mapping[str, Any], where: str,
           out: Conversion) -> dict[str, Any]:
    entry: dict[str, Any] = {"use": kind}
    if "temperature" in component:
        entry["temperature"] = float(component["temperature"])
    mapping = PARAMS[kind]
    for key, value in component.items():
        if key in COMMON:
            continue
        if key in mapping:
            if key == "first_k" and kind == "unit_test_evaluator" and not value:
                continue
            entry[mapping[key]] = value
        elif key == "first_pass" and kind == "unit_test_evaluator":
            if value:
                entry["first_k"] = 1
        elif kind in IGNORED.get(key, ()):
            if value not in (1, None):
                out.warnings.append(f"{where}: {kind} {key}={value!r} has no ttc equivalent "
                                    "(one per candidate); ignored")
        else:
            out.warnings.append(f"{where}: {kind} parameter {key!r} is not mapped; ignored")
    if kind == "ranker" and "top_k" not in entry:
        out.errors.append(f"{where}: a ranker needs 'top_k'")
    return entry


def _model(component: Mapping[str, Any], where: str, runtime: str | None,
           models: dict[tuple[str, str], str], bindings: dict[str, dict[str, Any]],
           out: Conversion) -> str | None:
    model = component.get("model")
    model_type = str(component.get("model_type", ""))
    if not model:
        return None
    key = (str(model), model_type)
    if key in models:
        return models[key]
    spec = binding(model_type, str(model))
    alias = alias_for(spec["model"] if spec is not None else str(model))  # TGI's is its URL
    while alias in bindings:
        alias += "-2"
    models[key] = alias
    if runtime is not None:
        bindings[alias] = {"runtime": runtime}
    elif spec is not None:
        bindings[alias] = spec
    else:
        name = model_type.lower() or "unknown"
        bindings[alias] = {"runtime": name, "model": str(model)}
        out.warnings.append(
            f"{where}: model_type {model_type!r} is not one of Archon's "
            f"({', '.join(PROVIDERS)}): a custom generator; emitted as runtime {name!r} (add "
            "a runtime plugin of that name, or import with --runtime NAME)")
    return alias
