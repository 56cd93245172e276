"""ttc: a plugin-based orchestrator for test-time compute.

The public API: load a recipe into a ``Pipeline`` and run it; write components, runtimes and
task formats as plugins with ``@hookimpl``.
"""

from ttc.candidate import Candidate, Origin, TokenStats
from ttc.component import Component, ComponentConfig, Effect, Selection, Selector, SelectorConfig
from ttc.context import ComponentContext
from ttc.dataset import Dataset, DatasetError, Item, read_jsonl
from ttc.errors import BudgetExhausted, ModelCallFailed, RecipeError, TTCError, UsageError
from ttc.pipeline import Pipeline
from ttc.pipeline_options import PipelineOption, PipelineOptions
from ttc.plugin_system import PluginHost, default_host, hookimpl
from ttc.result import RunResult
from ttc.runtime import (
    CacheFlusher,
    Capability,
    Completion,
    Detokenizer,
    GenerateRequest,
    RequestError,
    Runtime,
    RuntimeCallError,
    RuntimeOptions,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from ttc.sampling_config import SamplingConfig
from ttc.state import Ledger, RunWarning, StageUsage, State, Task
from ttc.task_format import TaskFormat, TaskFormatConfig

__all__ = [
    "BudgetExhausted",
    "CacheFlusher",
    "Candidate",
    "Capability",
    "Completion",
    "Component",
    "ComponentConfig",
    "ComponentContext",
    "Dataset",
    "DatasetError",
    "Detokenizer",
    "Effect",
    "GenerateRequest",
    "Item",
    "Ledger",
    "ModelCallFailed",
    "Origin",
    "Pipeline",
    "PipelineOption",
    "PipelineOptions",
    "PluginHost",
    "RecipeError",
    "RequestError",
    "RunResult",
    "RunWarning",
    "Runtime",
    "RuntimeCallError",
    "RuntimeOptions",
    "SamplingConfig",
    "SamplingParams",
    "ScoreRequest",
    "ScoreResult",
    "Selection",
    "Selector",
    "SelectorConfig",
    "StageUsage",
    "State",
    "TTCError",
    "Task",
    "TaskFormat",
    "TaskFormatConfig",
    "TokenStats",
    "UsageError",
    "default_host",
    "hookimpl",
    "read_jsonl",
]
