"""What the type annotations promise at run time: the package says it is typed, optional
runtime features are Protocols checked with isinstance, components know their Config."""

from importlib.resources import files

import pytest

from ttc import CacheFlusher, Component, ComponentConfig, Detokenizer, Effect
from ttc.plugins.runtimes.openai.runtime import OpenAIRuntime
from ttc.plugins.runtimes.scripted import ScriptedRuntime
from ttc.plugins.runtimes.sglang.runtime import SGLangRuntime
from ttc.runtime import Capability, TokenizingType, offered_capabilities


def test_the_package_ships_its_py_typed_marker():
    assert files("ttc").joinpath("py.typed").is_file()


def test_optional_runtime_features_are_found_by_isinstance_on_the_class():
    assert issubclass(SGLangRuntime, CacheFlusher)
    assert not issubclass(ScriptedRuntime, CacheFlusher)
    assert not issubclass(ScriptedRuntime, Detokenizer)


def test_the_local_engine_offers_detokenize_and_flush_cache():
    runtime = pytest.importorskip("ttc.plugins.runtimes.local.runtime")
    assert issubclass(runtime.LocalRuntime, Detokenizer)
    assert issubclass(runtime.LocalRuntime, CacheFlusher)


def test_a_runtime_type_without_tokenizes_offers_tokenize_and_one_with_it_decides():
    assert not isinstance(ScriptedRuntime, TokenizingType)
    assert Capability.TOKENIZE in offered_capabilities(
        ScriptedRuntime, ScriptedRuntime.Options(responses=["x"]))
    assert isinstance(OpenAIRuntime, TokenizingType)
    remote_only = OpenAIRuntime.Options(base_url="http://localhost:1/v1")
    assert Capability.TOKENIZE not in offered_capabilities(OpenAIRuntime, remote_only)


class EchoConfig(ComponentConfig):
    times: int = 2


class Echo(Component[EchoConfig]):
    name = "echo"
    kind = "generator"
    effect = Effect.PRODUCES
    Config = EchoConfig


def test_a_generic_component_builds_its_own_config():
    assert Echo().config == EchoConfig()
    assert Echo.from_params({"times": 3}).config.times == 3
