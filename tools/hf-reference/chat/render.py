"""Renders chat templates with Jinja2 exactly as transformers' apply_chat_template does (its environment:
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols; raise_exception and strftime_now), so the
JVM rendering (core.tokenizer.ChatTemplate) can be checked against it.

    python render.py CASES.json > RENDERED.json

CASES.json: {"cases": [{"name", "template_file" | "template", "bos_token", "eos_token", "messages",
"add_generation_prompt", "now"}]}; template_file is a tokenizer_config.json (its chat_template) or a .jinja file,
relative to CASES.json. "now" is the epoch second strftime_now sees (UTC). Output: {name: rendered text or
"ERROR: message"}.
"""
import datetime
import json
import os
import sys

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def template_text(case, base):
    if "template" in case:
        return case["template"]
    path = os.path.join(base, case["template_file"])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return json.loads(text)["chat_template"] if path.endswith(".json") else text


def render(case, base):
    def raise_exception(message):
        raise TemplateError(message)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(case.get("now", 0), datetime.timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    t = env.from_string(template_text(case, base))
    try:
        return t.render(messages=case["messages"], add_generation_prompt=case.get("add_generation_prompt", False),
                        bos_token=case.get("bos_token", ""), eos_token=case.get("eos_token", ""))
    except TemplateError as e:
        return "ERROR: " + str(e)


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    base = os.path.dirname(os.path.abspath(path))
    json.dump({c["name"]: render(c, base) for c in cases}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
