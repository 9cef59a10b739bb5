"""Chat templates from a model's own tokenizer config, rendered in Jinja's sandbox.

An instruction-tuned model is asked through its chat template, as
lm-evaluation-harness's ``--apply_chat_template`` does. The template is read
from the model folder (``tokenizer_config.json``'s ``chat_template``, a named
``default`` entry of a list, or ``chat_template.jinja``) and rendered by
``ImmutableSandboxedEnvironment``: a hostile template can neither reach Python
objects nor mutate what it is given. ``raise_exception`` and ``strftime_now``
exist as in transformers; ``{% generation %}`` blocks are not supported.

Turns follow lm-eval: the description becomes a system turn, each few-shot
example a user turn (question) and an assistant turn (answer) when
``fewshot_as_multiturn``, otherwise everything before the question is folded
into one user message with the plain-text delimiters; the question is the last
user turn and the generation prompt follows. For multiple choice the choices
are then scored without the target delimiter (the generation prompt already
ends the context), as lm-eval does when no ``gen_prefix`` is set.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fromscratch.bench.tasks import Item, Task
from fromscratch.artifacts.hfdir import load_json
from fromscratch.errors import InputError

MAX_TEMPLATE = 1 << 20


def _raise(message: str) -> None:
    raise TemplateError(message)


def _env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now(timezone.utc).strftime(fmt)
    return env


class ChatTemplate:
    """One model's chat template and the special-token strings it may refer to."""

    def __init__(self, source: str, where: str, tokens: dict[str, str] | None = None) -> None:
        if len(source) > MAX_TEMPLATE:
            raise InputError(where, "chat template larger than 1 MiB")
        try:
            self.template = _env().from_string(source)
        except TemplateError as exc:
            raise InputError(where, f"chat template does not parse: {exc}") from None
        self.source, self.where, self.tokens = source, where, dict(tokens or {})

    @classmethod
    def from_model(cls, folder: str | Path) -> "ChatTemplate":
        folder = Path(folder)
        root = folder if folder.is_dir() else folder.parent
        cfg_path = root / "tokenizer_config.json"
        cfg: dict[str, Any] = {}
        if cfg_path.is_file():
            loaded = load_json(cfg_path)
            cfg = loaded if isinstance(loaded, dict) else {}
        tokens = {k: (v.get("content") if isinstance(v, dict) else v) for k, v in cfg.items()
                  if k.endswith("_token") and isinstance(v, (str, dict))}
        tokens = {k: v for k, v in tokens.items() if isinstance(v, str)}
        tpl = cfg.get("chat_template")
        if isinstance(tpl, list):  # [{"name": "default", "template": ...}, ...]
            tpl = next((t.get("template") for t in tpl if isinstance(t, dict) and t.get("name") == "default"), None)
        if isinstance(tpl, str) and tpl:
            return cls(tpl, str(cfg_path), tokens)
        jinja = root / "chat_template.jinja"
        if jinja.is_file():
            return cls(jinja.read_text(encoding="utf-8"), str(jinja), tokens)
        raise InputError(root, "the model has no chat template (tokenizer_config.json chat_template "
                               "or chat_template.jinja); run without --apply-chat-template")

    def render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True,
               **kwargs: Any) -> str:
        try:
            return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                        tools=None, documents=None, **self.tokens, **kwargs)
        except TemplateError as exc:
            raise InputError(self.where, f"chat template failed: {exc}") from None

    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


def chat_messages(turns: tuple[tuple[str, str, str], ...], multiturn: bool) -> list[dict[str, str]]:
    """lm-eval's message list: turns as they are, or folded into one user message."""
    if multiturn:
        return [{"role": r, "content": c} for r, c, _ in turns]
    system = [{"role": "system", "content": turns[0][1]}] if turns and turns[0][0] == "system" else []
    rest = turns[1:] if system else turns
    body = [c + d for _, c, d in rest[:-1]] + [rest[-1][1]]
    return system + [{"role": "user", "content": "".join(body)}]


def apply_chat(task: Task, template: ChatTemplate, *, fewshot_as_multiturn: bool = False,
               **template_args: Any) -> Task:
    """The task with every prompt rendered through the chat template."""
    items: list[Item] = []
    for it in task.items:
        if not it.messages:
            raise InputError(task.source, f"item {it.item_id!r} carries no turns to render")
        ctx = template.render(chat_messages(it.messages, fewshot_as_multiturn), **template_args)
        req = it.request
        if req.kind == "loglikelihood":
            req = replace(req, context=ctx, continuations=tuple(it.choices))
        else:
            req = replace(req, context=ctx)
        items.append(replace(it, request=req))
    cfg = {**task.config, "_chat": {"template_sha256": template.sha256(), "fewshot_as_multiturn": fewshot_as_multiturn,
                                     **template_args}}
    return replace(task, items=items, config=cfg)


__all__ = ["ChatTemplate", "apply_chat", "chat_messages"]
