"""The texts on which dpo's tokenizer.json implementation is compared with the Python
`tokenizers` library: by tools/make_hf_tokenizer_fixtures.py (the golden fixtures of ctest) and
tools/check_hf_tokenizers.py (the real tokenizer files of ../shared/assets/hf_tokenizers).

corpus(repo) returns a list of str: hand-written edge cases (prose, code with tabs and CRLF,
numbers of every length, scripts, emoji with ZWJ sequences, combining marks, runs of whitespace,
text touching special tokens, unusual but valid UTF-8) and the chat conversations of
examples/support/pairs.jsonl rendered as ChatML, Llama 3 and Mistral prompts.
"""
import json
import os

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<s>", "</s>", "<unk>",
            "[INST]", "[/INST]", "<|user|>", "<|assistant|>", "<|end|>", "<|system|>",
            "<think>", "</think>"]

EDGE_CASES = [
    "",
    " ",
    "a",
    "Hello world",
    " Hello world",
    "Hello, world! How's it going? I'm fine; they're here, we've seen it, you'll see, he'd go.",
    "IT'S ALL CAPS, DON'T SHOUT. She'S mixed'Ll 'Ve",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def f(x):\n    return x * 2\n\n\tif x:\n\t\tpass\r\n    y = [1, 2, 3]  # comment\r\n",
    "for (int i = 0; i < n; ++i) {\n  sum += a[i];\n}\n",
    "    four leading spaces and trailing    ",
    "x = {'a': 1, \"b\": [True, None]}  ;;;  <<>> &&& ||| ~~~",
    "\n\n\nthree newlines\n\n\n",
    "tabs\t\t\tand\tspaces \t \t mixed",
    "nbsp\u00a0here\u00a0\u00a0and ideographic\u3000space\u3000\u3000end",
    "line\u2028separator\u2029paragraph\u0085next\u000bvt\u000cff\u001cfs",
    "mongolian\u180evowel zero\u200bwidth join\u200dner",
    "0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 12345678901234567890",
    "3.14159 -2.5e-10 1,000,000 $1,234.56 50% 2024-06-01 12:30:45 0x1F 1e9",
    "١٢٣ ٤٥٦ ۱۲۳ १२३४ ௧௨௩ ①②③ ⅠⅡⅢ ½ ¾ ²³",
    "日本語のテキストです。漢字、ひらがな、カタカナ。",
    "中文文本：你好，世界！这是一个测试。",
    "한국어 텍스트입니다. 안녕하세요!",
    "العربية: مرحبا بالعالم، كيف حالك؟",
    "हिन्दी: नमस्ते दुनिया, आप कैसे हैं?",
    "Ελληνικά και русский текст, ქართული, עברית, ไทย ภาษา",
    "emoji 🙂👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷🇯🇵 keycap 1️⃣ rainbow 🏳️‍🌈 woman 👩🏻‍💻",
    "combining: e\u0301 a\u0308 o\u0302\u0323 n\u0303 Z\u0335\u0322a\u0336l\u0337g\u0338o",
    "precomposed: é ä ộ ñ Å Å ﬁ ﬀ ℌ ① ｆｕｌｌｗｉｄｔｈ ㌔ ㍻",
    "Hangul jamo: \u1100\u1161\u11a8 and composed 각",
    "4-byte: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 𠀋𡈽 🀄 𓀀",
    "replacement \ufffd char, noncharacters \ufdd0 \uffff \U0010ffff, BOM \ufeff inside",
    "control\u0001chars\u007fand\u0080c1\u009f",
    "▁already▁underlined ▁ ▁▁",
    "Ġ Ċ ĉ byte-level lookalikes",
    "<0x41> <unk> looks like a byte token",
    "ſ long s, K kelvin, ǅ titlecase 'S 'ſ 'T",
    "x<|eot_id|>y",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n  spaced  <|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<s>[INST] Hello [/INST] Hi</s>[INST]again[/INST]",
    "text </s> more</s>end <s> <s><s>",
    "<|user|>\nquestion<|end|>\n<|assistant|>\nanswer<|end|>",
    "<think>\nreasoning\n</think>\n\nanswer",
    "<|im_start|> <|im_end|>  <|endoftext|>\n<|endoftext|>",
    "almost special <|im_star|> <|eot_id <s >",
    " " * 17 + "x" + "\n" * 5 + "\t" * 3 + " " * 2,
    "a" * 300,
    "ab" * 200 + " " + "🙂" * 50,
    "mixed日本語English123text456",
]


def _chatml(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def _llama3(messages):
    out = "<|begin_of_text|>"
    for m in messages:
        out += f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
    return out


def _mistral(messages):
    out = "<s>"
    for m in messages:
        if m["role"] == "assistant":
            out += f" {m['content']}</s>"
        else:
            out += f"[INST] {m['content']} [/INST]"
    return out


def corpus(repo, rows=12):
    """The texts: EDGE_CASES plus `rows` rendered conversations of examples/support."""
    texts = list(EDGE_CASES)
    path = os.path.join(repo, "examples", "support", "pairs.jsonl")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= rows:
                    break
                row = json.loads(line)
                prompt = row["prompt"] if isinstance(row["prompt"], list) else [
                    {"role": "user", "content": row["prompt"]}]
                chosen = row.get("chosen")
                if isinstance(chosen, list):
                    messages = prompt + chosen
                else:
                    messages = prompt + [{"role": "assistant", "content": str(chosen)}]
                render = (_chatml, _llama3, _mistral)[i % 3]
                texts.append(render(messages))
    return texts


def shared_texts(shared, limit=40):
    """Extra texts from ../shared/assets/preference_data (English and Chinese DPO demos)."""
    texts = []
    folder = os.path.join(shared, "assets", "preference_data")
    for name in ("llamafactory_dpo_en_demo.json", "llamafactory_dpo_zh_demo.json"):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
        for row in rows[:limit // 2]:
            conv = row.get("conversations", [])
            text = "".join(m.get("value", "") for m in conv)
            chosen = row.get("chosen", {})
            if isinstance(chosen, dict):
                text += chosen.get("value", "")
            texts.append(text)
    return texts


def random_texts(count=300, seed=14):
    """Random strings over a pool of the characters where tokenizers differ most: whitespace of
    every kind, apostrophes, digits, letters of several scripts, combining marks, emoji, byte-
    level lookalikes and fragments of special tokens."""
    import random
    rng = random.Random(seed)
    pool = (list(" \t\n\r\u00a0\u3000\u2028\u0085\u180e\u200b\u000b\u000c") + list("'sStTmMlLdDrReEvV")
            + list("0123456789٣४") + list("abcXYZéßøçñ") + list("日本語中文한국") + list("عربيहिन्दी")
            + ["\u0301", "\u0308", "\u200d", "\ufe0f", "🙂", "👍🏽", "👨‍👩‍👧", "𝔘", "\ufffd", "ſ", "K"]
            + list(".,;:!?-_()[]{}<>|/\\\"#$%&*+=@^`~") + ["▁", "Ġ", "Ċ"]
            + SPECIALS + ["<|", "|>", "<s", "/s>", "[INST", "im_", "\r\n"])
    texts = []
    for _ in range(count):
        n = rng.randint(1, 40)
        texts.append("".join(rng.choice(pool) for _ in range(n)))
    return texts


def random_wide_texts(count=500, seed=99):
    """Random strings over code points from all of the BMP below U+3000 and the supplementary
    planes' first 64k (scripts of every Unicode version, combining marks of every class),
    mixed with whitespace: where Unicode data versions of two implementations would differ."""
    import random
    rng = random.Random(seed)
    pool = ([chr(rng.randint(0x20, 0x2FFF)) for _ in range(3000)]
            + [chr(rng.randint(0x10000, 0x1FAFF)) for _ in range(300)] + list(" \n\t  ") * 200)
    texts = []
    for _ in range(count):
        texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 200))))
    return texts
