#!/usr/bin/env python3
"""Start-up and `dpo validate` end to end, as whole processes (docs/benchmarks.md).

    tools/bench_startup.py [--build build] [--rounds 7] [--rows 16000]

Times, side by side in one run, with the runs of all commands interleaved round by round (this
machine is noisy) and the best of the rounds kept:
  * /bin/true and `python3 -c pass` (baselines), `dpo --version`, `dpo-torch --version` (what
    every command cost when dpo loaded LibTorch), `dpo validate` on a 1 KB file;
  * `dpo validate` on a ~100 MB UltraFeedback-like JSONL (written by `bench_validate
    --generate-only`) against a bare Python loop `for line in f: json.loads(line)` over it.
--before DPO adds another dpo executable (an older build) to both sets. Prints wall milliseconds
and the ratios; exits 1 when a command fails.
"""
import argparse
import os
import subprocess
import sys
import time


def wall_seconds(argv):
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("failed (exit %d): %s\n%s" % (result.returncode, " ".join(argv),
                                                result.stderr.decode(errors="replace")))
    return elapsed


def best_of(commands, rounds):
    """Runs every command once per round, in turn; returns the best wall time of each."""
    best = {name: float("inf") for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            best[name] = min(best[name], wall_seconds(argv))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="the CMake build folder")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each command (best kept)")
    parser.add_argument("--big-rounds", type=int, default=5, help="runs on the 100 MB file")
    parser.add_argument("--rows", type=int, default=17000,
                        help="rows of the big file (~5.8 KB each: ~98 MB)")
    parser.add_argument("--data-dir", default="bench-data", help="where the files are written")
    parser.add_argument("--python", default=sys.executable or "python3")
    parser.add_argument("--before", metavar="DPO",
                        help="also time this dpo executable (e.g. one built before the split)")
    args = parser.parse_args()

    dpo = os.path.join(args.build, "dpo")
    dpo_torch = os.path.join(args.build, "dpo-torch")
    os.makedirs(args.data_dir, exist_ok=True)
    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    # ~1 KB: the first rows of the bundled data.
    small = os.path.join(args.data_dir, "small_1kb.jsonl")
    with open(os.path.join(source_dir, "examples", "support", "pairs.jsonl"), "rb") as f:
        lines = []
        while sum(map(len, lines)) < 1024:
            lines.append(f.readline())
    with open(small, "wb") as f:
        f.writelines(lines)
    small_bytes = os.path.getsize(small)

    big = os.path.join(args.data_dir, "ultrafeedback_like_%d.jsonl" % args.rows)
    if not os.path.exists(big):
        subprocess.run([os.path.join(args.build, "tools", "bench_validate"), "--rows",
                        str(args.rows), "--file", big, "--generate-only"], check=True,
                       stdout=subprocess.DEVNULL)
    big_mb = os.path.getsize(big) / 1e6

    loop = ("import json,sys\n"
            "with open(sys.argv[1],'rb') as f:\n"
            "    for line in f: json.loads(line)\n")
    start_up = {
        "/bin/true": ["/bin/true"],
        "python3 -c pass": [args.python, "-c", "pass"],
        "dpo --version": [dpo, "--version"],
        "dpo validate (%d B)" % small_bytes: [dpo, "validate", "--quiet", small],
        "dpo-torch --version": [dpo_torch, "--version"],
        "dpo train --help (LibTorch)": [dpo, "train", "--help"],
    }
    end_to_end = {
        "dpo validate (%.0f MB)" % big_mb: [dpo, "validate", "--quiet", big],
        "python3 json.loads loop (%.0f MB)" % big_mb: [args.python, "-c", loop, big],
    }
    if args.before:
        start_up["before: dpo --version"] = [args.before, "--version"]
        end_to_end["before: dpo validate (%.0f MB)" % big_mb] = [args.before, "validate", "--quiet",
                                                                  big]
    best = best_of(start_up, args.rounds)
    best_big = best_of(end_to_end, args.big_rounds)

    print("start-up, best of %d interleaved rounds:" % args.rounds)
    for name, seconds in best.items():
        print("  %-34s %8.1f ms" % (name, seconds * 1e3))
    print("end to end on %s (%.1f MB), best of %d interleaved rounds:" % (big, big_mb,
                                                                         args.big_rounds))
    for name, seconds in best_big.items():
        print("  %-34s %8.1f ms  %6.0f MB/s" % (name, seconds * 1e3, big_mb / seconds))
    version, torch_version = best["dpo --version"], best["dpo-torch --version"]
    dpo_big, python_big = list(best_big.values())[:2]
    print("ratios:")
    print("  dpo --version / python3 -c pass          %6.2fx" % (version / best["python3 -c pass"]))
    print("  dpo-torch --version / dpo --version      %6.1fx" % (torch_version / version))
    print("  json.loads loop / dpo validate (100 MB)  %6.2fx (dpo faster when > 1)"
          % (python_big / dpo_big))


if __name__ == "__main__":
    main()
