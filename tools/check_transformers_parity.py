#!/usr/bin/env python3
"""Parity of dpo's model code with transformers itself, on tiny random models of every
architecture dpo implements (Llama, Llama 3 RoPE scaling, Mistral with a sliding window, Qwen2,
Qwen3 with tied and untied embeddings, ...).

Run with the oracle Python (tools/oracle/setup.sh, `make oracle`: transformers, torch, fp32 on
the CPU, eager attention). tests/model/transformers_parity_test.cpp drives it:

    check_transformers_parity.py generate --out DIR
        For each case: builds the model with transformers from its config (fixed seed, weights
        drawn wider than transformers' init and norm weights / biases away from 1 / 0 so that a
        mistake in any of them shows), saves it with save_pretrained (safetensors) in
        DIR/<case>/hf, and writes DIR/cases.json: per case its folder, a few token sequences
        (lengths 2..13, longer than the sliding windows) and transformers' per-token log-probs
        log p(ids[t] | ids[:t]) for t >= 1, each sequence run alone (no padding).

    check_transformers_parity.py compare --cases DIR/cases.json --dpo DPO.json [--tolerance 1e-5]
        DPO.json holds dpo's log-probs of the same sequences: {"<case>": {"logprobs": [[...]],
        "saved": "FOLDER"}}, "saved" being the folder dpo's own checkpoint writer
        (save_pretrained in model/checkpoint.h, the code that writes a run's final/) made from
        the model it loaded. Loads that folder with AutoModelForCausalLM and recomputes the
        log-probs, then prints, per case, the largest |transformers - dpo| per token for the
        folder transformers wrote and for the folder dpo wrote; exit 1 when one is above the
        tolerance (nats per token), or when dpo's folder does not load.

docs/parity.md records the figures.
"""
import argparse
import json
import os
import sys

import torch
import transformers.utils.logging
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

VOCAB = 400  # the size of the tests' tiny sentencepiece tokenizer

BASE = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
            max_position_embeddings=256, initializer_range=0.02, bos_token_id=1, eos_token_id=2)

# name -> (model_type, extra config keys). Each differs from the others in what dpo must handle.
CASES = {
    "llama": ("llama", dict(rope_theta=10000.0)),
    # head_dim 32 != hidden / heads = 16 (LlamaConfig reads head_dim), and q/k/v/o biases.
    "llama-head-dim-bias": ("llama", dict(head_dim=32, attention_bias=True)),
    # Llama 3.1's scaling with a short original context, so that head_dim 16's frequencies fall in
    # all three bands (kept, interpolated, divided by the factor).
    "llama3-rope": ("llama", dict(rope_theta=500000.0, rope_scaling=dict(
        rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=64))),
    # A sliding window shorter than most sequences: every layer slides.
    "mistral-sliding": ("mistral", dict(sliding_window=5, rope_theta=10000.0)),
    "qwen2-tied": ("qwen2", dict(tie_word_embeddings=True, rope_theta=1000000.0,
                                 use_sliding_window=False, sliding_window=None)),
    # Layer 0 full attention, layer 1 a 4-token window (max_window_layers = 1).
    "qwen2-sliding": ("qwen2", dict(use_sliding_window=True, sliding_window=4,
                                    max_window_layers=1)),
    # Qwen3-0.6B's own arrangement: head_dim 128 with hidden 1024 and 16 heads, here 32 with 64
    # and 4; tied embeddings, no bias.
    "qwen3-tied": ("qwen3", dict(head_dim=32, tie_word_embeddings=True, rope_theta=1000000.0,
                                 use_sliding_window=False, sliding_window=None)),
    "qwen3-untied": ("qwen3", dict(head_dim=32, tie_word_embeddings=False)),
    "qwen3-bias": ("qwen3", dict(attention_bias=True)),
    # layer_types given explicitly, the sliding layer first.
    "qwen3-sliding": ("qwen3", dict(head_dim=32, use_sliding_window=True, sliding_window=3,
                                    layer_types=["sliding_attention", "full_attention"])),
}

LENGTHS = [13, 2, 9, 6]


def dtype_kwargs():
    # transformers 5 names the argument dtype; 4.x torch_dtype.
    major = int(transformers.__version__.split(".")[0])
    return {"dtype" if major >= 5 else "torch_dtype": torch.float32}


def build(model_type, extra, seed):
    config = AutoConfig.for_model(model_type, **{**BASE, **extra})
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", **dtype_kwargs())
    model = model.float().eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):  # RMSNorm weights, q_norm / k_norm included
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=generator))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))
            else:  # wide enough that the log-probs are far from uniform
                p.copy_(0.15 * torch.randn(p.shape, generator=generator))
    return model


def token_logprobs(model, sequences):
    """Per sequence, log p(ids[t] | ids[:t]) for t >= 1, each sequence run alone."""
    out = []
    with torch.no_grad():
        for ids in sequences:
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            out.append([float(logp[t - 1, ids[t]]) for t in range(1, len(ids))])
    return out


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cases = {}
    for number, (name, (model_type, extra)) in enumerate(sorted(CASES.items())):
        model = build(model_type, extra, seed=1000 + number)
        folder = os.path.join(out_dir, name, "hf")
        model.save_pretrained(folder, safe_serialization=True)
        generator = torch.Generator().manual_seed(2000 + number)
        sequences = [torch.randint(0, VOCAB, (n,), generator=generator).tolist() for n in LENGTHS]
        cases[name] = {"model_type": model_type, "folder": folder, "sequences": sequences,
                       "logprobs": token_logprobs(model, sequences)}
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "cases": cases}, f, indent=1)
    print(f"{len(cases)} cases in {out_dir} (transformers {transformers.__version__}, "
          f"torch {torch.__version__})")
    return 0


def max_diff(a, b):
    worst = 0.0
    for x, y in zip(a, b):
        if len(x) != len(y):
            return float("inf")
        for u, v in zip(x, y):
            worst = max(worst, abs(u - v))
    return worst


def compare(cases_path, dpo_path, tolerance):
    cases = json.load(open(cases_path))["cases"]
    dpo = json.load(open(dpo_path))
    failed = False
    print(f"{'case':22} {'hf folder vs dpo':>18} {'dpo folder in hf':>18}")
    for name in sorted(cases):
        case = cases[name]
        if name not in dpo:
            print(f"{name:22} missing from {dpo_path}")
            failed = True
            continue
        ours = dpo[name]["logprobs"]
        forward = max_diff(case["logprobs"], ours)
        try:
            saved = AutoModelForCausalLM.from_pretrained(
                dpo[name]["saved"], attn_implementation="eager", **dtype_kwargs()).eval()
            reloaded = max_diff(token_logprobs(saved, case["sequences"]), ours)
        except Exception as e:  # a folder transformers cannot load is a failure, with the reason
            print(f"{name:22} {dpo[name]['saved']} does not load in transformers: {e}")
            failed = True
            continue
        bad = not (forward <= tolerance and reloaded <= tolerance)
        failed |= bad
        print(f"{name:22} {forward:18.3g} {reloaded:18.3g}{'   ABOVE TOLERANCE' if bad else ''}")
    print(f"largest |log p(transformers) - log p(dpo)| per token, nats; tolerance {tolerance:g}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--cases", required=True)
    c.add_argument("--dpo", required=True)
    c.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    if args.command == "generate":
        return generate(args.out)
    return compare(args.cases, args.dpo, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
