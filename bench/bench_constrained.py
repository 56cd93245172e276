"""Constrained vs free decoding on the local engine: decode tokens per second at 8 rows.

    python bench/bench_constrained.py --threads 1 --rounds 3

Free and constrained requests alternate ``--rounds`` times (best of each kept, so the
machine's drift hits both). The constrained grammars let every row run to ``--tokens``
(a long letters-and-spaces regex, and a JSON schema whose string field is long enough), so
both sides decode the same number of steps; the ratio is constrained / free tokens per second
(1.0: the grammar costs nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

QUESTION = [{"role": "user", "content": "Describe the sea in a few sentences."}]
SCHEMA = {"type": "object", "properties": {"text": {"type": "string", "minLength": 400}},
          "required": ["text"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()

    from ttc.plugins.runtimes.local import LocalRuntime
    from ttc.runtime import GenerateRequest, SamplingParams
    from ttc.token_controls import TokenControls

    runtime = LocalRuntime.create("", LocalRuntime.Options(threads=args.threads))
    prompt = asyncio.run(runtime.render(QUESTION))

    def rate(**constraint: str) -> float:
        params = SamplingParams(max_tokens=args.tokens, temperature=1.0, seed=1)
        request = GenerateRequest(prompt, params, n=args.rows, **constraint)
        # The free arm ignores EOS so that it too decodes every row to --tokens.
        controls = TokenControls(ignore_eos=not constraint)
        started = time.perf_counter()
        out = asyncio.run(runtime.generate_controlled(request, controls))
        elapsed = time.perf_counter() - started
        tokens = sum(len(c.token_ids) for c in out)
        assert tokens == args.rows * args.tokens, f"a row ended early ({tokens} tokens)"
        return tokens / elapsed

    arms = {"free": {}, "regex": {"regex": r"[A-Za-z ,.]{300,}"},
            "json_schema": {"json_schema": json.dumps(SCHEMA)}}
    rate(**arms["regex"])  # warm-up: builds llguidance's tokenizer once
    best = {name: 0.0 for name in arms}
    for _ in range(args.rounds):
        for name, constraint in arms.items():
            best[name] = max(best[name], rate(**constraint))
    for name, value in best.items():
        print(f"{name:12s} {value:7.1f} tokens/s  ratio to free {value / best['free']:.3f}")


if __name__ == "__main__":
    main()
