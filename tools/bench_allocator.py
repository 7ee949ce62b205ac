#!/usr/bin/env python3
"""dpo-torch with tcmalloc against the same program with glibc's malloc (docs/benchmarks.md).

    tools/bench_allocator.py [--build build] [--rounds 3] [--pairs 0 (all)]

dpo-torch links tcmalloc where the build found it (cmake/Dependencies.cmake); the benchmark build
also links the same objects without it, as tools/dpo-torch-glibc (glibc's malloc with dpo's heap
tuning, core/malloc_tuning.h: what dpo-torch used before). This runs the same commands with
both, interleaved round by round (this machine is noisy), and prints for each:
  * the training speed (tokens/s of the timed steps, as `dpo train` prints it; best of the
    rounds) and the process's peak resident set (ru_maxrss; the highest of the rounds);
  * `dpo check` on the same pairs (wall time, best of the rounds; peak resident set);
and the ratios tcmalloc / glibc. Set-up (not timed): a tokenizer trained on the bundled data (its
first --pairs rows; all by default, as the demo), tiny and small models (`dpo init-model`), the
rows prepared (max length 384) with their reference log-probs cached by a first untimed run.
Training uses the demo's DPO config (configs/demo_dpo.json) with held-out evaluations off.
Exits 1 when a command fails.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHATML = ["--special-token", "<|im_start|>", "--special-token", "<|im_end|>",
          "--eos-token", "<|im_end|>"]


def run(argv, quiet=True):
    """Runs a command; returns (stdout text, wall seconds, peak resident MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("failed (exit %d): %s\n%s" % (code, " ".join(argv), output[-3000:]))
    if not quiet:
        print(output)
    return output, elapsed, usage.ru_maxrss / 1024.0


def set_up(dpo, work, pairs):
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "pairs.jsonl")
    with open(os.path.join(SOURCE_DIR, "examples/support/pairs.jsonl")) as source, \
            open(data, "w") as target:
        for index, line in enumerate(source):
            if pairs and index >= pairs:
                break
            target.write(line)
    run([dpo, "train-tokenizer", data, "--out", os.path.join(work, "tok"), "--vocab-size", "2000",
         "--user-symbol", "<|im_start|>", "--user-symbol", "<|im_end|>"])
    prepared = {}
    for preset in ("tiny", "small"):
        model = os.path.join(work, preset)
        run([dpo, "init-model", "--preset", preset, "--tokenizer",
             os.path.join(work, "tok/tokenizer.model"), "--template", "chatml"] + CHATML +
            ["--seed", "1", "--out", model])
        prepared[preset] = os.path.join(work, preset + ".h5")
        run([dpo, "prepare", "--data", data, "--model", model, "--max-length", "384",
             "--val-fraction", "0.1", "--out", prepared[preset]])
    return data, prepared


def train_argv(program, work, preset, prepared, steps):
    return [program, "train", "--config", os.path.join(SOURCE_DIR, "configs/demo_dpo.json"),
            "--set", "model.path=" + os.path.join(work, preset),
            "--set", "data.prepared=" + prepared,
            "--set", "train.out_dir=" + os.path.join(work, "run-" + preset),
            "--set", "train.max_steps=%d" % steps, "--set", "train.save_every_steps=0",
            "--set", "eval.every_steps=0", "--overwrite"]


def tokens_per_second(output):
    found = re.search(r"finished after \d+ steps \(.*?\) in [0-9.]+ s, (\d+) tokens/s", output)
    if not found:
        sys.exit("no 'finished after ... tokens/s' line in:\n" + output[-2000:])
    return float(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="the CMake build folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=0,
                        help="rows of the bundled data used (0: all)")
    parser.add_argument("--tiny-steps", type=int, default=30)
    parser.add_argument("--small-steps", type=int, default=8)
    parser.add_argument("--work", default="bench-data/allocator")
    args = parser.parse_args()

    dpo = os.path.join(args.build, "dpo")
    programs = {"tcmalloc": os.path.join(args.build, "dpo-torch"),
                "glibc": os.path.join(args.build, "tools", "dpo-torch-glibc")}
    for name, program in programs.items():
        if not os.access(program, os.X_OK):
            sys.exit("%s is missing: build with DPO_BUILD_BENCHMARKS=ON" % program)
    version = run([programs["tcmalloc"], "--version", "--verbose"])[0]
    if "malloc: tcmalloc" not in version:
        sys.exit("dpo-torch does not allocate with tcmalloc (the build found no "
                 "libtcmalloc_minimal): nothing to compare\n" + version)
    print(version.strip())
    shutil.rmtree(args.work, ignore_errors=True)
    data, prepared = set_up(dpo, args.work, args.pairs)
    for preset in ("tiny", "small"):  # caches the reference log-probs in the prepared files
        run(train_argv(programs["glibc"], args.work, preset, prepared[preset], 1))

    workloads = {
        "train tiny (%d steps)" % args.tiny_steps:
            lambda program: train_argv(program, args.work, "tiny", prepared["tiny"],
                                       args.tiny_steps),
        "train small (%d steps)" % args.small_steps:
            lambda program: train_argv(program, args.work, "small", prepared["small"],
                                       args.small_steps),
        "check tiny": lambda program: [
            program, "check", data, "--model", os.path.join(args.work, "tiny"),
            "--config", os.path.join(SOURCE_DIR, "configs/check.json"),
            "--out", os.path.join(args.work, "check")],
    }
    figures = {}  # (workload, allocator) -> {"speed": best, "rss": highest}
    for round_index in range(args.rounds):
        for workload, make_argv in workloads.items():
            for name, program in programs.items():
                output, seconds, rss = run(make_argv(program))
                speed = tokens_per_second(output) if workload.startswith("train") else 1.0 / seconds
                entry = figures.setdefault((workload, name), {"speed": 0.0, "rss": 0.0})
                entry["speed"] = max(entry["speed"], speed)
                entry["rss"] = max(entry["rss"], rss)
        print("round %d of %d done" % (round_index + 1, args.rounds), flush=True)

    print()
    print("%-24s %-9s %14s %12s %12s %10s" %
          ("workload", "malloc", "speed", "peak RSS", "speed ratio", "RSS ratio"))
    for workload in workloads:
        base = figures[(workload, "glibc")]
        for name in ("glibc", "tcmalloc"):
            entry = figures[(workload, name)]
            speed = ("%.0f tok/s" % entry["speed"] if workload.startswith("train")
                     else "%.1f s" % (1.0 / entry["speed"]))
            print("%-24s %-9s %14s %8.0f MiB %11.2fx %9.2fx" %
                  (workload, name, speed, entry["rss"], entry["speed"] / base["speed"],
                   entry["rss"] / base["rss"]))
    print("(speed: tokens/s of the timed steps for train, best of %d rounds; wall time for check,"
          " whose ratio is the speed ratio)" % args.rounds)
    json.dump({"%s / %s" % key: value for key, value in figures.items()},
              open(os.path.join(args.work, "figures.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
