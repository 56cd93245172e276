"""The local engine's own forward pass against transformers' on the real model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from ttc.plugins.runtimes.local import linear
from ttc.plugins.runtimes.local.decoder import Decoder
from ttc.plugins.runtimes.local.linear import OneDnnLinear, TorchLinear, linear_factory
from ttc.plugins.runtimes.local.model_config import DecoderConfig, UnsupportedModelError
from ttc.plugins.runtimes.local.model_files import prepare_model_folder

pytestmark = pytest.mark.model

# The chat template (system prompt included) around "What is the capital of France?", then
# "The capital of France is Paris. It is".
IDS = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411,
       407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1,
       520, 9531, 198, 504, 3575, 282, 4649, 314, 7042, 30, 657, 314]


@pytest.fixture(scope="module")
def folder():
    return prepare_model_folder("").path


@pytest.fixture(scope="module")
def transformers_logprobs(folder) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        return model(torch.tensor([IDS])).logits[0].float().log_softmax(-1)


def full_logprobs(decoder: Decoder, ids: list[int] = IDS) -> torch.Tensor:
    with torch.inference_mode():
        logits = decoder.forward(torch.tensor([ids]), decoder.new_batch(rows=1), logits_from=0)
    return logits[0].double().log_softmax(-1)


def test_torch_kernel_matches_transformers(folder, transformers_logprobs) -> None:
    """Same library, same arithmetic; only the fused q/k/v and gate/up products round
    differently."""
    decoder = Decoder.load(folder, kernel="torch")
    assert decoder.kernel == "TorchLinear"
    ours = full_logprobs(decoder)
    assert (ours - transformers_logprobs.double()).abs().max().item() < 1e-4


def test_default_kernel_is_as_exact_as_transformers(folder, transformers_logprobs) -> None:
    """oneDNN sums in another order than MKL: both are fp32, so both are held to a float64
    forward of the same weights, and ours may not stray more than a few times as far."""
    truth = full_logprobs(Decoder.load(folder, dtype=torch.float64, kernel="torch"))
    decoder = Decoder.load(folder)
    ours = full_logprobs(decoder)
    theirs_error = (transformers_logprobs.double() - truth).abs().max().item()
    our_error = (ours - truth).abs().max().item()
    assert 0 < theirs_error < 1e-3
    assert our_error < max(4 * theirs_error, 2e-5)
    assert ours.argmax(-1).tolist() == truth.argmax(-1).tolist()


def test_cached_batched_decoding_equals_a_full_forward(folder) -> None:
    """Rows of different lengths share one left-padded batch and decode token by token."""
    decoder = Decoder.load(folder)
    short, long = IDS[:30], IDS[:38]
    batch = decoder.new_batch()
    with torch.inference_mode():
        for prompt in (long, short):
            single = decoder.new_batch(rows=1)
            decoder.forward(torch.tensor([prompt]), single)
            batch.merge(single, 1)
        steps = []
        for step in range(4):
            tokens = torch.tensor([[IDS[38 + step]], [IDS[30 + step]]])
            steps.append(decoder.forward(tokens, batch).double().log_softmax(-1))
    expected_long = full_logprobs(decoder, IDS[:42])[38:42]
    expected_short = full_logprobs(decoder, IDS[:34])[30:34]
    got = torch.stack(steps, dim=1)
    assert (got[0] - expected_long).abs().max().item() < 1e-4
    assert (got[1] - expected_short).abs().max().item() < 1e-4


@pytest.mark.parametrize(("options", "agreement", "max_drift"), [
    ({"dtype": torch.bfloat16}, 0.9, 1.0),
    # Dynamic int8 quantises activations per tensor too: this small model's outliers make it
    # lossy (docs/local-engine.md reports the numbers), which is why it is not the default.
    ({"quantize": "int8"}, 0.4, 12.0),
])
def test_approximate_modes_run_within_their_documented_drift(folder, options, agreement,
                                                             max_drift) -> None:
    exact = full_logprobs(Decoder.load(folder))
    approximate = full_logprobs(Decoder.load(folder, **options))
    agree = (approximate.argmax(-1) == exact.argmax(-1)).double().mean().item()
    chosen = torch.tensor(IDS[1:])[:, None]
    drift = (approximate[:-1].gather(1, chosen) - exact[:-1].gather(1, chosen)).abs().max()
    assert agree > agreement
    assert 0 < drift.item() < max_drift


def test_kernels_agree_and_onednn_refusal_is_clear(monkeypatch) -> None:
    generator = torch.Generator().manual_seed(3)
    weight, bias = torch.randn(40, 24, generator=generator), torch.randn(40, generator=generator)
    x = torch.randn(2, 5, 24, generator=generator)
    expected = F.linear(x, weight, bias)
    assert torch.allclose(TorchLinear(weight, bias)(x), expected)
    if linear.onednn_works(torch.float32):
        assert torch.allclose(OneDnnLinear(weight, bias)(x), expected, atol=1e-5)
    # The runtime option spells the same choices without importing torch at plugin load.
    from typing import get_args

    from ttc.plugins.runtimes.local.runtime import LocalOptions

    assert get_args(LocalOptions.model_fields["linear"].annotation) == get_args(
        linear.LinearKernel)
    monkeypatch.setattr(linear, "onednn_works", lambda dtype: False)
    assert linear_factory("auto", torch.float32, "none") is TorchLinear
    with pytest.raises(RuntimeError, match="use linear: auto or torch"):
        linear_factory("onednn", torch.float32, "none")


def test_config_variants_and_refusals(folder, tmp_path) -> None:
    raw = json.loads((folder / "config.json").read_text())
    config = DecoderConfig.from_folder(folder)
    assert (config.rope_theta, config.rope_type, config.eos_token_ids) == (100000.0, "default",
                                                                           frozenset({2}))
    old_style = {k: v for k, v in raw.items() if k != "rope_parameters"}
    old_style.update(rope_theta=5e5, rope_scaling=None, model_type="mistral", sliding_window=4096)
    config = DecoderConfig.from_dict(old_style)
    assert config.rope_theta == 5e5 and config.context_length == 4096
    qwen = dict(old_style, model_type="qwen2", use_sliding_window=False)
    assert DecoderConfig.from_dict(qwen).context_length == raw["max_position_embeddings"]
    with pytest.raises(UnsupportedModelError, match="model type 'gpt2'"):
        DecoderConfig.from_dict(dict(raw, model_type="gpt2"))
    with pytest.raises(UnsupportedModelError, match="activation 'relu'"):
        DecoderConfig.from_dict(dict(raw, hidden_act="relu"))
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "config.json").write_text(json.dumps(dict(raw, num_hidden_layers=31)))
    with pytest.raises(UnsupportedModelError, match=r"model\.layers\.30\."):
        Decoder.load(broken)


def test_the_engine_starts_without_transformers() -> None:
    script = (
        "import asyncio, sys\n"
        "from ttc.plugins.runtimes.local import LocalRuntime\n"
        "from ttc.runtime import GenerateRequest, SamplingParams\n"
        "runtime = LocalRuntime.create('', LocalRuntime.Options())\n"
        "prompt = asyncio.run(runtime.render([{'role': 'user', 'content': 'Hi'}]))\n"
        "[c] = asyncio.run(runtime.generate(GenerateRequest(prompt, SamplingParams("
        "max_tokens=2, temperature=0))))\n"
        "assert len(c.token_ids) >= 1, c\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers'))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, check=True)
    assert result.stdout.strip() == "[]"


def test_scaled_rope_tables_equal_transformers(folder) -> None:
    """Rope variants other than the default come from transformers' own functions: the
    decoder's cos/sin tables for llama3 scaling equal LlamaRotaryEmbedding's."""
    from transformers import AutoConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from ttc.plugins.runtimes.local.decoder import _rotary_tables

    raw = {k: v for k, v in json.loads((folder / "config.json").read_text()).items()
           if k != "rope_parameters"}
    raw.update(rope_theta=500000.0, max_position_embeddings=64, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    config = DecoderConfig.from_dict(raw)
    assert config.rope_type == "llama3"
    cos, signed_sin = _rotary_tables(config, torch.float32)
    expected_cos, expected_sin = LlamaRotaryEmbedding(AutoConfig.for_model(**raw))(
        torch.zeros(1, 64, 64), torch.arange(64)[None])
    half = config.head_dim // 2
    assert torch.equal(cos, expected_cos[0])
    assert torch.equal(signed_sin[:, half:], expected_sin[0, :, half:])
    assert torch.equal(signed_sin[:, :half], -expected_sin[0, :, :half])
