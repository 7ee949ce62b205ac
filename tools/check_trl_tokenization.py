#!/usr/bin/env python3
"""Checks that `dpo prepare` tokenizes preference pairs as TRL's DPOTrainer does.

For each model folder and each preference data file, the rows are normalised to TRL's
conversational format ({"prompt": [...], "chosen": [...], "rejected": [...]}, content strings)
and then:

1. render: for every row, dpo's rendering (`dpo template render`) of the prompt with the
   generation prompt and of prompt + chosen / prompt + rejected without it is compared with
   transformers' `apply_chat_template(tokenize=False)` on the same messages;
2. tokenize (unless --render-only): `dpo prepare --model DIR` writes the prepared HDF5 file,
   and its prompt/chosen/rejected ids for each row are compared with the ids TRL computes.

TRL's tokenization is reproduced here from the source of trl 1.16.0 (trl is not a dependency):
`DPOTrainer._prepare_dataset` in trl/trainer/dpo_trainer.py (its inner `tokenize_fn`), with
`_tokenize` and `common_prefix_length` from trl/data_utils.py:

    prompt_ids          = apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    prompt_chosen_ids   = apply_chat_template(prompt + chosen, tokenize=True)
    prompt_rejected_ids = apply_chat_template(prompt + rejected, tokenize=True)
    prompt_len = min(common_prefix_length(prompt_ids, prompt_chosen_ids),
                     common_prefix_length(prompt_ids, prompt_rejected_ids))
    prompt_ids   = prompt_ids[:prompt_len]
    chosen_ids   = prompt_chosen_ids[prompt_len:]
    rejected_ids = prompt_rejected_ids[prompt_len:]

apply_chat_template(tokenize=True) tokenizes with add_special_tokens=False (transformers 5).
Where the prompt is not a token prefix of a full conversation TRL keeps the row with its prompt
cut to the common prefix (and warns once); dpo leaves the row out as `prefix_mismatch`. Such
rows are reported as "TRL cuts the prompt", not as mismatches.

Run with the oracle Python (transformers), from the repository root, after building dpo:

    .venv-oracle/bin/python3 tools/check_trl_tokenization.py                  # every model
    .venv-oracle/bin/python3 tools/check_trl_tokenization.py \\
        --model ../shared/assets/hf_tokenizers/tinyllama-1.1b-chat-v1.0 --data examples/support/pairs.jsonl

The prepared file is read with h5py; when this Python lacks it, a Python that has it
(--h5py-python, default /usr/bin/python3) dumps the ids. Exit status: 0 when every compared row
agrees, 1 when a rendering or an id differs, 2 on a usage or setup error.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "assets")


# ---- data: every format normalised to TRL's conversational rows ----

def text_of(content):
    """Content as a string: a list of parts ({"type": "text", "text"|"value": ...}) is joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", part.get("value", "")) for part in content
                       if isinstance(part, dict))
    return "" if content is None else str(content)


ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
         "system": "system", "observation": "tool", "function_call": "assistant"}


def message(m):
    if "from" in m:
        return {"role": ROLES.get(m["from"], m["from"]), "content": text_of(m.get("value"))}
    return {"role": ROLES.get(m["role"], m["role"]), "content": text_of(m.get("content"))}


def turns(value, role="assistant"):
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, dict):
        return [message(value)]
    return [message(m) for m in value]


def extract_prompt(chosen, rejected):
    """trl/data_utils.py extract_prompt: the longest common prefix of turns is the prompt."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    return chosen[:n], chosen[n:], rejected[n:]


def normalise(record):
    """One preference row as {"prompt", "chosen", "rejected"} message lists, or None."""
    if "prompt" in record and "chosen" in record and "rejected" in record:
        return {"prompt": turns(record["prompt"], "user"), "chosen": turns(record["chosen"]),
                "rejected": turns(record["rejected"])}
    if "conversations" in record and "chosen" in record:  # LLaMA-Factory sharegpt
        return {"prompt": turns(record["conversations"], "user"),
                "chosen": turns(record["chosen"]), "rejected": turns(record["rejected"])}
    if "chosen_messages" in record:  # LLaMA-Factory v1
        prompt, chosen, rejected = extract_prompt(turns(record["chosen_messages"]),
                                                  turns(record["rejected_messages"]))
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    if "question" in record and "response_j" in record:  # stack-exchange-paired
        return {"prompt": [{"role": "user", "content": record["question"]}],
                "chosen": turns(record["response_j"]), "rejected": turns(record["response_k"])}
    if "chosen" in record and "rejected" in record:  # implicit prompt (Anthropic HH as lists)
        if isinstance(record["chosen"], list):
            prompt, chosen, rejected = extract_prompt(turns(record["chosen"]),
                                                      turns(record["rejected"]))
            return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    return None


def read_rows(path, limit):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    stripped = text.lstrip()
    records = json.loads(text) if stripped.startswith("[") else [
        json.loads(line) for line in text.splitlines() if line.strip()]
    rows = []
    for record in records:
        row = normalise(record)
        if row and row["prompt"] and row["chosen"] and row["rejected"]:
            own = record.get("id")
            row["id"] = f"{os.path.basename(path)}#{own if isinstance(own, str) else len(rows)}"
            rows.append(row)
        if len(rows) >= limit:
            break
    return rows


# ---- TRL ----

def common_prefix_length(ids, other_ids):
    """trl/data_utils.py common_prefix_length."""
    length = 0
    for token, other_token in zip(ids, other_ids):
        if token != other_token:
            break
        length += 1
    return length


def trl_tokenize_row(tokenizer, row, chat_template=None):
    """DPOTrainer._prepare_dataset's tokenize_fn (trl 1.16.0) for a conversational row."""
    def tokenize(messages, **kwargs):  # trl/data_utils.py _tokenize, conversational branch
        return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                             chat_template=chat_template, **kwargs)["input_ids"]

    prompt_ids = tokenize(row["prompt"], add_generation_prompt=True)
    prompt_chosen_ids = tokenize(row["prompt"] + row["chosen"])
    prompt_rejected_ids = tokenize(row["prompt"] + row["rejected"])
    prompt_len = min(common_prefix_length(prompt_ids, prompt_chosen_ids),
                     common_prefix_length(prompt_ids, prompt_rejected_ids))
    return {"prompt_ids": list(prompt_ids[:prompt_len]),
            "chosen_ids": list(prompt_chosen_ids[prompt_len:]),
            "rejected_ids": list(prompt_rejected_ids[prompt_len:]),
            "prompt_cut": len(prompt_ids) - prompt_len}


def trl_render(tokenizer, messages, add_generation_prompt, chat_template=None):
    return tokenizer.apply_chat_template(messages, tokenize=False, chat_template=chat_template,
                                         add_generation_prompt=add_generation_prompt)


# ---- dpo ----

def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, **kwargs)


def dpo_render(dpo, template, model, tokenizer, messages, add_generation_prompt, workdir):
    path = os.path.join(workdir, "messages.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(messages, f, ensure_ascii=False)
    command = [dpo, "template", "render", "--template", template, "--messages", path]
    if os.path.isfile(os.path.join(model, "tokenizer_config.json")):
        command += ["--special-tokens-from", model]
    else:  # a folder with special_tokens_map.json only (Mistral v0.3): the tokens transformers has
        command += ["--bos", tokenizer.bos_token or "", "--eos", tokenizer.eos_token or ""]
    if add_generation_prompt:
        command.append("--add-generation-prompt")
    result = run(command)
    if result.returncode != 0:
        return "error: " + result.stderr.decode("utf-8", "replace").strip().splitlines()[0]
    return result.stdout.decode("utf-8")


H5_DUMP = r"""
import json, sys, h5py
out = {}
with h5py.File(sys.argv[1], "r") as f:
    for split in ("train", "val"):
        if split not in f:
            continue
        g = f[split]
        ids = {k: g[k + "_ids"][()].tolist() for k in ("prompt", "chosen", "rejected")}
        offsets = {k: g[k + "_offsets"][()].tolist() for k in ("prompt", "chosen", "rejected")}
        for i, row_id in enumerate(g["row_ids"][()]):
            row_id = row_id.decode("utf-8") if isinstance(row_id, bytes) else row_id
            out[row_id] = {k + "_ids": ids[k][offsets[k][i]:offsets[k][i + 1]]
                           for k in ("prompt", "chosen", "rejected")}
json.dump(out, sys.stdout)
"""


def read_prepared(path, h5py_python):
    try:
        import h5py  # noqa: F401
        python = sys.executable
    except ImportError:
        python = h5py_python
    result = run([python, "-c", H5_DUMP, path])
    if result.returncode != 0:
        sys.exit(f"cannot read {path} with {python} (h5py): "
                 f"{result.stderr.decode('utf-8', 'replace')[-400:]}")
    return json.loads(result.stdout)


def max_length_of(model):
    """dpo refuses a --max-length over the model's max_position_embeddings."""
    config = os.path.join(model, "config.json")
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as f:
            value = json.load(f).get("max_position_embeddings")
        if isinstance(value, int) and value > 0:
            return value
    return 1000000


def dpo_prepare(dpo, model, template, data_path, out_path, max_length):
    if os.path.isfile(os.path.join(model, "tokenizer_config.json")):
        command = [dpo, "prepare", "--model", model]
    else:  # no tokenizer_config.json (Mistral v0.3): the bare tokenizer.model and a template
        command = [dpo, "prepare", "--tokenizer", os.path.join(model, "tokenizer.model")]
    command += ["--data", data_path, "--out", out_path, "--max-length", str(max_length),
                "--val-fraction", "0", "--threads", "2", "--force"]
    if template:
        command += ["--template", template]
    result = run(command)
    return result.returncode, (result.stdout + result.stderr).decode("utf-8", "replace")


# ---- comparison ----

def first_difference(a, b):
    n = common_prefix_length(a, b)
    return n if n < max(len(a), len(b)) else None


def template_text(spec):
    """The text of a built-in template or .jinja file, for transformers' chat_template=."""
    if spec is None:
        return None
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8", newline="") as f:
            return f.read()
    with open(os.path.join(REPO, "configs", "templates", spec + ".jinja"), encoding="utf-8",
              newline="") as f:
        return f.read()


totals = {"bos_only": 0}


def check_model(args, model, data_files, workdir):
    from transformers import AutoTokenizer

    name = os.path.basename(os.path.normpath(model))
    template = args.template
    tokenizer = AutoTokenizer.from_pretrained(model)
    if template is None and not tokenizer.chat_template:
        template = "mistral" if "mistral" in name.lower() else None
        if template is None:
            print(f"{name}: no chat template; pass --template")
            return 0, 0
        print(f"{name}: no chat template in the folder; both sides use built-in '{template}'")
    chat_template = template_text(template)
    dpo_template = template if template else model
    problems = compared = 0
    tokenizer_unreadable = False
    for data_path in data_files:
        rows = read_rows(data_path, args.max_rows)
        label = f"{name} / {os.path.basename(data_path)}"
        # 1. Renderings.
        rendered = different = refused = 0
        for row in rows:
            for messages, agp in ((row["prompt"], True), (row["prompt"] + row["chosen"], False),
                                  (row["prompt"] + row["rejected"], False)):
                ours = dpo_render(args.dpo, dpo_template, model, tokenizer, messages, agp,
                                  workdir)
                try:
                    theirs = trl_render(tokenizer, messages, agp, chat_template)
                except Exception as e:  # noqa: BLE001: a template error is compared too
                    theirs = "error: " + str(e)
                rendered += 1
                if ours.startswith("error") and theirs.startswith("error"):
                    refused += 1
                elif ours != theirs:
                    different += 1
                    if different <= args.show:
                        print(f"  RENDER DIFFERS {label} {row['id']} agp={agp}\n"
                              f"    dpo:          {ours[:300]!r}\n"
                              f"    transformers: {theirs[:300]!r}")
        # TRL's own split with transformers' tokenizer, whatever dpo reads: rows whose prompt is
        # not a token prefix of a full conversation (TRL cuts the prompt, dpo leaves them out).
        trl_cut = 0
        for row in rows:
            try:
                cut = trl_tokenize_row(tokenizer, row, chat_template)["prompt_cut"]
            except Exception:  # noqa: BLE001: refused by the template, counted above
                continue
            if cut:
                trl_cut += 1
                if trl_cut <= args.show:
                    print(f"  NOT A TOKEN PREFIX {label} {row['id']}: TRL cuts {cut} prompt "
                          "tokens (dpo reports prefix_mismatch)")
        print(f"{label}: {len(rows)} rows, {rendered} renderings, {different} different"
              + (f" ({refused} refused by both templates)" if refused else "")
              + f"; {trl_cut} rows whose prompt is not a token prefix for transformers' tokenizer")
        problems += different
        if args.render_only or tokenizer_unreadable:
            continue
        # 2. Token ids: dpo prepare against TRL's tokenize_fn.
        data_copy = os.path.join(workdir, "rows.jsonl")
        with open(data_copy, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        out = os.path.join(workdir, "prepared.h5")
        max_length = max_length_of(model)
        trl_rows = {}
        for row in rows:
            try:
                trl_rows[row["id"]] = trl_tokenize_row(tokenizer, row, chat_template)
            except Exception:  # noqa: BLE001: the template refuses the row (raise_exception)
                trl_rows[row["id"]] = None
        status, output = dpo_prepare(args.dpo, model, template, data_copy, out, max_length)
        if status != 0 and all(t is None for t in trl_rows.values()):
            print(f"{label}: the template refuses every row, in dpo and in transformers alike")
            continue
        if status != 0:
            print(f"{label}: dpo prepare failed (exit {status}):\n    " +
                  "\n    ".join(output.strip().splitlines()[-6:]))
            problems += 1
            # Until dpo reads tokenizer.json, a folder without tokenizer.model fails alike for
            # every file: said once.
            tokenizer_unreadable = "tokenizer.json" in output and "does not read" in output
            continue
        prepared = read_prepared(out, args.h5py_python)
        equal = trl_cuts = dropped = mismatched = too_long = refused = bos_only = 0
        for row in rows:
            trl = trl_rows[row["id"]]
            ours = prepared.get(row["id"])
            if trl is None:
                refused += 1
                if ours is not None:
                    mismatched += 1
                    print(f"  KEPT BY DPO, REFUSED BY TRANSFORMERS {label} {row['id']}")
                continue
            if ours is None and max(len(trl["prompt_ids"]) + len(trl[k])
                                    for k in ("chosen_ids", "rejected_ids")) > max_length:
                too_long += 1  # dpo's length policy (drop) at the model's context length
                continue
            if ours is None:
                dropped += 1
                why = "TRL keeps it with its prompt cut by %d tokens" % trl["prompt_cut"] \
                    if trl["prompt_cut"] else "TRL keeps it whole"
                if dropped <= args.show:
                    print(f"  LEFT OUT BY DPO {label} {row['id']}: {why}")
                if not trl["prompt_cut"]:
                    mismatched += 1
                else:
                    trl_cuts += 1
                continue
            differs = [k for k in ("prompt_ids", "chosen_ids", "rejected_ids")
                       if ours[k] != trl[k]]
            if not differs:
                equal += 1
                continue
            if (differs == ["prompt_ids"] and tokenizer.bos_token_id is not None
                    and ours["prompt_ids"] == [tokenizer.bos_token_id] + trl["prompt_ids"]):
                # dpo adds BOS when the tokenizer's add_bos_token is set and the template wrote
                # none; TRL's apply_chat_template(tokenize=True) adds no special tokens.
                bos_only += 1
                mismatched += 1
                continue
            mismatched += 1
            if mismatched - bos_only <= args.show:
                print(f"  IDS DIFFER {label} {row['id']}: {', '.join(differs)}")
                for k in differs:
                    at = first_difference(ours[k], trl[k])
                    window = slice(max(0, at - 2), at + 4)
                    print(f"    {k}: {len(ours[k])} (dpo) vs {len(trl[k])} (TRL) tokens, first "
                          f"difference at {at}:\n"
                          f"      dpo {tokenizer.convert_ids_to_tokens(ours[k][window])}\n"
                          f"      TRL {tokenizer.convert_ids_to_tokens(trl[k][window])}")
        compared += len(rows)
        problems += mismatched
        totals["bos_only"] += bos_only
        print(f"{label}: ids of {len(rows)} rows: {equal} equal to TRL's, {mismatched} different "
              f"({bos_only} of them only by the BOS dpo adds in front of the prompt), "
              f"{trl_cuts} left out by dpo where TRL cuts the prompt, {too_long} longer than "
              f"{max_length} tokens (dropped by dpo), {refused} refused by the template")
    return problems, compared


def default_models():
    root = os.path.join(SHARED, "hf_tokenizers")
    models = []
    for folder in sorted(glob.glob(os.path.join(root, "*"))):
        config = os.path.join(folder, "tokenizer_config.json")
        if os.path.isfile(config):
            with open(config, encoding="utf-8") as f:
                if json.load(f).get("chat_template"):
                    models.append(folder)
    return models


def default_data():
    files = [os.path.join(REPO, "tests", "fixtures", "templates", "trl_check_rows.jsonl")]
    files += sorted(glob.glob(os.path.join(REPO, "examples", "*", "pairs.jsonl")))
    files += sorted(glob.glob(os.path.join(SHARED, "preference_data", "*.json*")))
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="model folder (repeatable); default: "
                        "each folder of ../shared/assets/hf_tokenizers with a chat_template")
    parser.add_argument("--data", action="append", help="preference data file (repeatable); "
                        "default: tests/fixtures/templates/trl_check_rows.jsonl (thinking, "
                        "multi-turn, whitespace, Unicode), examples/*/pairs.jsonl and "
                        "../shared/assets/preference_data")
    parser.add_argument("--template", help="template for both sides (a dpo built-in name or a "
                        ".jinja file) instead of the folder's")
    parser.add_argument("--dpo", default=os.path.join(REPO, "build", "dpo"))
    parser.add_argument("--max-rows", type=int, default=60, help="rows per data file")
    parser.add_argument("--show", type=int, default=3, help="differences shown per file")
    parser.add_argument("--render-only", action="store_true",
                        help="compare the rendered texts only (no dpo prepare)")
    parser.add_argument("--h5py-python", default="/usr/bin/python3")
    args = parser.parse_args()
    if not os.access(args.dpo, os.X_OK):
        print(f"no dpo binary at {args.dpo}: build it (cmake --build build --target dpo) or "
              "pass --dpo", file=sys.stderr)
        return 2
    try:
        import transformers
    except ImportError:
        print("transformers is missing: run with the oracle Python (make oracle)", file=sys.stderr)
        return 2
    models = args.model or default_models()
    data_files = args.data or default_data()
    print(f"transformers {transformers.__version__}; TRL 1.16.0 logic (DPOTrainer._prepare_dataset)"
          f"; {len(models)} models, {len(data_files)} data files, up to {args.max_rows} rows each")
    problems = compared = 0
    with tempfile.TemporaryDirectory(prefix="dpo-trl-check-") as workdir:
        for model in models:
            p, c = check_model(args, model, data_files, workdir)
            problems += p
            compared += c
    print(f"total: {problems} differences" +
          ("" if args.render_only else
           f" ({totals['bos_only']} of them only by the BOS dpo adds), {compared} rows "
           "compared"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
