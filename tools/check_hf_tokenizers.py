#!/usr/bin/env python3
"""Compares dpo's tokenizer.json implementation with the Python `tokenizers` library (the
oracle, tools/oracle) on real tokenizer files over the corpus of tools/hf_tokenizer_corpus.py.

    /work/main/.venv-oracle/bin/python3 tools/check_hf_tokenizers.py [--build build] [FOLDER...]

Without folders: every folder of ../shared/assets/hf_tokenizers. For each tokenizer.json the
ids of encode(text, add_special_tokens=False) and (=True) and decode(ids) /
decode(ids, skip_special_tokens=True) must be equal; mismatches are reported by file and text.
Folders that also hold tokenizer.model: dpo's json and sentencepiece paths are compared too
(reported, not counted: the two formats are allowed to differ, see docs/tokenization.md).
Exit status 1 on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import hf_tokenizer_corpus  # noqa: E402


def run_dpo(tool, mode, path, texts_file, *options):
    out = subprocess.run([tool, mode, path, *options, texts_file], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{tool} {mode} {path} failed ({out.returncode}): {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.split("\n") if line]


def show(text, limit=80):
    r = json.dumps(text, ensure_ascii=False)
    return r if len(r) <= limit else r[:limit] + "...\""


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def report_transformers(tool, folder, texts, texts_file, ours):
    """transformers' AutoTokenizer(text, add_special_tokens=False) against the file as the
    library runs it (reported, not counted: transformers 5's LlamaTokenizer class rebuilds the
    pipeline) and against dpo::Tokenizer with JsonPipeline::transformers (counted). Returns the
    number of mismatches of the latter."""
    try:
        from transformers import AutoTokenizer
        auto = AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001 - any failure is worth a line, not a crash
        print(f"  transformers AutoTokenizer: cannot load ({type(e).__name__}: {e})")
        return 0
    want = [auto(t, add_special_tokens=False)["input_ids"] for t in texts]
    differ = [t for t, w, got in zip(texts, want, ours) if w != got["ids"]]
    print(f"  transformers AutoTokenizer ({type(auto).__name__}): "
          f"{len(texts) - len(differ)}/{len(texts)} texts as tokenizers.encode")
    for t in differ[:3]:
        print(f"    differs on {show(t)}")
    try:
        dpo = run_dpo(tool, "--folder", folder, texts_file, "--pipeline", "transformers")
    except RuntimeError as e:
        print(f"  dpo::Tokenizer, JsonPipeline::transformers REFUSED: {e}")
        return 1
    differ = [t for t, w, got in zip(texts, want, dpo) if w != got["ids"]]
    print(f"  dpo::Tokenizer, JsonPipeline::transformers: "
          f"{len(texts) - len(differ)}/{len(texts)} texts as AutoTokenizer")
    for t in differ[:3]:
        print(f"    differs on {show(t)}")
    return len(differ)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    parser.add_argument("--transformers", action="store_true",
                        help="also compare with transformers' AutoTokenizer (dpo's "
                             "JsonPipeline::transformers must equal it)")
    parser.add_argument("--max-report", type=int, default=5, help="mismatches shown per file")
    args = parser.parse_args()
    import tokenizers

    tool = os.path.join(args.build, "tools", "check_hf_tokenizers")
    folders = args.folders
    if not folders:
        root = os.path.join(args.shared, "assets", "hf_tokenizers")
        if not os.path.isdir(root):
            root = "/work/shared/assets/hf_tokenizers"
        folders = sorted(os.path.join(root, d) for d in os.listdir(root)
                         if os.path.isdir(os.path.join(root, d)))
    texts = (hf_tokenizer_corpus.corpus(REPO, rows=30) + hf_tokenizer_corpus.random_texts()
             + hf_tokenizer_corpus.random_wide_texts())
    texts += hf_tokenizer_corpus.shared_texts(args.shared if os.path.isdir(args.shared)
                                              else "/work/shared")
    print(f"tokenizers {tokenizers.__version__}; {len(texts)} texts; {len(folders)} folders")
    total_mismatches = 0
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = os.path.join(tmp, "texts.jsonl")
        with open(texts_file, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps(t) + "\n")
        for folder in folders:
            path = os.path.join(folder, "tokenizer.json")
            name = os.path.basename(folder.rstrip("/"))
            oracle = tokenizers.Tokenizer.from_file(path)
            oracle.no_truncation()
            oracle.no_padding()
            try:
                ours = run_dpo(tool, "--json", path, texts_file)
            except RuntimeError as e:
                print(f"{name}: REFUSED: {e}")
                total_mismatches += 1
                continue
            mismatches = []
            for text, got in zip(texts, ours):
                ids = oracle.encode(text, add_special_tokens=False).ids
                ids_special = oracle.encode(text, add_special_tokens=True).ids
                want = {"ids": ids, "ids_special": ids_special,
                        "decode": oracle.decode(ids, skip_special_tokens=False),
                        "decode_skip": oracle.decode(ids_special, skip_special_tokens=True)}
                for key, value in want.items():
                    if got[key] != value:
                        mismatches.append((key, text, value, got[key]))
            status = "ok" if not mismatches else f"{len(mismatches)} MISMATCHES"
            print(f"{name}: {len(texts)} texts x 4 checks: {status}")
            for key, text, want_v, got_v in mismatches[:args.max_report]:
                print(f"  {key} of {show(text)}")
                if isinstance(want_v, list):
                    i = first_difference(want_v, got_v)
                    print(f"    tokenizers: ...{want_v[max(0, i - 3):i + 6]} (len {len(want_v)})")
                    print(f"    dpo:        ...{got_v[max(0, i - 3):i + 6]} (len {len(got_v)})")
                    print(f"    tokens: {[oracle.id_to_token(x) for x in want_v[max(0, i - 3):i + 6]]}"
                          f" vs {[oracle.id_to_token(x) for x in got_v[max(0, i - 3):i + 6]]}")
                else:
                    print(f"    tokenizers: {show(want_v)}\n    dpo:        {show(got_v)}")
            total_mismatches += len(mismatches)
            if os.path.exists(os.path.join(folder, "tokenizer_config.json")):
                # dpo::Tokenizer on the folder (tokenizer.json + tokenizer_config.json).
                try:
                    tok = run_dpo(tool, "--folder", folder, texts_file)
                    differ = [t for t, a, b in zip(texts, ours, tok) if a["ids"] != b["ids"]]
                    print(f"  dpo::Tokenizer::from_model_folder: "
                          f"{len(texts) - len(differ)}/{len(texts)} texts as tokenizers")
                    total_mismatches += len(differ)
                except RuntimeError as e:
                    print(f"  dpo::Tokenizer::from_model_folder REFUSED: {e}")
                    total_mismatches += 1
                if args.transformers:
                    total_mismatches += report_transformers(tool, folder, texts, texts_file, ours)
            model = os.path.join(folder, "tokenizer.model")
            if os.path.exists(model):
                try:
                    spm = run_dpo(tool, "--spm", model, texts_file)
                    differ = [t for t, a, b in zip(texts, ours, spm) if a["ids"] != b["ids"]]
                    print(f"  json vs sentencepiece (dpo, tokenizer.model without config): "
                          f"{len(texts) - len(differ)}/{len(texts)} texts agree")
                    for t in differ[:3]:
                        print(f"    differ on {show(t)}")
                except RuntimeError as e:
                    print(f"  sentencepiece path refused: {e}")
    print(f"total mismatches: {total_mismatches}")
    return 1 if total_mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
