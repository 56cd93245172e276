"""The Python API: load a recipe, run it on one task or many, get results with lineage."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ttc.background_loop import run_sync
from ttc.errors import RecipeError, RecipeIssue
from ttc.events import RunInfo
from ttc.executor import Executor
from ttc.plugin_system import PluginHost, default_host
from ttc.recipe.compile import load_recipe, recipe_from_dict, recipe_hash
from ttc.recipe.plan import ModelBinding, Plan, check_seed
from ttc.recipe.yaml_source import MAX_CHARS
from ttc.result import RunResult
from ttc.runtime import Runtime
from ttc.state import Task

_runtime_lock = threading.Lock()
_runtimes: dict[tuple[str, str, str], Runtime] = {}


def open_runtime(host: PluginHost, binding: ModelBinding) -> Runtime:
    """The runtime for a model binding, created once per process and shared (a loaded model
    is expensive; every pipeline naming the same model uses the same one)."""
    key = (binding.runtime, binding.model, binding.options.model_dump_json())
    with _runtime_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            runtime_type = host.registry.runtime(binding.runtime)
            runtime = _runtimes[key] = runtime_type.create(binding.model, binding.options)
        return runtime


StoreOption = str | bool | object | None
"""Where runs are recorded: None lets the environment decide (``TTC_DATABASE_URL`` set means
record there), False records nothing, True the default store, a string is a database URL,
any other object a store (e.g. ``ttc.storage.RunStore``) the recording plugin accepts."""


class Pipeline:
    def __init__(
        self,
        plan: Plan,
        *,
        host: PluginHost | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        store: StoreOption = None,
    ) -> None:
        self.plan = plan
        self.host = host or default_host()
        self.store = store
        self._runtimes: dict[str, Runtime] = dict(runtimes or {})
        self._semaphores: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path, **kwargs: Any) -> Pipeline:
        path = Path(path)
        try:
            with path.open("rb") as handle:  # never read more than a recipe may hold
                data = handle.read(4 * MAX_CHARS + 1)
            if len(data) > 4 * MAX_CHARS:
                raise RecipeError([RecipeIssue(
                    f"the recipe file is larger than {4 * MAX_CHARS:,} bytes",
                    "a recipe is a few kilobytes; check that this is the right file",
                    str(path))])
            text = data.decode("utf-8")
        except FileNotFoundError:
            raise RecipeError([RecipeIssue("no such recipe file", "check the path", str(path))]
                              ) from None
        except UnicodeDecodeError as exc:
            raise RecipeError([RecipeIssue(f"the recipe is not UTF-8 text ({exc.reason})",
                                           "save it as UTF-8", str(path))]) from None
        except IsADirectoryError:
            raise RecipeError([RecipeIssue("the recipe path is a folder", "give a .yaml file",
                                           str(path))]) from None
        except OSError as exc:
            raise RecipeError([RecipeIssue(f"cannot read the recipe: {exc.strerror}", "",
                                           str(path))]) from None
        host = kwargs.get("host") or default_host()
        return cls(load_recipe(text, host.registry, str(path)), **kwargs)

    @classmethod
    def from_text(cls, text: str, source: str = "<recipe>", **kwargs: Any) -> Pipeline:
        host = kwargs.get("host") or default_host()
        return cls(load_recipe(text, host.registry, source), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> Pipeline:
        host = kwargs.get("host") or default_host()
        return cls(recipe_from_dict(data, host.registry), **kwargs)

    # --- runtimes -------------------------------------------------------------------------

    def runtime(self, alias: str) -> Runtime:
        runtime = self._runtimes.get(alias)
        if runtime is None:
            runtime = self._runtimes[alias] = open_runtime(self.host, self.plan.models[alias])
        return runtime

    def with_store(self, store: StoreOption) -> Pipeline:
        """The same plan and runtimes, recording where ``store`` says."""
        return Pipeline(self.plan, host=self.host, runtimes=self._runtimes, store=store)

    async def open_runtimes(self) -> dict[str, Runtime]:
        """Every model the recipe names, loaded (once per process) and ready."""
        return await self._open_runtimes()

    async def _open_runtimes(self) -> dict[str, Runtime]:
        missing = [a for a in self.plan.models if a not in self._runtimes]
        for alias in missing:  # loading may block for seconds: keep the loop responsive
            await asyncio.to_thread(self.runtime, alias)
        return {alias: self._runtimes[alias] for alias in self.plan.models}

    # --- running --------------------------------------------------------------------------

    async def arun(
        self,
        task: str | Mapping[str, Any] | Task,
        *,
        seed: int | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        task = Task.of(task)
        runtimes = await self._open_runtimes()
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:  # one limit per pipeline, per event loop it runs on
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.plan.limits.concurrency)
        run = RunInfo(
            run_id=run_id or new_run_id(),
            recipe_name=self.plan.name,
            recipe_text=self.plan.text,
            recipe_hash=recipe_hash(self.plan.text),
            task=task,
            seed=self.plan.seed if seed is None else check_seed(seed),
            source=self.plan.source,
            store=self.store,
        )
        return await Executor(self.plan, self.host.hook).run(run, runtimes, semaphore)

    def run(self, task: str | Mapping[str, Any] | Task, **kwargs: Any) -> RunResult:
        return run_sync(self.arun(task, **kwargs))

    async def arun_batch(
        self,
        tasks: Iterable[str | Mapping[str, Any] | Task],
        *,
        concurrency: int = 4,
        seed: int | None = None,
    ) -> list[RunResult]:
        """Run many tasks, ``concurrency`` at a time; results in input order. A task that
        fails gives a result with ``status == "failed"``; the others go on."""
        if seed is not None:
            check_seed(seed)  # before any task starts
        gate = asyncio.Semaphore(max(1, concurrency))
        parsed = [Task.of(t) for t in tasks]

        async def one(task: Task) -> RunResult:
            async with gate:
                return await self.arun(task, seed=seed)

        return list(await asyncio.gather(*(one(t) for t in parsed)))

    def run_batch(self, tasks: Iterable[Any], *, concurrency: int = 4,
                  seed: int | None = None) -> list[RunResult]:
        return run_sync(self.arun_batch(tasks, concurrency=concurrency, seed=seed))


def new_run_id() -> str:
    return "r-" + uuid.uuid4().hex[:16]
