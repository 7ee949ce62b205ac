#!/usr/bin/env python3
"""Builds the small tokenizer.json fixtures of tests/tokenizer/hf_json_fixtures_test.cpp with the
Python `tokenizers` library (the oracle, tools/oracle) and writes, for each, the library's own
ids and decodes over the corpus of tools/hf_tokenizer_corpus.py:

    /work/main/.venv-oracle/bin/python3 tools/make_hf_tokenizer_fixtures.py

Writes tests/fixtures/hf_tokenizers/corpus.jsonl (one JSON string per line) and, per fixture,
<name>/tokenizer.json and <name>/expected.jsonl (one line per text: ids and ids_special from
encode(text, add_special_tokens=False/True), decode of ids, decode of ids_special with
skip_special_tokens=True). The fixtures, trained on the corpus itself with ~600 tokens:
  gpt2          ByteLevel pre-tokenizer (GPT-2 regex), merges as "a b" strings
  llama3        Split (Llama 3 regex) + ByteLevel(use_regex=false), ignore_merges,
                Sequence(ByteLevel, TemplateProcessing <|begin_of_text|>), merges as strings
  qwen          NFC + Split (Qwen regex) + ByteLevel(use_regex=false), merges as pairs
  metaspace     Mistral v0.3 / TinyLlama style: Metaspace(first, split=false), byte_fallback,
                <unk> fused, TemplateProcessing <s>, the sentencepiece decoder sequence
  phi           Phi-3 style: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer,
                byte_fallback, added tokens with rstrip, merges as pairs
"""
import json
import os
import sys

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import hf_tokenizer_corpus  # noqa: E402

OUT = os.path.join(REPO, "tests", "fixtures", "hf_tokenizers")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
          r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_level(name, texts, pre, specials, normalizer=None, bos=None, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.decoder = decoders.ByteLevel()
    if bos:
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def sentencepiece_like(texts, style):
    """BPE trained on ▁-marked words, then rebuilt with <unk> <s> </s> <0x00>..<0xFF> first."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=500, show_progress=False)
    trainer_tok.train_from_iterator(texts, trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True,
                               byte_fallback=True))
    if style == "metaspace":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
        tok.add_special_tokens(["<unk>", "<s>", "</s>", "[INST]", "[/INST]"])
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                               normalizers.Replace(" ", "▁")])
        tok.add_special_tokens(["<unk>", "<s>"])
        tok.add_tokens([AddedToken("</s>", rstrip=True, normalized=False, special=False)])
        tok.add_special_tokens([AddedToken("<|assistant|>", rstrip=True, normalized=False),
                                AddedToken("<|end|>", rstrip=True, normalized=False),
                                AddedToken("<|user|>", rstrip=True, normalized=False)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def save(name, tok, texts, merges_as_strings):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    data = json.loads(tok.to_str())
    if merges_as_strings:
        data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                                   for m in data["model"]["merges"]]
    text = json.dumps(data, ensure_ascii=False, indent=1)
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    oracle = Tokenizer.from_str(text)  # the file as written, merges format included
    with open(os.path.join(folder, "expected.jsonl"), "w", encoding="utf-8") as f:
        for t in texts:
            ids = oracle.encode(t, add_special_tokens=False).ids
            ids_special = oracle.encode(t, add_special_tokens=True).ids
            f.write(json.dumps({"ids": ids, "ids_special": ids_special,
                                "decode": oracle.decode(ids, skip_special_tokens=False),
                                "decode_skip": oracle.decode(ids_special,
                                                             skip_special_tokens=True)}) + "\n")
    size = os.path.getsize(os.path.join(folder, "tokenizer.json"))
    print(f"{name}: vocab {oracle.get_vocab_size()}, tokenizer.json {size} bytes")


def main():
    import tokenizers
    texts = hf_tokenizer_corpus.corpus(REPO, rows=9)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    train = texts * 2
    save("gpt2", byte_level("gpt2", train, pre_tokenizers.ByteLevel(add_prefix_space=False),
                            ["<|endoftext|>"]), texts, True)
    llama3_pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    save("llama3", byte_level("llama3", train, llama3_pre,
                              ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                               "<|end_header_id|>", "<|eot_id|>"],
                              bos="<|begin_of_text|>", ignore_merges=True), texts, True)
    qwen_pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    save("qwen", byte_level("qwen", train, qwen_pre,
                            ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
                            normalizer=normalizers.NFC()), texts, False)
    save("metaspace", sentencepiece_like(train, "metaspace"), texts, False)
    save("phi", sentencepiece_like(train, "phi"), texts, False)
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write("# tokenizer.json fixtures\n\nMade by `tools/make_hf_tokenizer_fixtures.py` with "
                f"tokenizers {tokenizers.__version__} (see that script for what each fixture "
                "covers); checked by tests/tokenizer/hf_json_fixtures_test.cpp.\n")


if __name__ == "__main__":
    main()
