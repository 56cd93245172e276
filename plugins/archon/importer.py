"""Archon JSON configs → ttc recipes (METHODS §9).

Each Archon layer becomes a stage (a layer that mixes component types becomes one stage per
run of same-typed components); several generators or fusers in one layer become one stage
of several entries (an ensemble); each distinct (model, model_type) becomes a model alias.
What cannot be mapped is reported, never silently dropped; Archon's random final pick
becomes an explicit selector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDERS: dict[str, tuple[str, str | None]] = {
    "OpenAI_API": ("openai", None),
    "Together_API": ("openai", "https://api.together.xyz/v1"),
    "Groq_API": ("openai", "https://api.groq.com/openai/v1"),
    "vLLM": ("openai", "http://localhost:8000/v1"),
    "tgi": ("openai", "http://localhost:8080/v1"),
    "sglang": ("sglang", "http://localhost:30000"),
}
"""model_type → (ttc runtime, ``options.base_url``). None: the runtime's default (for
``openai``: ``OPENAI_BASE_URL``, else OpenAI's). The others have no ttc runtime yet."""
SELF_HOSTED = {"vLLM", "tgi", "sglang"}
"""Their base_url is a guess at a local server: the importer says so."""
KEY_ENV = {"OpenAI_API": "OPENAI_API_KEY", "Together_API": "TOGETHER_API_KEY",
           "Groq_API": "GROQ_API_KEY"}
"""Where Archon reads each hosted provider's key. ttc's ``openai`` runtime reads
``OPENAI_API_KEY`` (or ``options.api_key``); the importer never writes a key into a recipe."""
UNMAPPED_PROVIDERS = {"Anthropic_API": "anthropic", "Google_API": "google",
                      "Bedrock_API": "bedrock"}

COMMON = {"type", "model", "model_type", "temperature", "custom"}
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
            known_components: Iterable[str] | None = None) -> Conversion:
    """Convert one Archon config. ``runtime`` maps every model onto that ttc runtime (e.g.
    ``local`` to try a config on the embedded model); ``registered`` (runtime names) and
    ``known_components`` let the report say what will not resolve."""
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
    components = set(known_components or ())
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
                    entry: dict[str, Any] | None = {"use": kind}
                    out.warnings.append(f"{where}: custom component {kind!r} is used by name; "
                                        "its parameters are not translated")
                else:
                    out.errors.append(f"{where}: unknown component type {kind!r}")
                    continue
            else:
                entry = _entry(kind, component, where, out)
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
    _provider_notes(models, bindings, stages, out)
    out.warnings.append("Archon returns a random surviving candidate; the recipe ends with an "
                        "explicit selector instead (select: first, the top of the last stage)")
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
    """What the user must still do for the mapped providers: keys (from the environment,
    never the recipe), guessed server addresses, tokenizers for ``length_control``."""
    providers: dict[str, list[str]] = {}
    for (_, model_type), alias in models.items():
        if bindings[alias].get("runtime") == "openai":
            providers.setdefault(model_type, []).append(alias)
    keyed = {t: KEY_ENV[t] for t in providers if t in KEY_ENV}
    for model_type, env in sorted(keyed.items()):
        if env != "OPENAI_API_KEY":
            out.warnings.append(
                f"{model_type} models ({', '.join(providers[model_type])}): the openai runtime "
                f"reads its key from OPENAI_API_KEY, not {env}; run with "
                f"OPENAI_API_KEY=\"${env}\" (keys are never written into the recipe)")
    if len(set(keyed.values())) > 1:
        out.warnings.append(
            f"the config mixes providers with different keys ({', '.join(sorted(keyed))}); "
            "the openai runtime reads one OPENAI_API_KEY per process: until it can name a "
            "key variable per model, put the models behind one OpenAI-compatible gateway "
            "that holds the keys (and point every base_url at it)")
    for model_type in sorted(set(providers) & SELF_HOSTED):
        for alias in providers[model_type]:
            out.warnings.append(
                f"model {alias!r} ({model_type}): base_url "
                f"{bindings[alias]['options']['base_url']} is a guess; set it to your server")
    fuser_models = {e.get("model") for stage in stages
                    for e in (stage if isinstance(stage, list) else [stage])
                    if e.get("use") == "fuser" and e.get("length_control")}
    for alias in sorted(a for a in fuser_models if a in bindings
                        and bindings[a].get("runtime") == "openai"):
        out.warnings.append(
            f"model {alias!r}: a fuser's length_control counts tokens with the model's "
            "tokenizer; the openai runtime needs  options: {tokenizer: /local/model/folder}  "
            "for that, or the fuser fails at run time")


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
    alias = alias_for(str(model))
    while alias in bindings:
        alias += "-2"
    models[key] = alias
    if runtime is not None:
        bindings[alias] = {"runtime": runtime}
    elif model_type in PROVIDERS:
        name, base_url = PROVIDERS[model_type]
        bindings[alias] = {"runtime": name, "model": str(model)}
        if base_url is not None:
            bindings[alias]["options"] = {"base_url": base_url}
    else:
        name = UNMAPPED_PROVIDERS.get(model_type, model_type.lower() or "unknown")
        bindings[alias] = {"runtime": name, "model": str(model)}
        out.warnings.append(f"{where}: model_type {model_type!r} has no ttc runtime; emitted "
                            f"as runtime {name!r} (add a runtime plugin of that name)")
    return alias
