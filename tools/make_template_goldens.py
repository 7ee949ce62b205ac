#!/usr/bin/python3
"""Renders every chat template the tests know with Jinja2, exactly as transformers'
apply_chat_template does, and writes the expected outputs to
tests/fixtures/templates/goldens.json for tests/templates/chat_template_golden_test.cpp.

Run from the repository root with Debian's python3 and python3-jinja2 (3.1.x):
    /usr/bin/python3 tools/make_template_goldens.py

The environment is transformers' (src/transformers/utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
a `tojson` filter that keeps non-ASCII (json.dumps(ensure_ascii=False)), the globals
raise_exception(message) and strftime_now(format), and the variables messages, tools=None,
documents=None, add_generation_prompt and the special tokens that are set. strftime_now is
fixed to 2024-07-26 09:05:03 so that the goldens do not depend on the clock.

Besides the plain conversations (role and content), "rich" conversations hold what today's
models read: tool_calls (arguments as an object or a JSON string, content None), tool turns,
reasoning_content, <think> blocks in assistant content (Qwen3), a user turn holding a
<tool_response>, Llama 3.1's ipython role with a dict as content, and content given as a list of
parts. Templates that read `tools` are also rendered with a list of tool schemas,
and the keyword arguments a template reads (enable_thinking, date_string,
tools_in_user_message, builtin_tools, custom_tools) are varied; the C++ test passes them as ChatTemplateVariables.

    /work/main/.venv-oracle/bin/python3 tools/make_template_goldens.py --check-transformers

re-renders the cases of the model templates with transformers' own apply_chat_template
(tokenize=False) on the tokenizers of ../shared/assets/hf_tokenizers and reports any
difference from this script's rendering (it writes nothing).
"""
import datetime
import glob
import hashlib
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2024, 7, 26, 9, 5, 3)
FIXTURES = "tests/fixtures/templates"


class RaisedByTemplate(Exception):
    pass


def make_environment():
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def conversation(*turns):
    return [{"role": role, "content": content} for role, content in turns]


CONVERSATIONS = {
    "single_turn": conversation(("user", "Hello!")),
    "system_and_user": conversation(("system", "You are a helpful assistant."), ("user", "Hi, who are you?")),
    "multi_turn": conversation(("user", "What is 2+2?"), ("assistant", "4."), ("user", "And 3+3?")),
    "system_multi_turn_ending_with_assistant": conversation(
        ("system", "Be brief."), ("user", "Name a colour."), ("assistant", "Blue."),
        ("user", "Another?"), ("assistant", "Green.")),
    "ends_with_assistant": conversation(("user", "Say yes."), ("assistant", "Yes.")),
    "empty_system": conversation(("system", ""), ("user", "Hello")),
    "empty_user_content": conversation(("user", ""), ("assistant", "(no question)")),
    "unicode": conversation(("user", "Grüße, 你好, привет — ¿qué tal? 👋🏽"),
                            ("assistant", "こんにちは 🌸 ÉTÉ ΣΟΦΙΑ straße")),
    "whitespace": conversation(("user", "  leading and trailing spaces  \n"),
                               ("assistant", "\n\nanswer after newlines\t \n")),
    "unicode_whitespace": conversation(("user", "\u3000全角 space\u3000\u00a0"),
                                       ("assistant", "\u2028line separator\u2029 end")),
    "template_looking_content": conversation(
        ("user", "{{ x }} {% if y %} {# z #} <|im_start|>system\n[INST] <s> <<SYS>>"),
        ("assistant", "{{ raise_exception('no') }} </s> <|im_end|> \\n")),
    "assistant_first": conversation(("assistant", "I speak first."), ("user", "Ok.")),
    "tool_turns": conversation(("user", "Weather in Paris?"), ("assistant", "Calling the tool."),
                               ("tool", "{\"temp\": 21}"), ("tool", "sunny"),
                               ("assistant", "21 degrees and sunny.")),
    "no_messages": [],
}


def call(name, arguments, with_type=True):
    function = {"name": name, "arguments": arguments}
    return {"type": "function", "function": function} if with_type else {"function": function}


WEATHER_CALL = call("get_weather", {"city": "Paris", "unit": "celsius"})

# Conversations with the fields of today's chat formats, given to the template as they are.
RICH_CONVERSATIONS = {
    "tool_call": [
        {"role": "system", "content": "You answer with tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "It is 21 degrees."},
    ],
    "tool_call_string_arguments": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.",
         "tool_calls": [call("get_weather", "{\"city\": \"Paris\"}")]},
        {"role": "tool", "content": "sunny"},
    ],
    "two_tool_calls": [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "",
         "tool_calls": [WEATHER_CALL, call("get_time", {"city": "Paris"}, with_type=False)]},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "tool", "content": "09:05"},
        {"role": "assistant", "content": "21 degrees at 09:05."},
    ],
    "think_in_last_turn": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nLet me add.\n</think>\n\n4."},
    ],
    "think_in_history": [
        {"role": "system", "content": "Think first."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>2 and 2</think>4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "<think>\n\n3 and 3\n\n</think>\n\n\n6."},
    ],
    "think_then_user": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nLet me add.\n</think>\n\n4."},
        {"role": "user", "content": "Thanks."},
    ],
    "empty_think": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\n\n</think>\n\nHello."},
    ],
    "reasoning_content": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4.", "reasoning_content": "\n2 plus 2 is 4.\n"},
    ],
    "reasoning_content_history": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4.", "reasoning_content": "2 plus 2."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6.", "reasoning_content": "3 plus 3."},
    ],
    "thinking_around_tools": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "I need the weather.",
         "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "<think>\nThe tool said 21.\n</think>\n\nIt is 21 degrees."},
    ],
    "builtin_tool_call": [
        {"role": "system", "content": "You can search."},
        {"role": "user", "content": "Search the news."},
        {"role": "assistant", "content": None,
         "tool_calls": [call("brave_search", {"query": "news today", "count": "2"})]},
        {"role": "ipython", "content": {"results": ["a", "b"], "ok": True, "n": 2.5}},
        {"role": "tool", "content": ["x", 1, None]},
        {"role": "assistant", "content": "Two results."},
    ],
    "content_parts": [
        {"role": "user", "content": [{"type": "text", "text": "Describe this."}]},
        {"role": "assistant", "content": "A cat."},
    ],
    "tool_response_in_user_turn": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "user", "content": "<tool_response>\n{\"temp\": 21}\n</tool_response>"},
    ],
}

TOOLS = {
    "weather": [
        {"type": "function", "function": {
            "name": "get_weather", "description": "The current weather in a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                "required": ["city"]}}},
        {"type": "function", "function": {
            "name": "get_time", "description": "Local time — «24h» format.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}},
    ],
}

TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
NO_TOKENS = {}
# The special tokens of the models whose templates are here (from their tokenizer_config.json).
LLAMA3_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
QWEN_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
TOKEN_SETS = {"tokens": TOKENS, "no_tokens": NO_TOKENS, "llama3": LLAMA3_TOKENS,
              "qwen": QWEN_TOKENS}

def model_tokens(name, text):
    """The token set of the model a template belongs to, or None."""
    if "<|eot_id|>" in text and "date_string" in text:
        return "llama3"
    if "<|im_start|>" in text and ("qwen" in name.lower() or "Qwen" in text):
        return "qwen"
    return None


def keyword_variants(text):
    """The extra keyword arguments to render a template with: those it reads."""
    variants = [{}]
    if "enable_thinking" in text:
        variants += [{"enable_thinking": False}, {"enable_thinking": True}]
    if "date_string" in text:
        variants += [{"date_string": "01 Dec 2025"}]
    if "tools_in_user_message" in text:
        variants += [{"tools_in_user_message": False}]
    if "builtin_tools" in text:
        variants += [{"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]}]
    if "custom_tools" in text:
        variants += [{"custom_tools": TOOLS["weather"][:1]}]
    return variants


def template_sources():
    """(name, spec, text): spec is what ChatTemplate::load takes (relative to the repository)."""
    sources = []
    for path in sorted(glob.glob("configs/templates/*.jinja")):
        name = os.path.basename(path)[: -len(".jinja")]
        with open(path, encoding="utf-8", newline="") as f:
            sources.append(("builtin:" + name, name, f.read()))
    for path in sorted(glob.glob(FIXTURES + "/*.jinja")):
        with open(path, encoding="utf-8", newline="") as f:
            sources.append((path, path, f.read()))
    for path in sorted(glob.glob(FIXTURES + "/*tokenizer_config.json")):
        with open(path, encoding="utf-8") as f:
            sources.append((path, path, json.load(f)["chat_template"]))
    return sources


def render(env, text, messages, add_generation_prompt, tokens, tools=None, kwargs=None):
    template = env.from_string(text)
    return template.render(messages=messages, tools=tools, documents=None,
                           add_generation_prompt=add_generation_prompt, **tokens,
                           **(kwargs or {}))


def make_cases(name, text, duplicate=False):
    """Every case of one template: (conversation, tokens, add_generation_prompt, tools, kwargs).
    A `duplicate` (the same text as a template before it, loaded another way) gets only the
    plain conversations: its renderings are the same, only the loading differs."""
    out = []
    if duplicate:
        return [(conversation_name, tokens_name, add_generation_prompt, None, {})
                for conversation_name in CONVERSATIONS
                for tokens_name in (["tokens", "no_tokens"]
                                    if conversation_name in ("single_turn", "system_and_user")
                                    else ["tokens"])
                for add_generation_prompt in (False, True)]
    model = model_tokens(name, text)
    reads_tools = "tools" in text
    for conversation_name in CONVERSATIONS:
        variants = ["tokens"]
        if conversation_name in ("single_turn", "system_and_user"):
            variants.append("no_tokens")
        if model is not None:
            variants.append(model)
        for tokens_name in variants:
            for add_generation_prompt in (False, True):
                out.append((conversation_name, tokens_name, add_generation_prompt, None, {}))
        if reads_tools and conversation_name in ("single_turn", "system_and_user", "multi_turn",
                                                  "no_messages"):
            for add_generation_prompt in (False, True):
                out.append((conversation_name, model or "tokens", add_generation_prompt,
                            "weather", {}))
    for conversation_name in RICH_CONVERSATIONS:
        for tools in ([None, "weather"] if reads_tools else [None]):
            for kwargs in keyword_variants(text):
                # Keyword arguments that do not change how tools are shown: without tools only
                # (keeps goldens.json under 1 MB).
                if tools and kwargs and "tools_in_user_message" not in kwargs:
                    continue
                for add_generation_prompt in (False, True):
                    out.append((conversation_name, model or "tokens", add_generation_prompt,
                                tools, kwargs))
    return out


def messages_of(conversation_name):
    if conversation_name in CONVERSATIONS:
        return CONVERSATIONS[conversation_name]
    return RICH_CONVERSATIONS[conversation_name]


def check_transformers(sources):
    """Renders every case of each template that is the chat_template of a tokenizer in
    ../shared/assets/hf_tokenizers with that tokenizer's apply_chat_template (the case's special
    tokens passed as keyword arguments, which win over the tokenizer's; cases without special
    tokens cannot be made so and are left out) and compares with this script's rendering."""
    import transformers
    from transformers import AutoTokenizer

    root = os.environ.get("DPO_HF_TOKENIZERS", "../shared/assets/hf_tokenizers")
    folders = {}
    for config in sorted(glob.glob(os.path.join(root, "*", "tokenizer_config.json"))):
        with open(config, encoding="utf-8") as f:
            text = json.load(f).get("chat_template")
        if isinstance(text, str):
            folders.setdefault(text, os.path.dirname(config))
    env = make_environment()
    checked = differing = 0
    # Model templates kept here as hf_*.jinja (their tokenizers are not in ../shared) are given
    # to apply_chat_template as its chat_template argument, on any of those tokenizers (the
    # special tokens come from the case, as for the others).
    any_folder = next(iter(folders.values()), None)
    for name, _, text in sources:
        own_template = None
        if text in folders:
            folder = folders[text]
            print(f"{name}: the template of {os.path.basename(folder)}")
        elif os.path.basename(name).startswith("hf_") and name.endswith(".jinja") and any_folder:
            folder, own_template = any_folder, text
            print(f"{name}: given as chat_template to the tokenizer of {os.path.basename(folder)}")
        else:
            continue
        tokenizer = AutoTokenizer.from_pretrained(folder)
        for conversation_name, tokens_name, agp, tools, kwargs in make_cases(name, text):
            # transformers refuses an empty conversation before rendering.
            if tokens_name == "no_tokens" or conversation_name == "no_messages":
                continue
            messages = messages_of(conversation_name)
            tool_list = TOOLS[tools] if tools else None
            tokens = TOKEN_SETS[tokens_name]
            try:
                ours = render(env, text, messages, agp, tokens, tool_list, kwargs)
            except Exception as e:  # noqa: BLE001: compared below
                ours = "error: " + type(e).__name__
            try:
                theirs = tokenizer.apply_chat_template(
                    messages, tools=tool_list, add_generation_prompt=agp, tokenize=False,
                    chat_template=own_template, **tokens, **kwargs)
            except Exception as e:  # noqa: BLE001
                theirs = "error: " + type(e).__name__
            checked += 1
            if ours != theirs and not (ours.startswith("error") and theirs.startswith("error")):
                differing += 1
                print(f"DIFFERENT {name} / {conversation_name} / tools={tools} / {kwargs} / "
                      f"agp={agp}\n  ours:   {ours!r}\n  theirs: {theirs!r}")
    print(f"transformers {transformers.__version__}: {checked} renderings compared, "
          f"{differing} different")
    return differing == 0


def main():
    if not os.path.isdir("configs/templates"):
        sys.exit("run from the repository root")
    sources = template_sources()
    if "--check-transformers" in sys.argv[1:]:
        sys.exit(0 if check_transformers(sources) else 1)
    env = make_environment()
    templates = []
    cases = []
    seen = set()
    for name, spec, text in sources:
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        templates.append({"name": name, "spec": spec, "sha256": sha256})
        duplicate = sha256 in seen
        seen.add(sha256)
        for conversation_name, tokens_name, add_generation_prompt, tools, kwargs in make_cases(
                name, text, duplicate):
            case = {"template": name, "conversation": conversation_name,
                    "tokens": tokens_name, "add_generation_prompt": add_generation_prompt}
            if tools:
                case["tools"] = tools
            if kwargs:
                case["kwargs"] = kwargs
            try:
                case["expected"] = render(env, text, messages_of(conversation_name),
                                          add_generation_prompt, TOKEN_SETS[tokens_name],
                                          TOOLS[tools] if tools else None, kwargs)
            except RaisedByTemplate as e:
                case["raises"] = str(e)
            except jinja2.TemplateError as e:
                case["error"] = type(e).__name__ + ": " + str(e)
            except (TypeError, ValueError, ArithmeticError) as e:
                case["error"] = type(e).__name__ + ": " + str(e)
            cases.append(case)
    golden = {
        "generated_by": "tools/make_template_goldens.py",
        "jinja2_version": jinja2.__version__,
        "strftime_now": FIXED_NOW.isoformat(),
        "tokens": TOKEN_SETS,
        "conversations": CONVERSATIONS,
        "rich_conversations": RICH_CONVERSATIONS,
        "tools": TOOLS,
        "templates": templates,
        "cases": cases,
    }
    out = os.path.join(FIXTURES, "goldens.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    rendered = sum(1 for c in cases if "expected" in c)
    print(f"{out}: {len(templates)} templates, {len(cases)} cases "
          f"({rendered} renderings, {len(cases) - rendered} expected errors)")


if __name__ == "__main__":
    main()
