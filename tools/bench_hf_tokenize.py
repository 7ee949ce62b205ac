#!/usr/bin/env python3
"""Single-thread tokenizer.json throughput: dpo (tools/bench_hf_tokenize) against the Python
`tokenizers` library's encode_batch, on the same texts in the same run.

    /work/main/.venv-oracle/bin/python3 tools/bench_hf_tokenize.py [--build build] [--repeat 3]
        [FOLDER...]

Without folders: every folder of ../shared/assets/hf_tokenizers. The texts: the chat
conversations of ../shared/assets/preference_data (English and Chinese DPO demos) and
examples/support/pairs.jsonl, one text per conversation. The Rust library runs with
RAYON_NUM_THREADS=1 (set before it is imported) so that encode_batch uses one thread. Both sides
report their best of --repeat passes (each keeps its own cache of words between passes) and
the same number of tokens; the table gives MB/s (wall clock) and dpo's speed-up in wall-clock
and in CPU time (the steadier figure on a shared machine). Folders that also have tokenizer.model
get a line comparing dpo's tokenizer.json path with its sentencepiece path on the same texts.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def load_texts(shared):
    texts = []
    folder = os.path.join(shared, "assets", "preference_data")
    for name in ("llamafactory_dpo_en_demo.json", "llamafactory_dpo_zh_demo.json"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for row in json.load(f):
                    parts = [m.get("value", "") for m in row.get("conversations", [])]
                    for key in ("chosen", "rejected"):
                        if isinstance(row.get(key), dict):
                            parts.append(row[key].get("value", ""))
                    texts.append("\n".join(parts))
    with open(os.path.join(REPO, "examples", "support", "pairs.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            parts = [m["content"] for m in row["prompt"] + row["chosen"] + row["rejected"]]
            texts.append("\n".join(parts))
    return texts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import tokenizers

    shared = args.shared if os.path.isdir(args.shared) else "/work/shared"
    folders = args.folders or sorted(
        os.path.join(shared, "assets", "hf_tokenizers", d)
        for d in os.listdir(os.path.join(shared, "assets", "hf_tokenizers"))
        if os.path.isdir(os.path.join(shared, "assets", "hf_tokenizers", d)))
    texts = load_texts(shared)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"tokenizers {tokenizers.__version__}, one thread; {len(texts)} texts, {mb:.2f} MB; "
          f"best of {args.repeat} passes")
    print(f"{'tokenizer':28} {'tokens':>9} {'tokenizers MB/s':>16} {'dpo MB/s':>9} "
          f"{'speed-up wall':>15} {'speed-up CPU':>15} {'dpo load s':>10}")
    tool = os.path.join(args.build, "tools", "bench_hf_tokenize")
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = os.path.join(tmp, "texts.jsonl")
        with open(texts_file, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps(t) + "\n")
        for folder in folders:
            path = os.path.join(folder, "tokenizer.json")
            tok = tokenizers.Tokenizer.from_file(path)
            tok.no_truncation()
            tok.no_padding()
            best = best_cpu = 1e30
            tokens = 0
            for _ in range(args.repeat):
                start = time.perf_counter()
                cpu_start = time.process_time()
                encodings = tok.encode_batch(texts, add_special_tokens=False)
                best = min(best, time.perf_counter() - start)
                best_cpu = min(best_cpu, time.process_time() - cpu_start)
                tokens = sum(len(e.ids) for e in encodings)
            command = [tool, path, texts_file, str(args.repeat)]
            model = os.path.join(folder, "tokenizer.model")
            if os.path.exists(model):
                command.append(model)
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            ours = json.loads(out.stdout)
            if ours["tokens"] != tokens:
                print(f"  {os.path.basename(folder)}: token counts differ: "
                      f"{ours['tokens']} vs {tokens}")
            print(f"{os.path.basename(folder):28} {tokens:>9} {mb / best:>16.2f} "
                  f"{ours['mb_per_second']:>9.2f} {best / ours['seconds']:>14.2f}x "
                  f"{best_cpu / ours['cpu_seconds']:>14.2f}x {ours['load_seconds']:>10.2f}")
            if "spm_mb_per_second" in ours:
                print(f"  same texts, dpo's sentencepiece path (tokenizer.model): "
                      f"{ours['spm_mb_per_second']:.2f} MB/s; tokenizer.json / sentencepiece "
                      f"CPU time: {ours['cpu_seconds'] / ours['spm_cpu_seconds']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
