#!/usr/bin/env python3
"""dpo side by side with TRL's DPOTrainer: the same run, the same numbers, and the speed of each.

Both sides get the same model folder (written by `dpo init-model`, loaded by transformers'
AutoModelForCausalLM in fp32), the same pairs (TRL is fed the token ids `dpo prepare` wrote, so
no tokenizer runs on the TRL side; check_trl_tokenization.py first shows that TRL's own
tokenization of the same rows gives those ids), the same batches (dpo's batch order, batch_plan.py,
through a sequential sampler), the same seed, beta, AdamW settings (constant learning rate, no
warm-up, no weight decay, gradient clipping at 1), dropout off, fp32 on the CPU.

    compare_trl.py check   equality verdicts (docs/parity.md, "Side by side with TRL"):
        1. step-0 per-pair log-probs: dpo score / dpo's cached reference against TRL's policy and
           reference forward, within 1e-5 per completion token;
        2. the first --steps training steps: loss within 1e-4 (sigmoid), and the metrics of the
           same names (rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
           logps/chosen, logps/rejected), with both definitions where they differ (accuracy ties);
        3. every loss type dpo shares with TRL, on the same log-probs: TRL's own `_compute_loss`
           run on given per-token log-probs, dpo's `compute_loss` through the gtest
           TrlLossParity.* (tests/losses/trl_loss_parity_test.cpp) on the JSON written here,
           within 1e-6.
    compare_trl.py bench   pairs/s, tokens/s and peak resident memory of dpo, TRL default and
                           TRL tuned over the same steps after a warm-up, alternating the sides
                           (docs/benchmarks.md, "dpo and TRL side by side").
    compare_trl.py all     both (what `make peers` runs).

bench --lora R trains LoRA on both sides instead: rank R, alpha 2R, every linear layer of the
decoder, no dropout (dpo: the `lora` section; TRL: peft's LoraConfig with target_modules
"all-linear", the reference being the model with its adapters disabled on both sides).

Exit status: 0 every check passed, 1 a check failed (the verdict table says which), 2 the harness
could not give both sides the same input (it says why: a model transformers cannot load, pairs that
dpo truncated, a template TRL renders differently, ...) or could not run.

Run with the peers Python (`make peers` creates .venv-peers from tools/peers/requirements.txt),
from the repository root, after building dpo:

    .venv-peers/bin/python3 tools/peers/compare_trl.py check --steps 20
    .venv-peers/bin/python3 tools/peers/compare_trl.py bench --presets tiny,small
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import batch_plan  # noqa: E402

DATA = os.path.join(REPO, "examples", "support", "pairs.jsonl")
CHATML = ["--special-token", "<|im_start|>", "--special-token", "<|im_end|>",
          "--eos-token", "<|im_end|>"]
# PairFlag bits of the prepared file (dataloader/pair_encoder.h): a truncated pair is cut by
# dpo's length policy, which TRL's collator (keep_start over the whole sequence) would cut elsewhere.
TRUNCATED_FLAGS = 1 | 2 | 4

# Tolerances of the issue (18, "What it must show", item 1).
LOGP_PER_TOKEN_TOL = 1e-5
LOSS_TOL = 1e-4
LOSS_TYPE_TOL = 1e-6

METRICS = ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
           "logps/chosen", "logps/rejected"]


class Refusal(Exception):
    """The harness cannot give both sides the same input (exit 2)."""


START = time.perf_counter()


def log(message):
    print(f"[peers] {time.perf_counter() - START:6.1f} s  {message}", flush=True)


def run(cmd, log_path=None, env=None):
    """Runs a command; its output goes to log_path. Returns its exit status.

    Not its peak memory: a child's ru_maxrss (wait4) includes the high-water mark of the memory
    it was forked (or vforked) from, which Linux carries across exec, and this harness holds
    ~680 MiB once torch and transformers are imported. Each side reports its own peak instead
    (peak_rss_mib below)."""
    out = open(log_path, "a") if log_path else subprocess.DEVNULL
    try:
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    finally:
        if log_path:
            out.close()


def peak_rss_mib(status_path="/proc/self/status"):
    """The process's own peak resident set since its exec (VmHWM), in MiB."""
    with open(status_path) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    raise RuntimeError(f"no VmHWM in {status_path}")


def must_run(cmd, log_path, what):
    status = run(cmd, log_path)
    if status != 0:
        tail = open(log_path).read()[-2000:] if log_path and os.path.exists(log_path) else ""
        raise RuntimeError(f"{what} failed (exit {status}): {' '.join(cmd)}\n{tail}")


# ---------------------------------------------------------------------------------------------
# Inputs: a tokenizer, a model of a preset, the prepared pairs

def data_rows(args, rows, work):
    """args.data, or its first `rows` lines in a file of the work folder (rows > 0)."""
    if rows <= 0:
        return args.data
    path = os.path.join(work, f"pairs-head-{rows}.jsonl")
    if not os.path.exists(path):
        with open(args.data) as f:
            head = [line for _, line in zip(range(rows), f)]
        with open(path, "w") as f:
            f.writelines(head)
    return path


def make_inputs(args, preset, work, rows=0):
    """Makes (once per work folder) the tokenizer, `dpo init-model --preset`, `dpo prepare` (of
    the first `rows` rows of args.data when rows > 0). Returns (model, prepared, data file)."""
    os.makedirs(work, exist_ok=True)
    data = data_rows(args, rows, work)
    setup_log = os.path.join(work, "setup.log")
    tok = os.path.join(work, "tokenizer", "tokenizer.model")
    if not args.model and not os.path.exists(tok):
        must_run([args.dpo, "--log-level", "warn", "train-tokenizer", args.data, "--out",
                  os.path.dirname(tok), "--vocab-size", "2000", "--user-symbol", "<|im_start|>",
                  "--user-symbol", "<|im_end|>"], setup_log, "dpo train-tokenizer")
    model = args.model or os.path.join(work, preset)
    if not os.path.exists(os.path.join(model, "config.json")):
        must_run([args.dpo, "--log-level", "warn", "init-model", "--preset", preset, "--tokenizer",
                  tok, "--template", "chatml", *CHATML, "--seed", str(args.seed), "--out", model],
                 setup_log, "dpo init-model")
    name = "model-" + os.path.basename(os.path.normpath(model)) if args.model else preset
    prepared = os.path.join(work, f"pairs-{name}-{args.max_length}-{rows or 'all'}.h5")
    if not os.path.exists(prepared):
        must_run([args.dpo, "--log-level", "warn", "prepare", "--data", data, "--model", model,
                  "--max-length", str(args.max_length), "--val-fraction", "0.1", "--out", prepared],
                 setup_log, "dpo prepare")
    return model, prepared, data


def read_train_split(prepared):
    """The train split's token ids (lists of int) and flags, from the prepared HDF5 file."""
    import h5py
    with h5py.File(prepared, "r") as f:
        g = f["train"]
        arrays = {k: g[k][...] for k in ("prompt_ids", "chosen_ids", "rejected_ids",
                                         "prompt_offsets", "chosen_offsets", "rejected_offsets",
                                         "flags")}
    n = len(arrays["prompt_offsets"]) - 1

    def part(key, i):
        o = arrays[key + "_offsets"]
        return arrays[key + "_ids"][o[i]:o[i + 1]].astype("int64").tolist()

    pairs = [{"prompt_ids": part("prompt", i), "chosen_ids": part("chosen", i),
              "rejected_ids": part("rejected", i)} for i in range(n)]
    return pairs, arrays["flags"]


def dpo_reference_logps(prepared):
    """dpo's cached reference log-probs of the train split (the one reference in the file)."""
    import h5py
    with h5py.File(prepared, "r") as f:
        if "reference" not in f or len(f["reference"]) != 1:
            raise RuntimeError(f"expected exactly one cached reference in {prepared}")
        g = f["reference"][next(iter(f["reference"]))]["train"]
        return g["chosen_logps"][...].tolist(), g["rejected_logps"][...].tolist()


def check_same_input(args, model, prepared, data, pairs, flags, batches):
    """Refuses (Refusal) what cannot be given to both sides identically."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    try:
        AutoConfig.from_pretrained(model)
        _, info = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32,
                                                       output_loading_info=True)
    except Exception as e:  # any reason transformers gives
        raise Refusal(f"transformers cannot load the model folder {model}: {e}")
    unread = {k: v for k, v in info.items() if v and k != "error_msgs"}
    if unread or info.get("error_msgs"):
        raise Refusal(f"transformers loads {model} with weights it does not map one to one "
                      f"({json.dumps({k: list(v)[:3] for k, v in info.items() if v})}): the two "
                      "sides would not start from the same weights")
    with open(os.path.join(model, "config.json")) as f:
        raw = json.load(f)
    for key in ("attention_dropout", "hidden_dropout", "dropout"):
        if float(raw.get(key, 0) or 0) != 0:
            log(f"note: {key} = {raw[key]} in {model}/config.json; both sides train without dropout")
    used = sorted({i for batch in batches for i in batch})
    cut = [i for i in used if int(flags[i]) & TRUNCATED_FLAGS]
    if cut:
        raise Refusal(f"{len(cut)} of the {len(used)} pairs used (e.g. train pair {cut[0]}) were "
                      f"truncated by dpo prepare (--max-length {args.max_length}); TRL truncates "
                      "the whole sequence instead, so the two would train on different tokens. "
                      "Prepare with a larger --max-length or length_policy drop")
    if not args.skip_tokenization_check:
        # TRL's own tokenization of the rows (its chat template render and tokenizer) must give
        # the ids dpo prepared, or feeding TRL dpo's ids would hide a difference users would see.
        checker = os.path.join(REPO, "tools", "check_trl_tokenization.py")
        status = run([sys.executable, checker, "--model", model, "--data", data, "--dpo",
                      args.dpo, "--max-rows", str(args.tokenization_rows),
                      "--h5py-python", sys.executable],
                     os.path.join(os.path.dirname(prepared), "tokenization.log"))
        where = os.path.join(os.path.dirname(prepared), "tokenization.log")
        if status == 1:
            raise Refusal(f"TRL would tokenize the rows of {data} differently from dpo prepare "
                          f"with {model} (tools/check_trl_tokenization.py; see {where})")
        if status != 0:
            raise RuntimeError(f"tools/check_trl_tokenization.py could not run (exit {status}); "
                               f"see {where}")


# ---------------------------------------------------------------------------------------------
# The dpo side

def dpo_train_config(args, model, prepared, out_dir, steps, loss_types=("sigmoid",)):
    config = {
        "data": {"prepared": prepared},
        "model": {"path": model},
        "reference": {"mode": "precomputed"},
        "loss": {"types": list(loss_types), "beta": args.beta},
        "optim": {"lr": args.lr, "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1e-8,
                  "warmup_steps": 0, "schedule": "constant", "grad_clip": 1.0},
        "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": args.batch,
                  "grad_accum": 1, "max_steps": steps, "seed": args.seed, "threads": args.threads,
                  "log_every_steps": 1, "save_every_steps": 0, "out_dir": out_dir},
        "eval": {"every_steps": 0, "max_pairs": 8},
    }
    if args.lora > 0:
        config["lora"] = {"enabled": True, "rank": args.lora, "alpha": 2 * args.lora,
                          "target_modules": ["all-linear"], "dropout": 0.0}
    return config


def run_dpo_train(args, model, prepared, out_dir, steps, log_path):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    config_path = os.path.join(out_dir, "..", os.path.basename(out_dir) + ".json")
    with open(config_path, "w") as f:
        json.dump(dpo_train_config(args, model, prepared, out_dir, steps), f, indent=2)
    start = time.perf_counter()
    status = run([args.dpo, "--log-level", "warn", "train", "--config", config_path], log_path)
    if status != 0:
        raise RuntimeError(f"dpo train failed (exit {status}); see {log_path}")
    lines = [json.loads(x) for x in open(os.path.join(out_dir, "metrics.jsonl")) if x.strip()]
    train = [x for x in lines if x.get("split") == "train" and "loss" in x]
    # dpo train's own peak resident set (VmHWM of the training process, peak_memory_mib).
    rss = max((x.get("peak_memory_mib", 0) for x in lines), default=0)
    if rss <= 0:
        raise RuntimeError(f"no peak_memory_mib in {out_dir}/metrics.jsonl")
    return {"steps": train, "rss_mib": rss, "wall_s": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------
# The TRL side (run in its own process: `compare_trl.py trl-run SPEC`, so that its peak RSS is
# its own)

def trl_run(spec_path):
    """Trains with TRL's DPOTrainer as the spec says; writes the per-step records (and, when
    asked, per-pair log-probs at step 0 and after training) to spec["out"]."""
    with open(spec_path) as f:
        spec = json.load(f)
    import torch
    torch.set_num_threads(spec["threads"])
    import datasets
    from transformers import AutoModelForCausalLM, TrainerCallback
    from torch.utils.data import SequentialSampler
    from trl import DPOConfig, DPOTrainer

    datasets.disable_progress_bars()
    os.environ.setdefault("TQDM_DISABLE", "1")

    class FedDPOTrainer(DPOTrainer):
        """DPOTrainer fed dpo's token ids in dpo's batch order."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset  # already prompt_ids / chosen_ids / rejected_ids

        def _get_train_sampler(self, *unused):
            return SequentialSampler(self.train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.model.training:
                value = loss[0] if isinstance(loss, tuple) else loss
                self.step_losses.append(float(value.detach()))
            return loss

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.times = []

        def on_step_end(self, *unused, **kwargs):
            self.times.append(time.perf_counter())

    order = [i for batch in spec["batches"] for i in batch]
    pairs = spec["pairs"]
    dataset = datasets.Dataset.from_list([pairs[str(i)] for i in order])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32,
                                                 attn_implementation="eager")
    config = DPOConfig(
        output_dir=spec["work"], per_device_train_batch_size=spec["batch"],
        gradient_accumulation_steps=1, max_steps=spec["steps"], learning_rate=spec["lr"],
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, adam_beta1=0.9,
        adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0, optim="adamw_torch",
        logging_steps=1, save_strategy="no", report_to=[], bf16=False, fp16=False, use_cpu=True,
        seed=spec["seed"], data_seed=spec["seed"], beta=spec["beta"], loss_type=["sigmoid"],
        max_length=None, disable_dropout=True, dataloader_num_workers=0,
        gradient_checkpointing=spec["gradient_checkpointing"],
        precompute_ref_log_probs=spec["precompute_ref_log_probs"], remove_unused_columns=False,
        disable_tqdm=True)
    tokenizer = _tokenizer_for(spec["model"], spec["pad_id"])
    peft_config = None
    if spec.get("lora", 0) > 0:
        from peft import LoraConfig
        peft_config = LoraConfig(r=spec["lora"], lora_alpha=2 * spec["lora"], lora_dropout=0.0,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = FedDPOTrainer(model=model, args=config, train_dataset=dataset,
                            processing_class=tokenizer, peft_config=peft_config)
    trainer.step_losses = []
    times = StepTimes()
    trainer.add_callback(times)
    result = {}
    if spec.get("logps_pairs"):
        result["step0"] = _trl_pair_logps(trainer, [pairs[str(i)] for i in spec["logps_pairs"]],
                                          spec["batch"])
    start = time.perf_counter()
    trainer.train()
    result["train_s"] = time.perf_counter() - start
    result["step_times"] = times.times
    result["losses"] = trainer.step_losses
    # The train lines of the log (logging_steps=1: one per step), with DPOTrainer's metrics.
    result["logs"] = [{k: x.get(k) for k in METRICS} for x in trainer.state.log_history
                      if "loss" in x and "train_runtime" not in x]
    if spec.get("logps_pairs"):
        result["trained"] = _trl_pair_logps(
            trainer, [pairs[str(i)] for i in spec["logps_pairs"]], spec["batch"], reference=False)
    result["trainable_parameters"] = sum(
        p.numel() for p in trainer.model.parameters() if p.requires_grad)
    result["rss_mib"] = peak_rss_mib()
    with open(spec["out"], "w") as f:
        json.dump(result, f)


def _tokenizer_for(model_dir, pad_id):
    """The model folder's tokenizer for TRL (which only asks it for pad and eos ids here, since
    it is fed ids)."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        # Padding is masked out on both sides; any id of the vocabulary does.
        if pad_id >= 0:
            tokenizer.pad_token_id = pad_id
        else:
            tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _trl_pair_logps(trainer, examples, batch, reference=True):
    """Per-pair summed completion log-probs of TRL's policy (and reference) through TRL's own
    `compute_ref_log_probs` (the fused-head forward its loss uses), and the per-token log-probs
    of both (for the loss-type check). Pair order as given."""
    import torch
    model = trainer.model
    was_training = model.training
    model.eval()
    out = {"policy_chosen": [], "policy_rejected": [], "reference_chosen": [],
           "reference_rejected": [], "chosen_tokens": [], "rejected_tokens": [],
           "policy_chosen_tokens": [], "policy_rejected_tokens": [],
           "reference_chosen_tokens": [], "reference_rejected_tokens": []}
    ref_model = trainer.ref_model if trainer.ref_model is not None else None
    for s in range(0, len(examples), batch):
        inputs = trainer.data_collator(examples[s:s + batch])
        inputs = {k: v.to(trainer.accelerator.device) for k, v in inputs.items()}
        c, r = trainer.compute_ref_log_probs(model, inputs)
        out["policy_chosen"] += c.tolist()
        out["policy_rejected"] += r.tolist()
        if reference and ref_model is not None:
            c, r = trainer.compute_ref_log_probs(ref_model, inputs)
            out["reference_chosen"] += c.tolist()
            out["reference_rejected"] += r.tolist()
        mask = inputs["completion_mask"]
        tokens = mask.sum(dim=1)
        n = mask.size(0) // 2
        out["chosen_tokens"] += tokens[:n].tolist()
        out["rejected_tokens"] += tokens[n:].tolist()
        # Per-token log-probs of the completions (the policy's, then the reference's), as lists.
        labels = inputs["input_ids"].masked_fill(mask == 0, -100)
        kwargs = {k: v for k, v in inputs.items() if k not in ("completion_mask",)}
        for side, m in (("policy", model), ("reference", ref_model)):
            if m is None or (side == "reference" and not reference):
                continue
            with torch.no_grad():
                lp = m(**kwargs, labels=labels, fused_lm_head=True, use_cache=False).log_probs
            shift = mask[:, 1:].bool()
            rows = [lp[row][shift[row]].tolist() for row in range(lp.size(0))]
            out[f"{side}_chosen_tokens"] += rows[:n]
            out[f"{side}_rejected_tokens"] += rows[n:]
    model.train(was_training)
    return out


def run_trl(args, spec, work, name):
    spec_path = os.path.join(work, f"{name}.spec.json")
    spec["out"] = os.path.join(work, f"{name}.result.json")
    spec["work"] = os.path.join(work, f"{name}-trl-out")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    log_path = os.path.join(work, f"{name}.log")
    if os.path.exists(log_path):
        os.remove(log_path)
    env = dict(os.environ, TQDM_DISABLE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(args.threads))
    start = time.perf_counter()
    status = run([sys.executable, os.path.abspath(__file__), "trl-run", spec_path], log_path, env)
    if status != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f"the TRL run failed (exit {status}); {log_path}:\n{tail}")
    with open(spec["out"]) as f:
        result = json.load(f)
    result["wall_s"] = time.perf_counter() - start
    return result


def trl_spec(args, model, pairs, batches, steps, pad_id, tuned=False, logps_pairs=None,
             gradient_checkpointing=False):
    used = sorted({i for batch in batches for i in batch} | set(logps_pairs or []))
    return {"model": model, "pairs": {str(i): pairs[i] for i in used}, "batches": batches,
            "batch": args.batch, "steps": steps, "lr": args.lr, "beta": args.beta,
            "seed": args.seed, "threads": args.threads, "pad_id": pad_id,
            "precompute_ref_log_probs": tuned, "gradient_checkpointing": gradient_checkpointing,
            "logps_pairs": logps_pairs or [], "lora": args.lora}


def read_pad_id(prepared):
    import h5py
    with h5py.File(prepared, "r") as f:
        return int(f.attrs["pad_id"])


# ---------------------------------------------------------------------------------------------
# The loss types on the same log-probs

# (name, loss.types, loss.weights, label_smoothing): every loss type TRL's DPOTrainer and dpo share.
# exo_pair and robust need an epsilon > 0 on TRL's side (TRL's exo_pair takes log(0) at 0).
LOSS_CASES = [
    ("sigmoid", ["sigmoid"], None, 0.0),
    ("hinge", ["hinge"], None, 0.0),
    ("ipo", ["ipo"], None, 0.0),
    ("exo_pair eps=1e-3", ["exo_pair"], None, 1e-3),
    ("nca_pair", ["nca_pair"], None, 0.0),
    ("robust eps=0.1", ["robust"], None, 0.1),
    ("bco_pair", ["bco_pair"], None, 0.0),
    ("sppo_hard", ["sppo_hard"], None, 0.0),
    ("apo_zero", ["apo_zero"], None, 0.0),
    ("apo_down", ["apo_down"], None, 0.0),
    ("discopop", ["discopop"], None, 0.0),
    ("sigmoid_norm", ["sigmoid_norm"], None, 0.0),
    ("sft", ["sft"], None, 0.0),
    ("sigmoid + sft (RPO-style mix)", ["sigmoid", "sft"], [1.0, 0.5], 0.0),
    ("sigmoid + bco_pair + sft (MPO-style mix)", ["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0],
     0.0),
]


def trl_losses_on(logps, beta, discopop_tau):
    """Calls TRL's own DPOTrainer._compute_loss on the given per-token log-probs (float64), with
    the reference log-probs passed in as precomputed. Returns [(case, loss, metrics)]."""
    import collections
    import types
    import torch
    from trl import DPOTrainer

    # [2B] lists of per-token log-probs: the chosen rows, then the rejected rows (TRL's layout).
    policy = logps["policy_chosen_tokens"] + logps["policy_rejected_tokens"]
    reference = logps["reference_chosen_tokens"] + logps["reference_rejected_tokens"]
    rows = len(policy)
    b = rows // 2
    width = max(len(x) for x in policy) + 1
    per_token = torch.zeros(rows, width - 1, dtype=torch.float64)
    completion_mask = torch.zeros(rows, width, dtype=torch.long)
    for row, values in enumerate(policy):
        per_token[row, :len(values)] = torch.tensor(values, dtype=torch.float64)
        completion_mask[row, 1:len(values) + 1] = 1  # label positions are shifted by one
    ref_sums = torch.tensor([sum(x) for x in reference], dtype=torch.float64)
    inputs = {"input_ids": torch.zeros(rows, width, dtype=torch.long),
              "attention_mask": torch.ones(rows, width, dtype=torch.long),
              "completion_mask": completion_mask,
              "ref_chosen_logps": ref_sums[:b], "ref_rejected_logps": ref_sums[b:]}

    class Outputs:  # what TRL's fused-head forward returns
        log_probs = per_token
        entropy = torch.zeros_like(per_token)
        mean_logits = torch.zeros_like(per_token)
        is_top1 = torch.zeros_like(per_token, dtype=torch.bool)

    def model(**unused):
        return Outputs

    accelerator = types.SimpleNamespace(device=torch.device("cpu"),
                                        gather_for_metrics=lambda x: x, gather=lambda x: x)
    results = []
    for name, types_, weights, smoothing in LOSS_CASES:
        fake = types.SimpleNamespace(
            model=types.SimpleNamespace(training=True), accelerator=accelerator,
            precompute_ref_logps=True, ld_alpha=None, f_divergence_type="reverse_kl",
            loss_types=types_, loss_weights=weights or [1.0] * len(types_), beta=beta,
            label_smoothing=smoothing, use_weighting=False, aux_loss_enabled=False,
            args=types.SimpleNamespace(discopop_tau=discopop_tau), _tp_size=1,
            _total_train_tokens=0, _metrics={"train": collections.defaultdict(list)})
        loss = DPOTrainer._compute_loss(fake, model, inputs, return_outputs=False)
        metrics = {k: v[-1] for k, v in fake._metrics["train"].items() if k in METRICS}
        results.append((name, types_, weights, smoothing, float(loss), metrics))
    return results


def write_loss_cases(path, logps, beta, discopop_tau, note):
    """The JSON that tests/losses/trl_loss_parity_test.cpp reads: per-pair sums and token counts,
    and TRL's loss and metrics for each case, with dpo's documented value where the definitions
    differ (sft over unequal lengths, bco_pair's running mean, accuracy ties)."""
    results = trl_losses_on(logps, beta, discopop_tau)
    policy = logps["policy_chosen_tokens"] + logps["policy_rejected_tokens"]
    reference = logps["reference_chosen_tokens"] + logps["reference_rejected_tokens"]
    pc = [math.fsum(x) for x in policy]
    rc = [math.fsum(x) for x in reference]
    tokens = [len(x) for x in policy]
    b = len(pc) // 2
    pairs = {"policy_chosen": pc[:b], "policy_rejected": pc[b:], "reference_chosen": rc[:b],
             "reference_rejected": rc[b:], "chosen_tokens": tokens[:b],
             "rejected_tokens": tokens[b:]}
    cases = []
    for name, types_, weights, smoothing, loss, metrics in results:
        cases.append({"name": name, "types": types_, "weights": weights or [],
                      "label_smoothing": smoothing, "trl_loss": loss, "trl_metrics": metrics,
                      "dpo_expected_loss": dpo_definition_loss(pairs, types_, weights, smoothing,
                                                               beta, discopop_tau, loss,
                                                               logps["policy_chosen_tokens"])})
    doc = {"made_by": note, "beta": beta, "discopop_tau": discopop_tau, "tolerance": LOSS_TYPE_TOL,
           "pairs": pairs, "cases": cases}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return doc


def dpo_definition_loss(pairs, types_, weights, smoothing, beta, tau, trl_loss, chosen_tokens):
    """TRL's loss with the terms whose definition differs in dpo replaced by dpo's (docs/losses.md,
    "Choices that differ from TRL"): sft as a mean over pairs of per-pair token means (TRL: one
    mean over all chosen tokens of the batch), bco_pair with its running mean delta (TRL 1.16:
    no delta). Equal to trl_loss when neither is among the types."""
    weights = weights or [1.0] * len(types_)
    b = len(pairs["policy_chosen"])
    value = trl_loss
    for t, w in zip(types_, weights):
        if t == "sft":
            flat = [v for row in chosen_tokens for v in row]
            trl_sft = -sum(flat) / max(1, len(flat))
            dpo_sft = sum(-sum(row) / max(1, len(row)) for row in chosen_tokens) / b
            value += w * (dpo_sft - trl_sft)
        elif t == "bco_pair":
            hc = [beta * (p - r) for p, r in zip(pairs["policy_chosen"], pairs["reference_chosen"])]
            hr = [beta * (p - r) for p, r in zip(pairs["policy_rejected"],
                                                 pairs["reference_rejected"])]
            delta = (sum(hc) + sum(hr)) / (2 * b)  # the first batch: the running mean is its mean

            def bco(d):
                return sum(-_logsigmoid(c - d) - _logsigmoid(-(r - d)) for c, r in zip(hc, hr)) / b
            value += w * (bco(delta) - bco(0.0))
    return value


def _logsigmoid(x):
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def run_loss_test(args, cases_path):
    """dpo's compute_loss on the same log-probs: the gtest reads cases_path (DPO_TRL_LOSSES) and
    writes dpo's figures beside it (DPO_TRL_LOSSES_OUT)."""
    out = cases_path + ".dpo.json"
    if os.path.exists(out):
        os.remove(out)
    binary = os.path.join(args.build, "tests", "losses_tests")
    if not os.path.exists(binary):
        raise RuntimeError(f"{binary} is missing: cmake --build {args.build} --target losses_tests")
    env = dict(os.environ, DPO_TRL_LOSSES=cases_path, DPO_TRL_LOSSES_OUT=out)
    log_path = cases_path + ".gtest.log"
    if os.path.exists(log_path):
        os.remove(log_path)
    status = run([binary, "--gtest_filter=TrlLossParity.*"], log_path, env)
    if not os.path.exists(out):
        raise RuntimeError(f"{binary} wrote no {out} (exit {status}); see {log_path}")
    with open(out) as f:
        return status, json.load(f)


# ---------------------------------------------------------------------------------------------
# check

class Verdicts:
    def __init__(self):
        self.rows = []

    def add(self, check, figure, limit, ok, note=""):
        self.rows.append((check, figure, limit, "PASS" if ok else "FAIL", note))

    def info(self, check, figure, note=""):
        self.rows.append((check, figure, "", "info", note))

    def failed(self):
        return [r for r in self.rows if r[3] == "FAIL"]

    def print(self, title):
        print(f"\n{title}\n")
        print("| check | figure | limit | verdict | note |")
        print("|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(str(x) for x in row) + " |")


def fmt(x):
    return f"{x:.2e}" if isinstance(x, float) else str(x)


def check(args):
    work = os.path.join(args.work, "check")
    model, prepared, data = make_inputs(args, args.preset, args.work, args.rows)
    pairs, flags = read_train_split(prepared)
    lengths = [len(p["prompt_ids"]) + max(len(p["chosen_ids"]), len(p["rejected_ids"]))
               for p in pairs]
    batches = batch_plan.training_batches(lengths, args.batch, args.seed, args.steps)
    log("inputs made; checking that TRL can be given the same")
    check_same_input(args, model, prepared, data, pairs, flags, batches)
    os.makedirs(work, exist_ok=True)
    pad_id = read_pad_id(prepared)
    versions = side_versions(args)
    log(f"{args.preset} model, {len(pairs)} train pairs, {args.steps} steps of {args.batch} pairs, "
        f"lr {args.lr}, beta {args.beta}; {versions}")
    verdicts = Verdicts()

    # The pairs of the first batches: step-0 log-probs and the loss-type check use them.
    logps_pairs = [i for batch in batches[:max(1, args.logps_batches)] for i in batch]

    log("dpo train")
    dpo = run_dpo_train(args, model, prepared, os.path.join(work, "dpo-run"), args.steps,
                        os.path.join(work, "dpo.log"))
    log("TRL DPOTrainer")
    trl = run_trl(args, trl_spec(args, model, pairs, batches, args.steps, pad_id,
                                 logps_pairs=logps_pairs), work, "trl")

    # 1. step-0 log-probs: dpo score (the policy) and dpo's cached reference against TRL.
    log("dpo score")
    score_path = os.path.join(work, "dpo-score.jsonl")
    must_run([args.dpo, "--log-level", "warn", "score", "--model", model, "--data", prepared,
              "--split", "train", "--threads", str(args.threads), "--out", score_path],
             os.path.join(work, "dpo.log"), "dpo score")
    scores = {}
    for line in open(score_path):
        row = json.loads(line)
        scores[int(row["pair_index"])] = (row["chosen_logps"], row["rejected_logps"])
    ref_c, ref_r = dpo_reference_logps(prepared)
    s0 = trl["step0"]
    worst = {"policy": 0.0, "reference": 0.0}
    worst_sum = {"policy": 0.0, "reference": 0.0}
    for k, i in enumerate(logps_pairs):
        for side, dpo_c, dpo_r in (("policy", *scores[i]), ("reference", ref_c[i], ref_r[i])):
            for dpo_v, trl_v, n in ((dpo_c, s0[f"{side}_chosen"][k], s0["chosen_tokens"][k]),
                                    (dpo_r, s0[f"{side}_rejected"][k], s0["rejected_tokens"][k])):
                diff = abs(dpo_v - trl_v)
                worst_sum[side] = max(worst_sum[side], diff)
                worst[side] = max(worst[side], diff / max(1, n))
    tokens = sum(s0["chosen_tokens"]) + sum(s0["rejected_tokens"])
    for side, what in (("policy", "dpo score"), ("reference", "dpo's cached reference")):
        verdicts.add(f"step-0 {side} log-probs, per completion token ({len(logps_pairs)} pairs, "
                     f"{tokens} tokens)", fmt(worst[side]), fmt(LOGP_PER_TOKEN_TOL),
                     worst[side] <= LOGP_PER_TOKEN_TOL,
                     f"{what} vs TRL; largest difference of a sum {fmt(worst_sum[side])}")

    # 2. the training steps: losses and metrics of the same names.
    dpo_steps = dpo["steps"]
    n = min(len(dpo_steps), len(trl["losses"]), len(trl["logs"]))
    if n < args.steps:
        verdicts.add("steps run by both", n, args.steps, False)
    loss_diffs = [abs(dpo_steps[s]["loss"] - trl["losses"][s]) for s in range(n)]
    worst_step = max(range(n), key=lambda s: loss_diffs[s])
    verdicts.add(f"sigmoid loss, steps 1-{n}", fmt(loss_diffs[worst_step]), fmt(LOSS_TOL),
                 loss_diffs[worst_step] <= LOSS_TOL,
                 f"largest at step {worst_step + 1} (dpo {dpo_steps[worst_step]['loss']:.6f}, "
                 f"TRL {trl['losses'][worst_step]:.6f}); loss moved from "
                 f"{trl['losses'][0]:.4f} to {trl['losses'][n - 1]:.4f}")
    for metric in METRICS:
        diffs, ties = [], []
        for s in range(n):
            d, t = dpo_steps[s].get(metric), trl["logs"][s].get(metric)
            if d is None or t is None:
                continue
            if metric == "rewards/accuracies" and abs(d - t) > 1e-9:
                ties.append((s + 1, d, t))
                continue
            diffs.append(abs(d - t))
        worst_m = max(diffs) if diffs else float("nan")
        # logps sums run over ~100-300 tokens: the per-token tolerance times the tokens of a pair.
        limit = LOGP_PER_TOKEN_TOL * args.max_length if metric.startswith("logps") else LOSS_TOL
        note = ""
        if metric == "rewards/accuracies":
            note = ("equal on every step" if not ties else
                    f"differs on steps {[t[0] for t in ties]} (dpo {ties[0][1]:.3f}, TRL "
                    f"{ties[0][2]:.3f} at step {ties[0][0]}): ties, see docs/losses.md")
            ok = all(_tie_explained(dpo_steps[s - 1], t) for s, _, t in ties)
            verdicts.add(f"{metric}, steps 1-{n}", fmt(worst_m), "equal or a tie", ok and
                         (not diffs or worst_m <= 1e-9), note)
            continue
        verdicts.add(f"{metric}, steps 1-{n}", fmt(worst_m), fmt(limit), worst_m <= limit, note)

    # 3. the loss types on the same log-probs (TRL's trained policy against its reference, so
    # that the rewards are not all zero).
    # The first batch with TRL's trained policy, the others with its step-0 policy, which equals
    # the reference exactly: ties, where the two accuracies differ by definition.
    b = args.batch
    same = {"policy_chosen_tokens": trl["trained"]["policy_chosen_tokens"][:b] +
            s0["policy_chosen_tokens"][b:],
            "policy_rejected_tokens": trl["trained"]["policy_rejected_tokens"][:b] +
            s0["policy_rejected_tokens"][b:],
            "reference_chosen_tokens": s0["reference_chosen_tokens"],
            "reference_rejected_tokens": s0["reference_rejected_tokens"]}
    cases_path = os.path.join(work, "trl_losses.json")
    write_loss_cases(cases_path, same, args.beta, 0.05,
                     f"tools/peers/compare_trl.py check ({args.preset}, {args.steps} steps): TRL's "
                     "policy after the run against the step-0 reference, first batches")
    log("TRL's _compute_loss and dpo's compute_loss (losses_tests) on the same log-probs")
    status, dpo_losses = run_loss_test(args, cases_path)
    for case in dpo_losses["cases"]:
        differs = abs(case["dpo_expected_loss"] - case["trl_loss"]) > LOSS_TYPE_TOL
        diff = abs(case["dpo_loss"] - case["dpo_expected_loss"])
        note = (f"TRL {case['trl_loss']:.6f}, dpo {case['dpo_loss']:.6f}" +
                (": dpo's definition differs, compared with it (docs/losses.md)" if differs else ""))
        verdicts.add(f"loss {case['name']} on the same log-probs", fmt(diff), fmt(LOSS_TYPE_TOL),
                     diff <= LOSS_TYPE_TOL and case["metrics_ok"], note)
    if status != 0:
        verdicts.add("losses_tests --gtest_filter=TrlLossParity.*", f"exit {status}", "exit 0",
                     False, f"see {cases_path}.gtest.log")

    verdicts.print(f"dpo against TRL {versions}: {args.preset} preset, fp32, CPU")
    failed = verdicts.failed()
    print(f"\n{len(verdicts.rows) - len(failed)} of {len(verdicts.rows)} checks pass"
          + (f"; FAILED: {', '.join(r[0] for r in failed)}" if failed else ""))
    return 1 if failed else 0


def _tie_explained(dpo_line, trl_accuracy):
    """TRL counts a tie (margin exactly 0, e.g. policy = reference at step 1) as wrong and dpo as
    half: TRL's figure is then at most dpo's, by at most half."""
    d = dpo_line["rewards/accuracies"]
    return trl_accuracy <= d + 1e-9 and d - trl_accuracy <= 0.5 + 1e-9


# ---------------------------------------------------------------------------------------------
# bench

def bench(args):
    rows = []
    versions = side_versions(args)
    for preset in args.presets.split(","):
        model, prepared, data = make_inputs(args, preset, args.work, args.rows)
        pairs, flags = read_train_split(prepared)
        lengths = [len(p["prompt_ids"]) + max(len(p["chosen_ids"]), len(p["rejected_ids"]))
                   for p in pairs]
        steps = args.warmup + args.bench_steps
        batches = batch_plan.training_batches(lengths, args.batch, args.seed, steps)
        check_same_input(args, model, prepared, data, pairs, flags, batches)
        pad_id = read_pad_id(prepared)
        timed = batches[args.warmup:]
        timed_tokens = sum(2 * len(pairs[i]["prompt_ids"]) + len(pairs[i]["chosen_ids"]) +
                           len(pairs[i]["rejected_ids"]) for batch in timed for i in batch)
        timed_pairs = sum(len(batch) for batch in timed)
        work = os.path.join(args.work, f"bench-{preset}{f'-lora{args.lora}' if args.lora else ''}")
        os.makedirs(work, exist_ok=True)
        samples = {"dpo": [], "TRL default": [], "TRL tuned": []}
        for repeat in range(args.repeats):
            # Alternate the sides so that they share the machine's noise.
            log(f"{preset}: repeat {repeat + 1}/{args.repeats}: dpo")
            d = run_dpo_train(args, model, prepared, os.path.join(work, "dpo-run"), steps,
                              os.path.join(work, "dpo.log"))
            secs = d["steps"][-1]["seconds"] - d["steps"][args.warmup - 1]["seconds"]
            samples["dpo"].append((secs, d["rss_mib"]))
            dpo_trained = None
            if args.lora > 0:
                with open(os.path.join(work, "dpo-run", "manifest.json")) as f:
                    dpo_trained = json.load(f)["lora"]["trainable_parameters"]
            for name, tuned in (("TRL default", False), ("TRL tuned", True)):
                log(f"{preset}: repeat {repeat + 1}/{args.repeats}: {name}")
                t = run_trl(args, trl_spec(args, model, pairs, batches, steps, pad_id, tuned=tuned,
                                           gradient_checkpointing=not tuned),
                            work, name.replace(" ", "-"))
                secs = t["step_times"][-1] - t["step_times"][args.warmup - 1]
                samples[name].append((secs, t["rss_mib"]))
                if dpo_trained is not None and t["trainable_parameters"] != dpo_trained:
                    raise Refusal(f"{name} trains {t['trainable_parameters']} parameters, dpo "
                                  f"{dpo_trained}: not the same LoRA")
        for name, values in samples.items():
            # The fastest repeat: on a shared machine the noise only ever slows a run down.
            secs = min(v[0] for v in values)
            rss = max(v[1] for v in values)
            rows.append({"preset": preset, "side": name, "pairs_per_s": timed_pairs / secs,
                         "tokens_per_s": timed_tokens / secs, "peak_rss_mib": rss,
                         "seconds": [v[0] for v in values], "rss_mib": [v[1] for v in values]})
    print_bench(args, rows, versions)
    with open(os.path.join(args.work, f"bench{'-lora' if args.lora > 0 else ''}.json"), "w") as f:
        json.dump({"versions": versions, "rows": rows, "args": vars(args)}, f, indent=1)
    return 0


def print_bench(args, rows, versions):
    what = (f"LoRA r{args.lora} alpha {2 * args.lora} on every linear layer (TRL: peft), "
            if args.lora > 0 else "")
    print(f"\ndpo and TRL {versions}: {what}fp32, CPU, {args.threads} threads, micro-batch "
          f"{args.batch} pairs, {args.bench_steps} timed steps after {args.warmup} warm-up steps, "
          f"the fastest of {args.repeats} alternating repeats (peak RSS: the largest)\n")
    print("| preset | side | pairs/s | tokens/s | peak RSS (MiB) | dpo / side: pairs/s | "
          "dpo / side: peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        d = next(x for x in rows if x["preset"] == r["preset"] and x["side"] == "dpo")
        print(f"| {r['preset']} | {r['side']} | {r['pairs_per_s']:.2f} | {r['tokens_per_s']:.0f} | "
              f"{r['peak_rss_mib']:.0f} | {d['pairs_per_s'] / r['pairs_per_s']:.2f}x | "
              f"{d['peak_rss_mib'] / r['peak_rss_mib']:.2f}x |")


def side_versions(args):
    import torch
    import transformers
    import trl
    dpo_version = subprocess.run([args.dpo, "--version"], capture_output=True,
                                 text=True).stdout.strip().splitlines()
    peft = ""
    if args.lora > 0:
        import peft as peft_module
        peft = f", peft {peft_module.__version__}"
    return (f"{trl.__version__} (transformers {transformers.__version__}, torch "
            f"{torch.__version__}{peft}); {dpo_version[0] if dpo_version else 'dpo'}")


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "trl-run":
        trl_run(sys.argv[2])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["check", "bench", "all"])
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--work", help="working folder (models, prepared files, runs), reused "
                   "between runs; default: BUILD/peers")
    p.add_argument("--data", default=DATA, help="preference pairs (JSONL) to prepare")
    p.add_argument("--model", help="a model folder both sides load (a Hugging Face folder dpo "
                   "reads); default: a `dpo init-model --preset` folder made in --work")
    p.add_argument("--preset", default="tiny", help="check: the model preset")
    p.add_argument("--presets", default="tiny,small", help="bench: the model presets")
    p.add_argument("--steps", type=int, default=20, help="check: training steps compared")
    p.add_argument("--rows", type=int, default=240,
                   help="the first ROWS rows of --data (0: all); dpo score and dpo's reference "
                   "cover the whole train split, so fewer rows run faster")
    p.add_argument("--logps-batches", type=int, default=2,
                   help="check: batches whose per-pair log-probs are compared")
    p.add_argument("--batch", type=int, default=4, help="pairs per micro-batch (both sides)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-length", type=int, default=384, help="dpo prepare --max-length")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--warmup", type=int, default=2, help="bench: untimed steps")
    p.add_argument("--bench-steps", type=int, default=8, help="bench: timed steps")
    p.add_argument("--repeats", type=int, default=2, help="bench: alternating repeats")
    p.add_argument("--lora", type=int, default=0,
                   help="bench: LoRA of this rank on both sides (alpha 2 x rank, all-linear); "
                   "0: full training")
    p.add_argument("--tokenization-rows", type=int, default=60,
                   help="rows whose TRL tokenization is compared with dpo prepare's")
    p.add_argument("--skip-tokenization-check", action="store_true")
    args = p.parse_args()
    args.build = os.path.abspath(args.build)
    args.dpo = os.path.join(args.build, "dpo")
    args.work = os.path.abspath(args.work or os.path.join(args.build, "peers"))
    if args.model:
        args.model = os.path.abspath(args.model)
        if args.command != "check":
            print("[peers] --model is for check; bench makes its presets", file=sys.stderr)
            return 2
    if args.lora < 0 or (args.lora > 0 and args.command != "bench"):
        print("[peers] --lora R (R >= 1) is for bench; check compares full training",
              file=sys.stderr)
        return 2
    if not os.path.exists(args.dpo):
        print(f"[peers] {args.dpo} is missing: build dpo first (cmake --build {args.build})",
              file=sys.stderr)
        return 2
    try:
        status = 0
        if args.command in ("check", "all"):
            status = max(status, check(args))
        if args.command in ("bench", "all"):
            status = max(status, bench(args))
        return status
    except Refusal as e:
        print(f"[peers] refused: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"[peers] {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
