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

TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
NO_TOKENS = {}


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


def render(env, text, messages, add_generation_prompt, tokens):
    template = env.from_string(text)
    return template.render(messages=messages, tools=None, documents=None,
                           add_generation_prompt=add_generation_prompt, **tokens)


def main():
    if not os.path.isdir("configs/templates"):
        sys.exit("run from the repository root")
    env = make_environment()
    templates = []
    cases = []
    for name, spec, text in template_sources():
        templates.append({"name": name, "spec": spec,
                          "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
        for conversation_name, messages in CONVERSATIONS.items():
            variants = [("tokens", TOKENS)]
            if conversation_name in ("single_turn", "system_and_user"):
                variants.append(("no_tokens", NO_TOKENS))
            for tokens_name, tokens in variants:
                for add_generation_prompt in (False, True):
                    case = {"template": name, "conversation": conversation_name,
                            "tokens": tokens_name, "add_generation_prompt": add_generation_prompt}
                    try:
                        case["expected"] = render(env, text, messages, add_generation_prompt, tokens)
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
        "tokens": {"tokens": TOKENS, "no_tokens": NO_TOKENS},
        "conversations": CONVERSATIONS,
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
