"""``ttc serve``: load a runtime from the plugin registry and serve it over HTTP."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

logger = logging.getLogger(__name__)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (numbers, booleans, lists) is used as
    such, anything else is a string: ``-o device=cpu -o max_batch=8``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def create_runtime(runtime_name: str, model: str, options: dict[str, Any]) -> Any:
    """The runtime, through the same registry recipes use (a plugin's runtime works too)."""
    from ttc.plugin_system import default_host
    from ttc.registry import did_you_mean

    registry = default_host().registry
    if runtime_name not in registry.runtimes:
        hint = did_you_mean(runtime_name, registry.runtimes)
        known = ", ".join(sorted(registry.runtimes))
        raise typer.BadParameter(
            f"unknown runtime {runtime_name!r} {hint} (installed: {known})".replace("  ", " "),
            param_hint="--runtime",
        )
    unavailable = registry.unavailable.get(registry.runtimes[runtime_name].plugin)
    if unavailable:
        raise typer.BadParameter(f"runtime {runtime_name!r} is unavailable: {unavailable}",
                                 param_hint="--runtime")
    runtime_type = registry.runtime(runtime_name)
    try:
        runtime_options = runtime_type.Options(**options)
    except ValidationError as error:
        raise typer.BadParameter(
            f"bad options for runtime {runtime_name!r}: {error}", param_hint="--option"
        ) from None
    return runtime_type.create(model, runtime_options)


def load_recipes(paths: list[Path], db: str | None) -> list[Any]:
    """Each recipe as a pipeline that records its runs (in ``db``, else the default store),
    its models opened now, so a bad recipe or an unreachable model fails at start."""
    from ttc import Pipeline, RuntimeCallError, TTCError

    pipelines = []
    for path in paths:
        try:
            pipeline = Pipeline.from_yaml(path, store=db or True)
            for alias in pipeline.plan.models:
                pipeline.runtime(alias)
        except (TTCError, RuntimeCallError) as error:
            message = str(error) if str(path) in str(error) else f"{path}: {error}"
            raise typer.BadParameter(message, param_hint="--recipe") from None
        pipelines.append(pipeline)
    return pipelines


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you mean it.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (SGLang's default).")] = 30000,
    runtime: Annotated[str, typer.Option(help="Runtime type from the plugin registry.")] = "local",
    model: Annotated[str, typer.Option(help="Model for the runtime; empty for its default.")] = "",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Runtime option key=value.")
    ] = None,
    served_model_name: Annotated[
        str | None, typer.Option(help="Model name reported by /v1/models.")
    ] = None,
    max_n: Annotated[int, typer.Option(help="Largest n (samples per prompt) accepted.")] = 64,
    recipe: Annotated[
        list[Path] | None,
        typer.Option("--recipe", help="A recipe served as a model on /v1 (the model id is its "
                     "name); repeat for more."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Run store for the served recipes' runs (default: "
                     "TTC_DATABASE_URL, else the default store)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve a runtime with SGLang's native /generate API and an OpenAI-compatible /v1 API."""
    from ttc.extras import require

    require("serve", "ttc serve")
    import uvicorn

    from ttc.plugins.server.app import create_app
    from ttc.plugins.server.connections import uvicorn_config
    from ttc.plugins.server.served_runtime import ServerLimits

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    options = parse_options(option or [])
    loaded = create_runtime(runtime, model, options)
    pipelines = load_recipes(recipe or [], db)
    try:
        app = create_app(
            loaded,
            served_model_name=served_model_name,
            limits=ServerLimits(max_n=max_n),
            server_args={"host": host, "port": port, "runtime_options": options},
            close_runtime=True,
            recipes=pipelines,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--recipe") from None
    for pipeline in pipelines:
        logger.info("serving recipe %r as a model", pipeline.plan.name)
    logger.info("serving runtime %r (model %r) on http://%s:%d", runtime, loaded.model, host, port)
    uvicorn.Server(uvicorn_config(app, host=host, port=port, log_level=log_level.lower())).run()
