#!/usr/bin/env python3
"""Parity of dpo's sequence log-probs with another implementation of the same model.

    parity.py --model DIR --data FILE.h5 --scores SCORES.jsonl
              [--backend transformers|numpy] [--device cpu|cuda] [--dtype fp32|bf16]
              [--max-pairs N] [--batch-pairs 8] [--json OUT.json]
    parity.py perturb DIR      random values for a fresh model's biases and norm weights (in place)

SCORES.jsonl is what `dpo score --model DIR --data FILE.h5 --out SCORES.jsonl` wrote: per pair,
the summed log-probs of the chosen and rejected completions. This script recomputes them from
the prepared file's token ids (prompt + completion, the completion's tokens scored) with
  - transformers (the default): AutoModelForCausalLM loaded from DIR, eager attention, on
    --device in --dtype, right-padded batches with an attention mask;
  - numpy: a from-scratch float64 implementation of transformers' Llama/Mistral/Qwen2 forward
    (RMSNorm, rotate-half RoPE with linear and llama3 scaling, grouped-query attention,
    q/k/v bias, SwiGLU, tied head), one
    sequence at a time: for machines without torch, and small models.
and prints the largest differences (summed log-prob, and per completion token), exiting 1 when
the largest per-token difference is above --tolerance.

Needs numpy and h5py (Debian: python3-numpy python3-h5py), and torch + transformers for the
default backend. docs/parity.md records the figures.
"""
import argparse
import json
import math
import os
import struct
import sys

import h5py
import numpy as np


# ---- data ----------------------------------------------------------------------------------

def read_pairs(path, scores_path, max_pairs):
    """The pairs of SCORES.jsonl (in file order) with their token ids from the prepared file."""
    splits = {}
    with h5py.File(path, "r") as f:
        for name in ("train", "val"):
            if name not in f:
                continue
            g = f[name]
            splits[name] = {key: g[key][...] for key in (
                "prompt_ids", "chosen_ids", "rejected_ids",
                "prompt_offsets", "chosen_offsets", "rejected_offsets")}
    pairs = []
    with open(scores_path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            s = splits.get(row["split"])
            if s is None:
                sys.exit(f"{scores_path}:{number}: split {row['split']!r} is not in {path}")
            i = int(row["pair_index"])
            if i + 1 >= len(s["prompt_offsets"]):
                sys.exit(f"{scores_path}:{number}: pair {i} is past the end of {path}:{row['split']}")

            def part(key):
                o = s[key + "_offsets"]
                return s[key + "_ids"][o[i]:o[i + 1]].astype(np.int64)

            pairs.append({"split": row["split"], "pair_index": i, "prompt": part("prompt"),
                          "chosen": part("chosen"), "rejected": part("rejected"),
                          "dpo_chosen": float(row["chosen_logps"]),
                          "dpo_rejected": float(row["rejected_logps"])})
            if max_pairs and len(pairs) >= max_pairs:
                break
    return pairs


def completion_logp(logp_rows, sequence, start):
    """Sum of log p(sequence[t]) for t >= start, from rows of log-probs at positions t - 1."""
    targets = sequence[start:]
    return float(sum(logp_rows[t - 1, tok] for t, tok in zip(range(start, len(sequence)), targets)))


def safetensors_files(model_dir):
    """The weight files of a model folder: the shards its index names, or model.safetensors."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    names = (sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index)
             else ["model.safetensors"])
    return [os.path.join(model_dir, name) for name in names]


def perturb_model(model_dir, seed=0):
    """Gives a freshly initialised model's biases (zero) and norm weights (one) random values,
    in place, so that parity covers them too."""
    rng = np.random.default_rng(seed)
    changed = 0
    for path in safetensors_files(model_dir):
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header_bytes = f.read(n)
            data = bytearray(f.read())
        header = json.loads(header_bytes)
        for tensor, info in header.items():
            if tensor == "__metadata__" or not (tensor.endswith(".bias") or tensor.endswith("norm.weight")):
                continue
            begin, end = info["data_offsets"]
            count = int(np.prod(info["shape"]))
            values = (rng.normal(0.0, 0.02, count) if tensor.endswith(".bias")
                      else 1.0 + rng.normal(0.0, 0.1, count)).astype(np.float32)
            if info["dtype"] == "F32":
                raw = values.tobytes()
            elif info["dtype"] == "BF16":
                raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
            else:
                sys.exit(f"{path}: {tensor} is {info['dtype']}: only F32 and BF16 can be perturbed")
            data[begin:end] = raw
            changed += 1
        with open(path + ".tmp", "wb") as f:
            f.write(struct.pack("<Q", n) + header_bytes + bytes(data))
        os.replace(path + ".tmp", path)
    print(f"{model_dir}: {changed} bias and norm tensors given random values")


# ---- numpy backend -------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": "bf16", "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        kind = _DTYPES[info["dtype"]]
        if kind == "bf16":  # the upper half of a float32
            array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, kind)
        tensors[name] = array.reshape(info["shape"]).astype(np.float64)
    return tensors


def read_weights(model_dir):
    weights = {}
    for path in safetensors_files(model_dir):
        weights.update(read_safetensors(path))
    return weights


class NumpyLlama:
    def __init__(self, model_dir):
        c = json.load(open(os.path.join(model_dir, "config.json")))
        self.w = read_weights(model_dir)
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        self.eps = c["rms_norm_eps"]
        theta = c.get("rope_theta", 10000.0)
        inv_freq = 1.0 / theta ** (np.arange(0, self.head_dim, 2, dtype=np.float64) / self.head_dim)
        scaling = c.get("rope_scaling")
        kind = scaling.get("rope_type", scaling.get("type")) if scaling else "default"
        if kind == "linear":
            inv_freq = inv_freq / scaling["factor"]
        elif kind == "llama3":  # transformers' _compute_llama3_parameters
            factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
            old = scaling["original_max_position_embeddings"]
            wavelen = 2 * math.pi / inv_freq
            llama = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * llama / factor + smooth * llama
            medium = (wavelen >= old / high) & (wavelen <= old / low)
            inv_freq = np.where(medium, smoothed, llama)
        elif kind != "default":
            sys.exit(f"numpy backend: unknown rope_scaling {kind!r} (dpo, too, reads only linear and llama3)")
        self.inv_freq = inv_freq
        self.lm_head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def rms_norm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, positions):  # x: [heads, T, D]
        freqs = np.outer(positions, self.inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(emb), np.sin(emb)
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rotated * sin

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        bias = self.w.get(name + ".bias")
        return y if bias is None else y + bias

    def log_probs(self, ids):
        T = len(ids)
        x = self.w["model.embed_tokens.weight"][ids]
        positions = np.arange(T, dtype=np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for i in range(self.layers):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(h, p + "self_attn.q_proj").reshape(T, self.heads, self.head_dim).transpose(1, 0, 2)
            k = self.linear(h, p + "self_attn.k_proj").reshape(T, self.kv_heads, self.head_dim).transpose(1, 0, 2)
            v = self.linear(h, p + "self_attn.v_proj").reshape(T, self.kv_heads, self.head_dim).transpose(1, 0, 2)
            q, k = self.rope(q, positions), self.rope(k, positions)
            repeat = self.heads // self.kv_heads
            k, v = np.repeat(k, repeat, axis=0), np.repeat(v, repeat, axis=0)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(self.head_dim) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            x = x + self.linear(attn.transpose(1, 0, 2).reshape(T, -1), p + "self_attn.o_proj")
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            gate = self.linear(h, p + "mlp.gate_proj")
            x = x + self.linear(gate / (1 + np.exp(-gate)) * self.linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        logits = self.rms_norm(x, self.w["model.norm.weight"]) @ self.lm_head.T
        top = logits.max(axis=-1, keepdims=True)
        return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def score_numpy(model_dir, pairs):
    model = NumpyLlama(model_dir)
    for pair in pairs:
        for side in ("chosen", "rejected"):
            sequence = np.concatenate([pair["prompt"], pair[side]])
            pair["ref_" + side] = completion_logp(model.log_probs(sequence), sequence, len(pair["prompt"]))


# ---- transformers backend ------------------------------------------------------------------

def score_transformers(model_dir, pairs, device, dtype, batch_pairs):
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    import transformers
    # transformers 5 names the argument dtype; 4.x torch_dtype.
    dtype_argument = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager",
                                                 **{dtype_argument: torch_dtype}).to(device).eval()
    with torch.no_grad():
        for b in range(0, len(pairs), batch_pairs):
            batch = pairs[b:b + batch_pairs]
            sequences = [np.concatenate([p["prompt"], p[side]]) for side in ("chosen", "rejected") for p in batch]
            T = max(len(s) for s in sequences)
            ids = torch.zeros((len(sequences), T), dtype=torch.long)
            attention = torch.zeros((len(sequences), T), dtype=torch.long)
            for r, s in enumerate(sequences):
                ids[r, :len(s)] = torch.from_numpy(s)
                attention[r, :len(s)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
            for r, s in enumerate(sequences):
                pair = batch[r % len(batch)]
                side = "chosen" if r < len(batch) else "rejected"
                pair["ref_" + side] = completion_logp(logp[r], s, len(pair["prompt"]))


# ---- comparison ----------------------------------------------------------------------------

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "perturb":
        perturb_model(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--scores", required=True)
    parser.add_argument("--backend", choices=["transformers", "numpy"], default="transformers")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--max-pairs", type=int, default=0)
    parser.add_argument("--batch-pairs", type=int, default=8)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest per-token difference allowed")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()

    pairs = read_pairs(args.data, args.scores, args.max_pairs)
    if not pairs:
        sys.exit(f"{args.scores}: no pairs")
    if args.backend == "numpy":
        score_numpy(args.model, pairs)
    else:
        score_transformers(args.model, pairs, args.device, args.dtype, args.batch_pairs)

    worst_sum, worst_token, total_diff, tokens, worst_where = 0.0, 0.0, 0.0, 0, ""
    for p in pairs:
        for side in ("chosen", "rejected"):
            diff = abs(p["dpo_" + side] - p["ref_" + side])
            n = max(1, len(p[side]))
            total_diff += diff
            tokens += n
            if diff > worst_sum:
                worst_sum, worst_where = diff, f"{p['split']} pair {p['pair_index']} {side}"
            worst_token = max(worst_token, diff / n)
    figures = {"backend": args.backend, "device": args.device, "dtype": args.dtype,
               "pairs": len(pairs), "completion_tokens": tokens,
               "max_abs_diff_sum": worst_sum, "max_abs_diff_per_token": worst_token,
               "mean_abs_diff_per_token": total_diff / tokens, "worst": worst_where,
               "tolerance_per_token": args.tolerance, "pass": worst_token <= args.tolerance}
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
