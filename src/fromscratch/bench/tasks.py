"""Benchmark tasks in the lm-evaluation-harness task-YAML format, local data only.

We read the subset of lm-eval's format that a referee needs, so that a task
written for lm-eval runs here unchanged and vice versa:

* ``task``, ``dataset_path`` (``json`` / ``csv`` / a local file or folder),
  ``dataset_kwargs.data_files``, ``test_split``, ``fewshot_split``, ``num_fewshot``;
* ``output_type``: ``multiple_choice`` (scored by log-likelihood) or
  ``generate_until`` (scored by matching the generated text);
* ``doc_to_text`` / ``doc_to_target`` / ``doc_to_choice`` as Jinja templates,
  field names, literal lists or an integer index;
* ``target_delimiter``, ``fewshot_delimiter``, ``description``,
  ``generation_kwargs`` (``until``, ``max_gen_toks``), ``metric_list``
  (``acc``, ``acc_norm``, ``exact_match``, ``numeric_match``), ``filter_list``
  (``regex`` then ``take_first``), ``metadata.version``.

Never executed: ``!function`` tags (lm-eval's hook for Python code) are refused,
templates run in Jinja's sandbox, and list literals go through
``ast.literal_eval``. Nothing is fetched from a network.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from fromscratch.bench.reasoning import DEFAULT_SPANS
from fromscratch.errors import InputError
from fromscratch.tables import read_records as read_records  # the one table reader

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
MAX_ITEMS = 2_000_000


class _TaskLoader(yaml.SafeLoader):
    """SafeLoader that names lm-eval's code hooks instead of failing obscurely."""


def _refuse_function(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"'!function {node.value}' would execute Python code; use templates", node.start_mark)


_TaskLoader.add_constructor("!function", _refuse_function)


@dataclass(frozen=True)
class Request:
    """What one item asks of a model: log-likelihoods of choices, or one generation."""

    kind: str  # "loglikelihood" | "generate"
    context: str
    continuations: tuple[str, ...] = ()
    until: tuple[str, ...] = ()
    max_tokens: int = 0
    #: (path, sha256) of each image shown with the prompt (vision tasks)
    images: tuple[tuple[str, str], ...] = ()

    def sha256(self) -> str:
        """Hash of the exact text (and images) sent to the model (recorded for every item)."""
        payload = {"kind": self.kind, "context": self.context, "continuations": list(self.continuations),
                   "until": list(self.until), "max_tokens": self.max_tokens}
        if self.images:
            payload["images"] = [digest for _, digest in self.images]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Item:
    item_id: str
    request: Request
    target: str                # gold answer text (generation) or gold choice text
    gold_index: int | None     # multiple choice: index of the right choice
    choices: tuple[str, ...] = ()
    #: the prompt as turns (role, content, plain-text delimiter), lm-eval's shape:
    #: an optional system turn (description), a user/assistant pair per shot, the question
    messages: tuple[tuple[str, str, str], ...] = ()
    #: further accepted answers (generation tasks whose target is a list)
    alternatives: tuple[str, ...] = ()


@dataclass
class Task:
    """A loaded task: its config and its items in a stable order."""

    name: str
    output_type: str
    items: list[Item]
    metric: str
    regex: str | None = None
    numeric_tolerance: float = 1e-6
    version: str = "0"
    source: str = ""
    data_sha256: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    #: (start, end) markers of reasoning spans removed before answer extraction
    reasoning_spans: tuple[tuple[str, str], ...] = DEFAULT_SPANS

    def sha256(self) -> str:
        """Identity of the task: config, data and every prompt (cache key for resumption)."""
        h = hashlib.sha256()
        h.update(json.dumps({"name": self.name, "type": self.output_type, "metric": self.metric,
                             "regex": self.regex, "tol": self.numeric_tolerance, "version": self.version,
                             **({"reasoning": self.reasoning_spans} if self.reasoning_spans != DEFAULT_SPANS else {})},
                            sort_keys=True).encode())
        for it in self.items:
            h.update(it.item_id.encode() + b"\0" + it.request.sha256().encode() + b"\0" +
                     it.target.encode() + b"\0" + str(it.gold_index).encode() + b"\n")
            if it.alternatives:
                h.update(json.dumps(list(it.alternatives), ensure_ascii=False).encode() + b"\n")
        return h.hexdigest()


def _render(template: Any, doc: dict[str, Any], where: str) -> Any:
    if isinstance(template, (int, float, list)):
        return template
    template = str(template)
    if template in doc and "{" not in template:
        return doc[template]
    try:
        return _ENV.from_string(template).render(**doc)
    except TemplateError as exc:
        raise InputError(where, f"template {template!r} failed: {exc}") from None


def _as_choices(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise InputError(where, f"doc_to_choice gave {text[:60]!r}, not a list") from None
    if not isinstance(value, (list, tuple)) or not value:
        raise InputError(where, "doc_to_choice must give a non-empty list")
    return [str(v) for v in value]


def load_task(path: str | Path) -> Task:
    """Load one task YAML (lm-eval format) with its local data."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        if len(candidates) != 1:
            raise InputError(path, "a task folder must hold exactly one .yaml file")
        path = candidates[0]
    if not path.is_file():
        raise InputError(path, "task file not found")
    try:
        cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise InputError(path, f"bad task YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(cfg, dict) or "task" not in cfg:
        raise InputError(path, "task YAML must be a mapping with a 'task' key")
    return task_from_config(cfg, base=path.parent, source=str(path))


def _data_file(cfg: dict[str, Any], split: str, base: Path, where: str) -> tuple[Path, str | None]:
    dpath = str(cfg.get("dataset_path", ""))
    files = (cfg.get("dataset_kwargs") or {}).get("data_files")
    fmt = dpath if dpath in {"json", "csv", "parquet"} else None
    if isinstance(files, dict):
        chosen = files.get(split)
        if chosen is None:
            raise InputError(where, f"no data_files entry for split {split!r}")
    elif isinstance(files, (str, list)):
        chosen = files
    else:
        chosen = dpath
    if isinstance(chosen, list):
        if len(chosen) != 1:
            raise InputError(where, "one data file per split is supported")
        chosen = chosen[0]
    if not chosen or str(chosen).startswith(("http://", "https://", "hf://")):
        raise InputError(where, "tasks must use local data files (no network)")
    p = Path(str(chosen))
    if not p.is_absolute():
        p = (base / p) if (base / p).exists() else Path.cwd() / p
    if p.is_dir():
        found = sorted(q for q in p.iterdir() if q.name.startswith(split) and q.suffix in
                       {".jsonl", ".json", ".csv", ".parquet"})
        if not found:
            raise InputError(p, f"no {split} file in this folder")
        p = found[0]
    return p, fmt


def task_from_config(cfg: dict[str, Any], *, base: Path, source: str = "<config>",
                     docs: list[dict[str, Any]] | None = None) -> Task:
    """Build a Task from an lm-eval style config dict (docs may be given directly)."""
    where = source
    name = str(cfg["task"])
    output_type = str(cfg.get("output_type", "multiple_choice"))
    if output_type not in {"multiple_choice", "generate_until"}:
        raise InputError(where, f"output_type {output_type!r} not supported (multiple_choice, generate_until)")
    docs, shots, data_sha256, image_base = _documents(cfg, base, where, docs)
    metric, regex = _scoring(cfg, output_type, where)
    gen = cfg.get("generation_kwargs") or {}
    delim = str(cfg.get("target_delimiter", " "))
    fs_delim = str(cfg.get("fewshot_delimiter", "\n\n"))
    until = gen.get("until", [fs_delim])  # lm-eval's defaults: the few-shot delimiter, 256 tokens
    until = (until,) if isinstance(until, str) else tuple(str(u) for u in until)
    max_tokens = int(gen.get("max_gen_toks", 256))
    description = str(cfg.get("description", "") or "")
    id_field = (cfg.get("metadata") or {}).get("id_field", "id")

    def text_of(doc: dict[str, Any]) -> str:
        return str(_render(cfg.get("doc_to_text", "{{question}}"), doc, where))

    def target_of(doc: dict[str, Any], choices: list[str] | None) -> tuple[str, int | None]:
        raw = cfg.get("doc_to_target", "{{answer}}")
        val = _render(raw, doc, where)
        if choices is None:
            if isinstance(val, (list, tuple)) and val:
                return str(val[0]), None  # the others become the item's alternatives
            return str(val).strip() if not isinstance(val, str) else val, None
        if isinstance(val, str):
            s = val.strip()
            if s.lstrip("-").isdigit() and s not in choices:
                val = int(s)
            elif s in choices:
                return s, choices.index(s)
            else:
                raise InputError(where, f"target {s!r} is neither a choice nor an index")
        if isinstance(val, bool) or not isinstance(val, int) or not 0 <= val < len(choices):
            raise InputError(where, f"target index {val!r} out of range")
        return choices[val], val

    def shot_turns(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
        if output_type == "multiple_choice":
            ch = _as_choices(_render(cfg.get("doc_to_choice"), doc, where), where)
            tgt, _ = target_of(doc, ch)
        else:
            tgt, _ = target_of(doc, None)
        return [("user", text_of(doc), delim), ("assistant", tgt, fs_delim)]

    head: list[tuple[str, str, str]] = [("system", description, "")] if description else []
    for s in shots:
        head += shot_turns(s)
    prefix = "".join(c + d for _, c, d in head)
    items: list[Item] = []
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        item_id = str(doc.get(id_field, i)) if isinstance(doc, dict) else str(i)
        if item_id in seen:
            raise InputError(where, f"duplicate item id {item_id!r}")
        seen.add(item_id)
        question = text_of(doc)
        context = prefix + question
        turns = tuple(head) + (("user", question, ""),)
        if output_type == "multiple_choice":
            choices = _as_choices(_render(cfg.get("doc_to_choice"), doc, where), where)
            tgt, gold = target_of(doc, choices)
            req = Request("loglikelihood", context, tuple(delim + c for c in choices))
            items.append(Item(item_id, req, tgt, gold, tuple(choices), turns))
        else:
            tgt, _ = target_of(doc, None)
            raw = _render(cfg.get("doc_to_target", "{{answer}}"), doc, where)
            alts = tuple(str(a) for a in raw[1:]) if isinstance(raw, (list, tuple)) else ()
            images = _images(cfg.get("doc_to_image"), doc, image_base, where, item_id)
            req = Request("generate", context, until=until, max_tokens=max_tokens, images=images)
            items.append(Item(item_id, req, tgt, None, messages=turns, alternatives=alts))
    version = str((cfg.get("metadata") or {}).get("version", "0"))
    tol = float((cfg.get("metadata") or {}).get("numeric_tolerance", 1e-6))
    spans = _reasoning_spans((cfg.get("metadata") or {}).get("reasoning_spans", DEFAULT_SPANS), where)
    return Task(name, output_type, items, metric, regex, tol, version, source, data_sha256, cfg, spans)


def _documents(cfg: dict[str, Any], base: Path, where: str, docs: list[dict[str, Any]] | None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, Path]:
    """(test docs, few-shot docs, data hash, folder that relative image paths start from)."""
    split = str(cfg.get("test_split") or cfg.get("validation_split") or "test")
    data_hash = hashlib.sha256()
    image_base = base
    if docs is None:
        data_path, fmt = _data_file(cfg, split, base, where)
        image_base = data_path.parent
        data_hash.update(data_path.read_bytes())
        docs = read_records(data_path, fmt)
    else:
        data_hash.update(json.dumps(docs, ensure_ascii=False, sort_keys=True, default=str).encode())
    if len(docs) > MAX_ITEMS:
        raise InputError(where, f"too many items ({len(docs)})")
    shots: list[dict[str, Any]] = []
    k = int(cfg.get("num_fewshot") or 0)
    if k > 0:
        fs_split = cfg.get("fewshot_split")
        if not fs_split:
            raise InputError(where, "num_fewshot > 0 needs a fewshot_split")
        fs_path, fmt = _data_file(cfg, str(fs_split), base, where)
        shots = read_records(fs_path, fmt)[:k]  # the first k: fixed and recorded, never sampled
    return docs, shots, data_hash.hexdigest(), image_base


def _scoring(cfg: dict[str, Any], output_type: str, where: str) -> tuple[str, str | None]:
    """The first metric of ``metric_list`` and the first filter pipeline's regex."""
    metrics = [m.get("metric") if isinstance(m, dict) else m for m in (cfg.get("metric_list") or [])]
    default_metric = "acc" if output_type == "multiple_choice" else "exact_match"
    metric = str(metrics[0]) if metrics else default_metric
    allowed = {"multiple_choice": {"acc", "acc_norm", "acc_bytes"},
               "generate_until": {"exact_match", "numeric_match", "anls"}}
    if metric not in allowed[output_type]:
        raise InputError(where, f"metric {metric!r} not supported for {output_type}")
    regex = None
    for flt in cfg.get("filter_list") or []:
        for step in (flt or {}).get("filter", []):
            if step.get("function") == "regex":
                regex = str(step.get("regex_pattern"))
        break  # the first filter pipeline scores the task
    return metric, regex


def _images(spec: Any, doc: dict[str, Any], base: Path, where: str, item_id: str) -> tuple[tuple[str, str], ...]:
    """``doc_to_image``: a field (or template) naming image files relative to the data file."""
    if not spec:
        return ()
    value = _render(spec, doc, where)
    paths = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for p in paths:
        path = Path(str(p))
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise InputError(path, f"image file of item {item_id!r} not found")
        out.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return tuple(out)


def _reasoning_spans(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``metadata.reasoning_spans``: a list of [start, end] marker pairs ([] turns stripping off)."""
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(m, str) and m for m in p) for p in value):
        raise InputError(where, "metadata.reasoning_spans must be a list of [start, end] marker pairs")
    return tuple((str(a), str(b)) for a, b in value)
