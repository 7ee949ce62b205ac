#!/usr/bin/env python3
"""The hostile corpus: bad inputs and faults against the dpo command line (docs/reliability.md).

Every case runs one dpo command on a generated hostile input, under a timeout, and must end
  - without a crash (no signal, no exit code above 128 unless the case expects one),
  - without a hang (within its timeout),
  - without "internal error" (reserved for bugs in dpo),
  - with the exit code the case expects and a message that names the file and the place
    (each case lists the strings the output must contain),
  - and with its post-condition holding (an input left intact, no temporary left behind, ...).

    tests/hostile/hostile_corpus.py --dpo build/dpo --work build/hostile [--group G] [-v]

Groups: data, config, model, template, prepared, train. ctest runs one test per group
(Hostile.<group>); the fixtures (a tiny tokenizer, model, prepared file and run) are made once
per work folder by dpo itself. Standard library only.
"""
import argparse
import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_DATA = os.path.join(REPO, "examples", "support", "pairs.jsonl")
RESEAL = ""  # dpo_test_reseal, set from --reseal


@dataclasses.dataclass
class Case:
    group: str
    name: str
    args: List[str]  # after "dpo"
    expect_exit: Sequence[int] = (2,)
    expect: Sequence[str] = ()  # substrings of stdout+stderr (the file, the place, the reason)
    timeout: float = 60.0
    # Returns None when the post-condition holds, else what is wrong.
    check: Optional[Callable[[], Optional[str]]] = None
    # Send this signal to the process once `signal_when()` is true (polled every 50 ms).
    send_signal: Optional[int] = None
    signal_when: Optional[Callable[[], bool]] = None


@dataclasses.dataclass
class Outcome:
    case: Case
    code: Optional[int]
    seconds: float
    problems: List[str]
    output: str


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write(path: str, data, mode: str = "w") -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode if isinstance(data, str) else "wb") as f:
        f.write(data)
    return path


def row(prompt="What is 2+2?", chosen="4", rejected="5", **extra) -> dict:
    r = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    r.update(extra)
    return r


def good_rows(n: int) -> List[str]:
    return [json.dumps(row(prompt=f"Question number {i}?", chosen=f"Answer {i}.",
                           rejected=f"Wrong {i}.")) for i in range(n)]


class Fixtures:
    """Tiny assets made by dpo once per work folder: a tokenizer, a model, data, a prepared file
    and a short training run with checkpoints."""

    def __init__(self, dpo: str, work: str, remake: bool = False):
        self.dpo = dpo
        self.root = os.path.join(work, "fixtures")
        self.data = os.path.join(self.root, "pairs.jsonl")
        self.tokenizer = os.path.join(self.root, "tokenizer")
        self.model = os.path.join(self.root, "model")
        self.prepared = os.path.join(self.root, "pairs.h5")
        self.run_config = os.path.join(self.root, "run.json")
        self.run = os.path.join(self.root, "run")
        if remake or not os.path.exists(os.path.join(self.root, "done")):
            self._make()

    def _dpo(self, *args: str) -> None:
        r = subprocess.run([self.dpo, "--log-level", "warn", *args], capture_output=True,
                           text=True, errors="replace")
        if r.returncode != 0:
            raise SystemExit(f"fixture step failed: dpo {' '.join(args)}\n{r.stdout}{r.stderr}")

    def _make(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        with open(EXAMPLE_DATA) as f:
            lines = [next(f) for _ in range(40)]
        write(self.data, "".join(lines))
        chatml = ["--user-symbol", "<|im_start|>", "--user-symbol", "<|im_end|>"]
        self._dpo("train-tokenizer", self.data, "--out", self.tokenizer, "--vocab-size", "800",
                  *chatml)
        self._dpo("init-model", "--preset", "tiny", "--tokenizer",
                  os.path.join(self.tokenizer, "tokenizer.model"), "--template", "chatml",
                  "--special-token", "<|im_start|>", "--special-token", "<|im_end|>",
                  "--eos-token", "<|im_end|>", "--seed", "1", "--out", self.model)
        self._dpo("prepare", "--data", self.data, "--model", self.model, "--max-length", "384",
                  "--threads", "1", "--val-fraction", "0.2", "--out", self.prepared)
        write(self.run_config, json.dumps(self.config(self.run), indent=1))
        self._dpo("train", "--config", self.run_config)
        write(os.path.join(self.root, "done"), "")

    def config(self, out_dir: str, **train) -> dict:
        """A config for a 4-step CPU run on the fixtures, checkpoints at steps 2 and 4."""
        t = {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 4, "grad_accum": 1,
             "max_steps": 4, "seed": 1, "threads": 1, "log_every_steps": 1,
             "save_every_steps": 2, "keep_checkpoints": 2, "out_dir": out_dir}
        t.update(train)
        return {"data": {"prepared": self.prepared}, "model": {"path": self.model},
                "reference": {"mode": "live"}, "loss": {"types": ["sigmoid"], "beta": 0.1},
                "optim": {"lr": 1e-3, "warmup_steps": 0}, "train": t,
                "eval": {"every_steps": 0}}

    def copy_run(self, dest: str) -> str:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(self.run, dest)
        return dest

    def copy_model(self, dest: str) -> str:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(self.model, dest)
        return dest


# --- the cases, by group ---------------------------------------------------------------------

def data_cases(fx: Fixtures, d: str) -> List[Case]:
    """Data files given to `dpo validate` (torch-free, the first gate of every pipeline)."""
    cases: List[Case] = []

    def validate(name: str, content, expect: Sequence[str], expect_exit=(1,), suffix=".jsonl",
                 extra: Sequence[str] = ()) -> None:
        path = write(os.path.join(d, name + suffix), content)
        cases.append(Case("data", name, ["validate", path, *extra], expect_exit,
                          [os.path.basename(path), *expect]))

    good = good_rows(3)
    validate("empty_file", "", ["no rows"])
    validate("only_newlines", "\n\n\n\r\n", ["no rows"])
    validate("duplicate_key_prompt",
             good[0] + '\n{"prompt": "a", "prompt": "b", "chosen": "c", "rejected": "d"}\n',
             ["duplicate_key", ":2", "prompt"])
    validate("duplicate_key_nested",
             json.dumps({"prompt": [{"role": "user", "content": "q"}],
                         "chosen": [{"role": "assistant", "content": "a"}],
                         "rejected": [{"role": "assistant", "content": "b"}]}).replace(
                 '"content": "a"', '"content": "a", "content": "x"') + "\n",
             ["duplicate_key", ":1", "content"])
    validate("bom_mid_file",
             (good[0] + "\n" + good[1] + "\n").encode() + b"\xef\xbb\xbf" + good[2].encode() + b"\n",
             [":3", "BOM"])
    validate("lone_surrogate", good[0] + '\n{"prompt": "a\\ud800b", "chosen": "c", '
             '"rejected": "d"}\n', [":2", "surrogate"])
    validate("invalid_utf8", good[0].encode() + b'\n{"prompt": "a\xff\xfeb", "chosen": "c", '
             b'"rejected": "d"}\n', [":2", "invalid_utf8"])
    validate("truncated_row", good[0] + '\n{"prompt": "a", "chosen": "c", "rej', [":2"])
    validate("deep_nesting", "[" * 100000 + "\n", ["line 1", "invalid_json"])
    validate("deep_nesting_object", '{"prompt": ' + "[" * 5000 + "]" * 5000 + "}\n",
             [":1"])
    validate("number_row", "12345\n" + good[0] + "\n", [":1"])
    validate("null_row", "null\n" + good[0] + "\n", [":1"])
    validate("too_large_record", good[0] + "\n" + json.dumps(row(prompt="x" * 5000)) + "\n",
             [":2", "too_large"], extra=["--max-record-bytes", "1000"])
    validate("tool_only_prompt",
             json.dumps({"prompt": [{"role": "tool", "content": "42"}],
                         "chosen": [{"role": "assistant", "content": "a"}],
                         "rejected": [{"role": "assistant", "content": "b"}]}) + "\n",
             [":1", "bad_role_order"])
    validate("system_only_prompt",
             json.dumps({"prompt": [{"role": "system", "content": "be nice"}],
                         "chosen": [{"role": "assistant", "content": "a"}],
                         "rejected": [{"role": "assistant", "content": "b"}]}) + "\n",
             [":1", "no user turn"])
    validate("broken_json_array", "[" + good[0] + ", {\"prompt\": ]", ["["], suffix=".json")
    validate("truncated_gzip", gzip.compress(("\n".join(good) + "\n").encode())[:40],
             ["gz"], expect_exit=(1, 2), suffix=".jsonl.gz")
    validate("binary_garbage", bytes(range(256)) * 4, [":1"])
    # Run folders and report JSON given to `dpo report` (torch-free).
    report = write(os.path.join(d, "report_duplicate.json"), '{"a": 1, "a": 2}')
    cases.append(Case("data", "report_duplicate_key", ["report", report], (2,),
                      ["report_duplicate.json", "duplicate key 'a'"]))
    run = os.path.join(d, "report_run")
    write(os.path.join(run, "metrics.jsonl"), '{"step": 1, "loss": 0.5}\n{"step": 1e400}\n')
    cases.append(Case("data", "report_number_overflow", ["report", run], (2,),
                      ["metrics.jsonl:2", "out of range"]))
    run = os.path.join(d, "report_wrong_types")
    write(os.path.join(run, "metrics.jsonl"), '{"step": "one", "loss": [1]}\n')
    write(os.path.join(run, "manifest.json"), '{"result": 7, "config": "x"}')
    cases.append(Case("data", "report_wrong_types", ["report", run], (0, 2), []))
    # Paths that are not data files.
    cases.append(Case("data", "data_is_a_folder", ["validate", d], (2,), [d, "directory"]))
    missing = os.path.join(d, "no_such_file.jsonl")
    cases.append(Case("data", "data_missing", ["validate", missing], (2,),
                      ["no_such_file.jsonl"]))
    return cases


def config_cases(fx: Fixtures, d: str) -> List[Case]:
    """Configs and --set overrides given to `dpo train`."""
    cases: List[Case] = []
    base = json.dumps(fx.config(os.path.join(d, "unused-run")), indent=1)

    def train(name: str, text: Optional[str], sets: Sequence[str], expect: Sequence[str],
              expect_exit=(2,)) -> None:
        args = ["train"]
        if text is not None:
            path = write(os.path.join(d, name + ".json"), text)
            args += ["--config", path]
            if not sets:  # an override's errors name the key; a file's name the file
                expect = [os.path.basename(path), *expect]
        for s in sets:
            args += ["--set", s]
        cases.append(Case("config", name, args, expect_exit, expect))

    train("duplicate_key", base.replace('"max_steps": 4', '"max_steps": 4, "max_steps": 9'),
          [], ["duplicate key", "max_steps", "line"])
    train("syntax_error", base.replace('"max_steps": 4,', '"max_steps": 4,,'), [],
          ["line", "column"])
    train("not_an_object", "[1, 2]", [], ["object"])
    train("empty_file", "", [], ["JSON"])
    train("unknown_key", base.replace('"max_steps"', '"max_stepz"'), [], ["max_stepz"])
    train("lr_overflow", base, ["optim.lr=1e400"], ["optim.lr"])
    train("steps_overflow", base, ["train.max_steps=99999999999999999999999"],
          ["train.max_steps"])
    train("negative_steps", base, ["train.max_steps=-5"], ["train.max_steps"])
    train("wrong_type", base, ["train.micro_batch_pairs=\"eight\""],
          ["train.micro_batch_pairs"])
    train("invalid_utf8_override", base, ["train.max_steps=3\udcd7\udcd7"], ["train.max_steps"])
    train("no_equals_override", base, ["train.max_steps"], ["train.max_steps"])
    train("nan_lr", base, ["optim.lr=NaN"], ["optim.lr"])
    # Output folders that cannot be one.
    a_file = write(os.path.join(d, "a_file"), "not a folder\n")
    train("out_dir_is_a_file", base, [f"train.out_dir={a_file}"], ["a_file"])
    train("out_dir_under_a_file", base, [f"train.out_dir={a_file}/run"], ["a_file"])
    cases.append(Case("config", "config_is_a_folder", ["train", "--config", d], (2,), [d]))
    return cases


def model_cases(fx: Fixtures, d: str) -> List[Case]:
    """Model folders with hostile config.json values and weights, given to `dpo score`."""
    cases: List[Case] = []

    def with_config(name: str, edit: Callable[[dict], None], expect: Sequence[str],
                    raw: Optional[str] = None, timeout: float = 60) -> None:
        model = fx.copy_model(os.path.join(d, name))
        path = os.path.join(model, "config.json")
        if raw is None:
            with open(path) as f:
                cfg = json.load(f)
            edit(cfg)
            write(path, json.dumps(cfg, indent=1))
        else:
            write(path, raw)
        cases.append(Case("model", name, ["score", "--model", model, "--data", fx.prepared,
                                          "--out", os.path.join(d, name + ".jsonl")],
                          (2,), ["config.json", *expect], timeout))

    def setter(key, value):
        return lambda cfg: cfg.__setitem__(key, value)

    with_config("vocab_size_2_37", setter("vocab_size", 2 ** 37), ["vocab_size"], timeout=30)
    with_config("intermediate_size_2_37", setter("intermediate_size", 2 ** 37),
                ["intermediate_size"], timeout=30)
    with_config("layers_1e6", setter("num_hidden_layers", 1000000), ["num_hidden_layers"],
                timeout=30)
    with_config("hidden_size_negative", setter("hidden_size", -64), ["hidden_size"])
    with_config("heads_not_dividing", setter("num_attention_heads", 7), ["num_attention_heads"])
    with_config("vocab_smaller_than_tokenizer", setter("vocab_size", 100), ["vocab_size"])
    with_config("config_syntax_error", None, ["line", "column"], raw='{"vocab_size": 800,,}')
    original = open(os.path.join(fx.model, "config.json")).read()
    with_config("config_duplicate_key", None, ["duplicate key", "vocab_size"],
                raw=original.replace("{", '{"vocab_size": 5, ', 1))

    # Weights: a NaN in one tensor must not give null log-probs with exit 0.
    model = fx.copy_model(os.path.join(d, "nan_weight"))
    poison_safetensors(os.path.join(model, "model.safetensors"), float("nan"))
    cases.append(Case("model", "nan_weight_score", ["score", "--model", model, "--data",
                                                    fx.prepared, "--out",
                                                    os.path.join(d, "nan.jsonl")],
                      (2,), ["non-finite"]))
    copy = os.path.join(d, "nan_reference.h5")
    shutil.copy(fx.prepared, copy)
    before = sha256(copy)
    cases.append(Case("model", "nan_weight_write_reference",
                      ["score", "--model", model, "--data", copy, "--write-reference"], (2,),
                      ["non-finite"],
                      check=lambda: None if sha256(copy) == before
                      else "the prepared file changed: non-finite values were cached"))
    cases.append(Case("model", "nan_weight_eval", ["eval", "--model", model, "--data",
                                                   fx.prepared], (2,), ["non-finite"]))
    # Safetensors files that lie.
    model = fx.copy_model(os.path.join(d, "truncated_weights"))
    st = os.path.join(model, "model.safetensors")
    with open(st, "rb") as f:
        blob = f.read()
    write(st, blob[: len(blob) // 2])
    cases.append(Case("model", "truncated_weights", ["score", "--model", model, "--data",
                                                     fx.prepared, "--out",
                                                     os.path.join(d, "t.jsonl")],
                      (2,), ["model.safetensors"]))
    model = fx.copy_model(os.path.join(d, "duplicate_tensor"))
    st = os.path.join(model, "model.safetensors")
    duplicate_first_tensor_name(st)
    cases.append(Case("model", "duplicate_tensor_name", ["score", "--model", model, "--data",
                                                         fx.prepared, "--out",
                                                         os.path.join(d, "u.jsonl")], (2,),
                      ["model.safetensors", "duplicate"]))
    # Paths that are not model folders.
    a_file = write(os.path.join(d, "model_is_a_file"), "x")
    cases.append(Case("model", "model_is_a_file", ["prepare", "--data", fx.data, "--model",
                                                   a_file, "--out", os.path.join(d, "x.h5")],
                      (2,), ["model_is_a_file", "not a folder"]))
    loop = os.path.join(d, "loop")
    if not os.path.lexists(loop):
        os.symlink(loop, loop)
    cases.append(Case("model", "model_symlink_loop", ["prepare", "--data", fx.data, "--model",
                                                      loop, "--out", os.path.join(d, "y.h5")],
                      (2,), ["loop", "symlink"]))
    cases.append(Case("model", "model_missing", ["prepare", "--data", fx.data, "--model",
                                                 os.path.join(d, "nope"), "--out",
                                                 os.path.join(d, "z.h5")],
                      (2,), ["nope", "does not exist"]))

    # tokenizer.json folders (no tokenizer.model) that lie, given to `dpo prepare`: the small
    # Qwen-style fixture of tests/fixtures/hf_tokenizers, edited.
    fixture = open(os.path.join(REPO, "tests", "fixtures", "hf_tokenizers", "qwen",
                                "tokenizer.json")).read()
    chatml = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
              "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

    def tokenizer_json(name: str, text: str, expect: Sequence[str], data: str = "") -> None:
        folder = os.path.join(d, name)
        write(os.path.join(folder, "tokenizer.json"), text)
        write(os.path.join(folder, "tokenizer_config.json"),
              json.dumps({"eos_token": "<|im_end|>", "chat_template": chatml}))
        cases.append(Case("model", name, ["prepare", "--data", data or fx.data, "--model",
                                          folder, "--out", os.path.join(d, name + ".h5")],
                          (2,), expect, 30))

    def edited(edit: Callable[[dict], None]) -> str:
        parsed = json.loads(fixture)
        edit(parsed)
        return json.dumps(parsed)

    def set_merge(t: dict) -> None:
        merges = t["model"]["merges"]
        merges[3] = ["zzq", "qqz"] if isinstance(merges[3], list) else "zzq qqz"

    def set_regex(pattern: str) -> Callable[[dict], None]:
        def edit(t: dict) -> None:
            t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = pattern
        return edit

    tokenizer_json("tokenizer_json_truncated", fixture[:len(fixture) // 2],
                   ["tokenizer.json", "line", "column"])
    tokenizer_json("tokenizer_json_merge_missing_token", edited(set_merge),
                   ["tokenizer.json", "merge 4", "zzq"])
    tokenizer_json("tokenizer_json_unknown_model",
                   edited(lambda t: t["model"].__setitem__("type", "Unigram")),
                   ["tokenizer.json", "unsupported model 'Unigram'"])
    tokenizer_json("tokenizer_json_regex_rejected", edited(set_regex("(\\p{L}+")),
                   ["tokenizer.json", "PCRE2", "offset"])
    tokenizer_json("tokenizer_json_id_2_40",
                   edited(lambda t: t["added_tokens"][0].__setitem__("id", 2 ** 40)),
                   ["tokenizer.json", "1099511627776"])
    tokenizer_json("tokenizer_json_nested_1e5", "[" * 100000 + "]" * 100000,
                   ["tokenizer.json", "nested deeper"])
    # Catastrophic backtracking: PCRE2's match limit ends it with a message, never a hang.
    backtrack_rows = write(os.path.join(d, "backtrack.jsonl"), json.dumps({
        "prompt": [{"role": "user", "content": "a" * 40 + "!"}],
        "chosen": [{"role": "assistant", "content": "a" * 5000 + "!"}],
        "rejected": [{"role": "assistant", "content": "no"}]}) + "\n")
    tokenizer_json("tokenizer_json_regex_backtracking", edited(set_regex("(a+)+$")),
                   ["tokenizer.json", "match limit"], data=backtrack_rows)
    return cases


def poison_safetensors(path: str, value: float) -> None:
    """Sets the first element of the first float32 tensor to `value`."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, info in header.items():
            if name != "__metadata__" and info["dtype"] == "F32":
                f.seek(8 + n + info["data_offsets"][0])
                f.write(struct.pack("<f", value))
                return
    raise SystemExit(f"no float32 tensor in {path}")


def duplicate_first_tensor_name(path: str) -> None:
    """Renames the second tensor of the header to the first one's name (same length kept by
    padding the header with spaces, as the format allows)."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header_text = blob[8:8 + n].decode()
    header = json.loads(header_text)
    names = [k for k in header if k != "__metadata__"]
    first, second = names[0], names[1]
    compact = dict(separators=(",", ":"))
    items = [f'"{k}":{json.dumps(v, **compact)}' for k, v in header.items() if k != second]
    items.append(f'"{first}":{json.dumps(header[second], **compact)}')
    text = "{" + ",".join(items) + "}"
    if len(text) > n:
        raise SystemExit("duplicate_first_tensor_name: the header grew")
    text += " " * (n - len(text))
    with open(path, "wb") as f:
        f.write(blob[:8] + text.encode() + blob[8 + n:])


def template_cases(fx: Fixtures, d: str) -> List[Case]:
    """Chat templates that ask for unbounded work, given to `dpo template render`."""
    cases: List[Case] = []
    messages = write(os.path.join(d, "messages.json"),
                     json.dumps([{"role": "user", "content": "hi"}]))

    def render(name: str, text: str, expect: Sequence[str], timeout: float = 30) -> None:
        path = write(os.path.join(d, name + ".jinja"), text)
        cases.append(Case("template", name, ["template", "render", "--template", path,
                                             "--messages", messages], (2,),
                          [os.path.basename(path), *expect], timeout))

    render("string_times_1e9", "{{ 'x' * 1000000000 }}", ["limit"])
    render("string_doubling", "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
           "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}", ["limit"])
    render("nested_ranges", "{% for i in range(100000) %}{% for j in range(100000) %}"
           "{% endfor %}{% endfor %}", ["limit"])
    render("list_times_1e9", "{{ ([1] * 1000000000) | length }}", ["limit"])
    render("recursive_macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
           ["limit"])
    render("deep_parentheses", "{{ " + "(" * 100000 + "1" + ")" * 100000 + " }}", ["1:"])
    render("deep_lists", "{{ " + "[" * 100000 + "]" * 100000 + " }}", ["1:"])
    render("join_blowup", "{% set l = ['x' * 1000] * 100000 %}{{ l | join(l | join) }}",
           ["limit"])
    render("center_huge", "{{ 'x' | center(2000000000) }}", ["limit"])
    render("range_huge", "{{ range(10 ** 12) | length }}", ["range"])
    render("unterminated_tag", "{% for m in messages %}{{ m.content }}", ["1:"])
    return cases


def prepared_cases(fx: Fixtures, d: str) -> List[Case]:
    """Prepared files: outputs that must not be overwritten, and corrupt files given to
    `dpo inspect`."""
    cases: List[Case] = []
    # --out naming an input, directly or through a symlink, or a file that is not ours.
    data = write(os.path.join(d, "input.jsonl"), open(fx.data).read())
    before = sha256(data)

    def intact(path: str, digest: str) -> Callable[[], Optional[str]]:
        return lambda: None if sha256(path) == digest else f"{path} was overwritten"

    cases.append(Case("prepared", "out_is_the_input",
                      ["prepare", "--data", data, "--model", fx.model, "--out", data], (2,),
                      ["input.jsonl"], check=intact(data, before)))
    link = os.path.join(d, "link.h5")
    if not os.path.lexists(link):
        os.symlink(data, link)
    cases.append(Case("prepared", "out_is_the_input_via_symlink",
                      ["prepare", "--data", data, "--model", fx.model, "--out", link], (2,),
                      ["link.h5"], check=intact(data, before)))
    notes = write(os.path.join(d, "notes.h5"), "my notes, not a prepared file\n")
    notes_digest = sha256(notes)
    cases.append(Case("prepared", "out_is_a_foreign_file",
                      ["prepare", "--data", data, "--model", fx.model, "--out", notes], (2,),
                      ["notes.h5"], check=intact(notes, notes_digest)))
    # Corrupt prepared files: truncations and byte flips of a real one, a text file.
    with open(fx.prepared, "rb") as f:
        blob = f.read()
    for fraction in (0.01, 0.1, 0.5, 0.9):
        path = write(os.path.join(d, f"truncated_{fraction}.h5"), blob[: int(len(blob) * fraction)])
        cases.append(Case("prepared", f"truncated_{fraction}", ["inspect", path], (2,),
                          [os.path.basename(path)]))
    for i in range(24):
        offset = (i * 2654435761) % len(blob)
        mutated = bytearray(blob)
        for k in range(8):
            mutated[(offset + k) % len(blob)] ^= 0xFF if k % 2 else 0x5A
        path = write(os.path.join(d, f"flipped_{offset}.h5"), bytes(mutated))
        # A flip in padding or in ids may leave a readable file: exit 0 is fine then; the
        # runner still requires no crash, hang or internal error.
        cases.append(Case("prepared", f"flipped_{offset}", ["inspect", path, "--pair", "0"],
                          (0, 1, 2), []))
    # Datasets that lie about their sizes (written with h5py, Debian's python3-h5py).
    def h5_edit(name: str, code: str, expect: Sequence[str], command: str = "inspect",
                reseal: bool = True) -> None:
        path = os.path.join(d, name + ".h5")
        shutil.copy(fx.prepared, path)
        h5py_script(path, code, reseal)
        args = ["inspect", path, "--pair", "0"] if command == "inspect" else [command, path]
        cases.append(Case("prepared", name, args, (2,), [os.path.basename(path), *expect]))

    h5_edit("ids_2_40_elements", """
del f['train/chosen_ids']
f.create_dataset('train/chosen_ids', shape=(2**40,), dtype='int32', chunks=(1024,))""",
            ["chosen_ids"])
    h5_edit("offsets_2_40_elements", """
del f['val/prompt_offsets']
f.create_dataset('val/prompt_offsets', shape=(2**40,), dtype='int64', chunks=(1024,))""",
            ["prompt_offsets"])
    h5_edit("sealed_file_edited", """
o = f['train/chosen_offsets'][...]
o[2] = o[2] + 1
f['train/chosen_offsets'][...] = o""", ["damaged", "checksum"], reseal=False)
    h5_edit("offsets_not_monotonic", """
o = f['train/chosen_offsets'][...]
o[2], o[3] = o[3], o[2]
f['train/chosen_offsets'][...] = o""", ["chosen_offsets"])
    h5_edit("offsets_past_ids", """
o = f['train/rejected_offsets'][...]
o[-1] = o[-1] + 1000000
f['train/rejected_offsets'][...] = o""", ["rejected_offsets"])
    h5_edit("offsets_negative", """
o = f['val/chosen_offsets'][...]
o[1] = -5
f['val/chosen_offsets'][...] = o""", ["chosen_offsets"])
    h5_edit("row_count_mismatch", """
r = f['train/source_line'][...]
del f['train/source_line']
f.create_dataset('train/source_line', data=r[:-3])""", ["source_line"])
    # A tampered reference cache: 30 nats added to one pair that is not the first.
    tampered = os.path.join(d, "tampered_reference.h5")
    shutil.copy(fx.prepared, tampered)
    subprocess.run([fx.dpo, "--log-level", "warn", "score", "--model", fx.model, "--data",
                    tampered, "--write-reference"], check=True, capture_output=True)
    h5py_script(tampered, """
def bump(name, obj):
    if name.startswith('reference/') and name.endswith('train/chosen_logps'):
        v = obj[...]
        v[5] += 30.0
        obj[...] = v
f.visititems(bump)""")
    config = fx.config(os.path.join(d, "tampered_run"), max_steps=1)
    config["data"]["prepared"] = tampered
    config["reference"]["mode"] = "precomputed"
    config_path = write(os.path.join(d, "tampered.json"), json.dumps(config))
    cases.append(Case("prepared", "tampered_reference_cache",
                      ["train", "--config", config_path], (2,),
                      ["tampered_reference.h5", "checksum"]))
    # Files without a seal (an older dpo's, another tool's, or a sealed file whose user block
    # was cut off): refused before libhdf5 reads them, intact or corrupt.
    with open(fx.prepared, "rb") as f:
        body = f.read()[512:]
    for name, data in (("unsealed_intact", body),
                       ("unsealed_corrupt", body[:3000] + bytes(b ^ 0x5A for b in body[3000:3400])
                        + body[3400:])):
        path = write(os.path.join(d, name + ".h5"), data)
        for command in ("inspect", "score"):
            args = [command, path] if command == "inspect" else [
                "score", "--model", fx.model, "--data", path, "--write-reference"]
            cases.append(Case("prepared", f"{name}_{command}", args, (2,),
                              [os.path.basename(path), "no checksum", "prepare again"]))
    text = write(os.path.join(d, "text.h5"), "hello\n")
    cases.append(Case("prepared", "text_file", ["inspect", text], (2,), ["text.h5"]))
    cases.append(Case("prepared", "pair_out_of_range",
                      ["inspect", fx.prepared, "--pair", "99999999"], (2,), ["99999999"]))
    return cases


def h5py_script(path: str, code: str, reseal: bool = True) -> None:
    """Runs `code` with `f` an h5py.File open on `path` for writing (Debian's python3, which
    has python3-h5py; the interpreter running this script may not). With `reseal`, the file is
    then sealed again (dpo_test_reseal), as if dpo had written the edited file: the checks behind
    the seal are what the case tests. Without it the edit must be caught by the seal."""
    program = "import h5py\nwith h5py.File(%r, 'r+') as f:\n" % path + "".join(
        "    " + line + "\n" for line in code.strip("\n").splitlines())
    subprocess.run(["/usr/bin/python3", "-c", program], check=True)
    if reseal:
        subprocess.run([RESEAL, path], check=True)


def train_cases(fx: Fixtures, d: str) -> List[Case]:
    """Runs: resumes that must be refused, a second writer, signals."""
    cases: List[Case] = []

    def resume(name: str, edit: Callable[[str], None], expect: Sequence[str],
               sets: Sequence[str] = ()) -> None:
        run = fx.copy_run(os.path.join(d, name))
        edit(run)
        config = write(os.path.join(d, name + ".json"), json.dumps(fx.config(run, max_steps=6)))
        args = ["train", "--config", config, "--resume"]
        for s in sets:
            args += ["--set", s]
        cases.append(Case("train", name, args, (2,), expect))

    def latest(run: str, content: bytes) -> None:
        write(os.path.join(run, "checkpoints", "LATEST"), content)

    def state_path(run: str) -> str:
        with open(os.path.join(run, "checkpoints", "LATEST")) as f:
            return os.path.join(run, "checkpoints", f.read().strip(), "trainer_state.json")

    def edit_state(run: str, fn: Callable[[dict], None]) -> None:
        path = state_path(run)
        with open(path) as f:
            state = json.load(f)
        fn(state)
        write(path, json.dumps(state))

    resume("changed_micro_batch", lambda run: None, ["micro_batch_pairs"],
           ["train.micro_batch_pairs=2"])
    resume("changed_lr", lambda run: None, ["optim.lr"], ["optim.lr=0.5"])
    resume("changed_seed", lambda run: None, ["train.seed"], ["train.seed=7"])
    resume("latest_garbage", lambda run: latest(run, b"\x1b[2J\x07step-\xff\n"),
           ["LATEST", "\\x1b"])
    resume("latest_escapes_run", lambda run: latest(run, b"../../fixtures/run/checkpoints/step-4\n"),
           ["LATEST"])
    resume("latest_names_missing", lambda run: latest(run, b"step-77\n"), ["step-77"])
    resume("state_deleted", lambda run: os.remove(state_path(run)),
           ["trainer_state.json", "missing"])
    resume("state_missing_key", lambda run: edit_state(run, lambda s: s.pop("loader_cursor", None)
                                                       or s.pop("step", None)),
           ["trainer_state.json"])
    resume("state_step_9999", lambda run: edit_state(run, lambda s: s.__setitem__("step", 9999)),
           ["trainer_state.json", "step"])
    resume("state_not_json", lambda run: write(state_path(run), "{not json"),
           ["trainer_state.json", "line"])
    # A fresh run into a folder holding another run.
    run = fx.copy_run(os.path.join(d, "fresh_into_run"))
    config = write(os.path.join(d, "fresh_into_run.json"), json.dumps(fx.config(run)))
    cases.append(Case("train", "fresh_run_into_a_run", ["train", "--config", config], (2,),
                      ["--resume", "--overwrite"]))
    # SIGTERM in the middle of a run: a distinct exit code and how to resume.
    run = os.path.join(d, "sigterm_run")
    shutil.rmtree(run, ignore_errors=True)
    config = write(os.path.join(d, "sigterm_run.json"),
                   json.dumps(fx.config(run, max_steps=100000, save_every_steps=1000)))
    metrics = os.path.join(run, "metrics.jsonl")
    cases.append(Case("train", "sigterm", ["train", "--config", config], (143,),
                      ["interrupted", "--resume"], timeout=120, send_signal=signal.SIGTERM,
                      signal_when=lambda: os.path.exists(metrics)
                      and os.path.getsize(metrics) > 0))
    return cases


GROUPS = {
    "data": data_cases,
    "config": config_cases,
    "model": model_cases,
    "template": template_cases,
    "prepared": prepared_cases,
    "train": train_cases,
}


# --- the runner ------------------------------------------------------------------------------

def run_case(dpo: str, case: Case) -> Outcome:
    start = time.monotonic()
    proc = subprocess.Popen([dpo, *case.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    problems: List[str] = []
    deadline = start + case.timeout
    signalled = False
    while proc.poll() is None:
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            problems.append(f"HANG: still running after {case.timeout:.0f} s")
            break
        if case.send_signal and not signalled and case.signal_when and case.signal_when():
            os.kill(proc.pid, case.send_signal)
            signalled = True
        time.sleep(0.05)
    output = proc.stdout.read().decode("utf-8", errors="replace")
    code = proc.returncode
    seconds = time.monotonic() - start
    if not problems:
        if code < 0 or (code > 128 and code not in case.expect_exit):
            problems.append(f"CRASH: exit {code}")
        if "internal error" in output:
            problems.append("INTERNAL ERROR in the output")
        if code not in case.expect_exit:
            problems.append(f"exit {code}, expected {'/'.join(map(str, case.expect_exit))}")
        missing = [s for s in case.expect if s not in output]
        if missing:
            problems.append("message lacks " + ", ".join(repr(s) for s in missing))
        if case.send_signal and not signalled:
            problems.append("the signal was never sent (the run ended first)")
        if case.check:
            failure = case.check()
            if failure:
                problems.append(failure)
    return Outcome(case, code, seconds, problems, output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dpo", required=True, help="the dpo executable")
    parser.add_argument("--reseal", required=True,
                        help="dpo_test_reseal (tests/support/reseal_prepared_main.cpp)")
    parser.add_argument("--work", required=True, help="a scratch folder (fixtures are kept)")
    parser.add_argument("--group", action="append", choices=sorted(GROUPS),
                        help="run only this group (repeatable)")
    parser.add_argument("--case", help="run only the cases whose name contains this")
    parser.add_argument("--setup", action="store_true",
                        help="(re)make the fixtures and stop (ctest's fixture setup)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every output")
    args = parser.parse_args()
    dpo = os.path.abspath(args.dpo)
    global RESEAL
    RESEAL = os.path.abspath(args.reseal)
    work = os.path.abspath(args.work)
    fx = Fixtures(dpo, work, remake=args.setup)
    if args.setup:
        print(f"fixtures made in {fx.root}")
        return 0
    outcomes: List[Outcome] = []
    for group in args.group or sorted(GROUPS):
        folder = os.path.join(work, group)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for case in GROUPS[group](fx, folder):
            if args.case and args.case not in case.name:
                continue
            outcome = run_case(dpo, case)
            outcomes.append(outcome)
            verdict = "ok" if not outcome.problems else "FAIL: " + "; ".join(outcome.problems)
            print(f"{group:9} {case.name:34} exit {outcome.code!s:>4} {outcome.seconds:6.2f} s  "
                  f"{verdict}")
            if outcome.problems or args.verbose:
                last = outcome.output.strip().splitlines()[-6:]
                print("\n".join("          | " + line[:200] for line in last))
    bad = [o for o in outcomes if o.problems]
    def count(tag: str) -> int:
        return sum(1 for o in outcomes if any(p.startswith(tag) for p in o.problems))
    print(f"\n{len(outcomes)} cases: {count('CRASH')} crashes, {count('HANG')} hangs, "
          f"{count('INTERNAL')} internal errors, {len(bad)} failing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
