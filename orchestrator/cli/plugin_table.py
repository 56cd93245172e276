"""What ``ttc plugins`` shows: each plugin, where it comes from, what it registers, which
hooks it implements, which commands it adds, and what is wrong with it."""

from __future__ import annotations

from typing import Any

from ttc.plugin_system import PluginHost

TABLES = (("components", "component"), ("runtimes", "runtime"), ("tasks", "task"),
          ("datasets", "dataset"), ("step_scorers", "step_scorer"),
          ("pipeline_options", "options"))
"""Registry tables → the prefix of their entries in ``provides``."""


def plugin_rows(host: PluginHost) -> list[dict[str, Any]]:
    registry = host.registry
    provides: dict[str, list[str]] = {}
    for table, kind in TABLES:
        for name, entry in getattr(registry, table, {}).items():
            provides.setdefault(entry.plugin, []).append(f"{kind}:{name}")
    return [
        {"name": p.name, "origin": p.origin, "distribution": p.distribution,
         "version": p.version, "status": p.status, "problems": list(p.problems),
         "provides": sorted(provides.get(p.name, [])), "hooks": host.hooks_of(p.name),
         "commands": commands_of(host, p.name)}
        for p in host.plugins()
    ]


def commands_of(host: PluginHost, name: str) -> list[str]:
    """The ``ttc`` sub-commands a plugin adds, found by letting it add them to an empty
    command line of its own (so what is listed is exactly what it registers)."""
    plugin = host.pm.get_plugin(name)
    impl = getattr(plugin, "ttc_register_commands", None) if plugin is not None else None
    if impl is None:
        return []
    import typer

    cli = typer.Typer()
    try:
        impl(cli=cli)
    except Exception as exc:  # reported by the host when the real command line is built
        return [f"(failed: {type(exc).__name__})"]
    names = [c.name or _command_name(c.callback) for c in cli.registered_commands]
    names += [g.name or (g.typer_instance and g.typer_instance.info.name) or "?"
              for g in cli.registered_groups]
    return sorted(n for n in names if n)


def _command_name(callback: Any) -> str:
    return getattr(callback, "__name__", "?").replace("_", "-")
