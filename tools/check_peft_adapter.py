#!/usr/bin/env python3
"""PEFT compatibility of dpo's LoRA adapters, both ways, on a tiny random Llama.

Run with the oracle Python (tools/oracle/requirements.txt: transformers, torch, peft; fp32 on
the CPU, eager attention). tests/model/peft_adapter_oracle_test.cpp drives it:

    check_peft_adapter.py generate --out DIR
        Builds a tiny Llama with transformers (fixed seed) and saves it in DIR/base; puts a LoRA
        on it with peft (q_proj, v_proj, down_proj, rank 4, alpha 8, rslora, lm_head trained in
        full as modules_to_save, init_lora_weights=False so that B is not zero, and lm_head moved
        off the base's) and saves it with save_pretrained in DIR/peft. Writes DIR/cases.json:
        a few token sequences and peft's per-token log-probs log p(ids[t] | ids[:t]), t >= 1.

    check_peft_adapter.py compare --base DIR/base --adapter ADAPTER --dpo DPO.json
                                  [--tolerance 1e-5]
        Loads ADAPTER (a folder dpo wrote) with PeftModel.from_pretrained on the base, computes
        the log-probs of DPO.json's sequences and prints the largest |peft - dpo| per token;
        exit 1 above the tolerance (nats per token) or when peft cannot load the folder.
        DPO.json: {"sequences": [[...]], "logprobs": [[...]]}.

    check_peft_adapter.py merged --base BASE --adapter ADAPTER --merged MERGED [--tolerance 1e-5]
        A run's adapter against its merged model (docs/lora.md, "The demo as LoRA": the final/
        and final-merged/ of configs/dpo_lora_demo.json): peft loads ADAPTER on BASE, transformers
        loads MERGED, and the log-softmax of both over every vocabulary entry at every position
        of a few random sequences is compared; exit 1 above the tolerance or when peft cannot
        load the adapter.

docs/lora.md records the figures.
"""
import argparse
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
import peft
from peft import LoraConfig, PeftModel, get_peft_model

VOCAB = 97
LENGTHS = [11, 3, 8]


def dtype_kwargs():
    major = int(transformers.__version__.split(".")[0])
    return {"dtype" if major >= 5 else "torch_dtype": torch.float32}


def token_logprobs(model, sequences):
    out = []
    with torch.no_grad():
        for seq in sequences:
            ids = torch.tensor([seq])
            logits = model(input_ids=ids).logits.float()
            logp = torch.log_softmax(logits, dim=-1)[0]
            out.append([logp[t - 1, seq[t]].item() for t in range(1, len(seq))])
    return out


def load_base(folder):
    return AutoModelForCausalLM.from_pretrained(
        folder, attn_implementation="eager", **dtype_kwargs()).eval()


def generate(out):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, rms_norm_eps=1e-6, initializer_range=0.2,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
                         rope_theta=10000.0)
    base = LlamaForCausalLM(config).eval()
    base.save_pretrained(os.path.join(out, "base"))

    model = get_peft_model(load_base(os.path.join(out, "base")), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], use_rslora=True,
        init_lora_weights=False, modules_to_save=["lm_head"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "modules_to_save" in name:
                param.add_(0.05 * torch.randn_like(param))
    model.eval()
    model.save_pretrained(os.path.join(out, "peft"))

    gen = torch.Generator().manual_seed(1)
    sequences = [torch.randint(0, VOCAB, (n,), generator=gen).tolist() for n in LENGTHS]
    # Reload as a user would, so that what is compared is what the folder holds.
    reloaded = PeftModel.from_pretrained(load_base(os.path.join(out, "base")),
                                         os.path.join(out, "peft")).eval()
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"sequences": sequences, "logprobs": token_logprobs(reloaded, sequences),
                   "peft_version": peft.__version__,
                   "transformers_version": transformers.__version__}, f)


def compare(base_dir, adapter, dpo_path, tolerance):
    with open(dpo_path) as f:
        dpo = json.load(f)
    try:
        model = PeftModel.from_pretrained(load_base(base_dir), adapter).eval()
    except Exception as error:  # noqa: BLE001 - any failure to load is the finding
        print(f"peft {peft.__version__} cannot load {adapter}: {error}")
        return 1
    ours = token_logprobs(model, dpo["sequences"])
    worst = max(abs(a - b) for row_a, row_b in zip(ours, dpo["logprobs"])
                for a, b in zip(row_a, row_b))
    tokens = sum(len(row) for row in ours)
    status = "ok" if worst <= tolerance else "FAIL"
    print(f"peft {peft.__version__} (transformers {transformers.__version__}) loads dpo's adapter "
          f"{adapter}: largest |peft - dpo| = {worst:.2e} nats over {tokens} tokens "
          f"(tolerance {tolerance:g}) {status}")
    return 0 if worst <= tolerance else 1


def merged(base_dir, adapter, merged_dir, tolerance):
    try:
        with_adapter = PeftModel.from_pretrained(load_base(base_dir), adapter).eval()
    except Exception as error:  # noqa: BLE001 - any failure to load is the finding
        print(f"peft {peft.__version__} cannot load {adapter}: {error}")
        return 1
    folded = load_base(merged_dir)
    gen = torch.Generator().manual_seed(2)
    sequences = [torch.randint(0, folded.config.vocab_size, (n,), generator=gen).tolist()
                 for n in (16, 32, 48)]
    a = token_logprobs(with_adapter, sequences)
    b = token_logprobs(folded, sequences)
    worst = max(abs(x - y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))
    # Every vocabulary entry too, for information: the far tail (log-probs of -20 and below)
    # carries fp32 rounding of its own.
    everywhere = 0.0
    with torch.no_grad():
        for seq in sequences:
            ids = torch.tensor([seq])
            everywhere = max(everywhere, (
                torch.log_softmax(with_adapter(input_ids=ids).logits.float(), dim=-1) -
                torch.log_softmax(folded(input_ids=ids).logits.float(), dim=-1)).abs().max().item())
    tokens = sum(len(row) for row in a)
    status = "ok" if worst <= tolerance else "FAIL"
    print(f"peft {peft.__version__} (transformers {transformers.__version__}) loads {adapter} on "
          f"{base_dir}; against {merged_dir}: largest |difference| = {worst:.2e} nats per token "
          f"over {tokens} tokens (tolerance {tolerance:g}) {status}; over every vocabulary entry "
          f"of those positions {everywhere:.2e}")
    return 0 if worst <= tolerance else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--base", required=True)
    c.add_argument("--adapter", required=True)
    c.add_argument("--dpo", required=True)
    c.add_argument("--tolerance", type=float, default=1e-5)
    m = sub.add_parser("merged")
    m.add_argument("--base", required=True)
    m.add_argument("--adapter", required=True)
    m.add_argument("--merged", required=True)
    m.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "generate":
        generate(args.out)
        return 0
    if args.command == "merged":
        return merged(args.base, args.adapter, args.merged, args.tolerance)
    return compare(args.base, args.adapter, args.dpo, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
