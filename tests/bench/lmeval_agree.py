"""Run the same tasks through lm-evaluation-harness's HF backend and through ours.

Used by the agreement tests and by ``benchmarks/bench_bench_lmeval.py``. lm-eval
reads the very task YAML files fromscratch reads (copied with an absolute data
path, since lm-eval resolves ``data_files`` against the working directory), runs
with its defaults (``model=hf``, float32, batch size 1) and writes its
``--log_samples`` files with its own `EvaluationTracker`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml


def lmeval_task_dir(task_yamls: dict[str, Path], out: Path) -> Path:
    """A folder of task YAMLs lm-eval can load, data paths made absolute."""
    out.mkdir(parents=True, exist_ok=True)
    for name, src in task_yamls.items():
        cfg = yaml.safe_load(src.read_text(encoding="utf-8"))
        files = (cfg.get("dataset_kwargs") or {}).get("data_files") or {}
        cfg.setdefault("dataset_kwargs", {})
        cfg["dataset_kwargs"]["data_files"] = {k: str((src.parent / v).resolve()) for k, v in files.items()}
        if cfg.get("output_type") == "generate_until":  # lm-eval has no numeric_match; we compare texts
            cfg["metric_list"] = [{"metric": "exact_match"}]
        (out / f"{name}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def run_lmeval(model_dir: Path, task_yamls: dict[str, Path], work: Path, *, limit: int | None = None,
               samples_dir: Path | None = None, model_args: str = "", **options: Any) -> dict[str, Any]:
    """lm-eval's results dict (with per-item samples); writes --log_samples files if asked
    (after which the samples' ``resps`` are lm-eval's sanitised strings: read logliks first)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import lm_eval
    import torch
    from lm_eval.tasks import TaskManager

    torch.set_num_threads(1)  # a tiny model on a shared machine: threads only add contention

    inc = lmeval_task_dir(task_yamls, work / "lmeval-tasks")
    tm = TaskManager(include_path=str(inc), include_defaults=False)
    args = f"pretrained={model_dir},dtype=float32" + (f",{model_args}" if model_args else "")
    res = lm_eval.simple_evaluate(model="hf", model_args=args, tasks=sorted(task_yamls), task_manager=tm,
                                  device="cpu", batch_size=1, log_samples=True, limit=limit,
                                  random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0,
                                  **options)
    if samples_dir is not None:
        from lm_eval.loggers import EvaluationTracker

        tracker = EvaluationTracker(output_path=str(samples_dir))
        tracker.general_config_tracker.model_name_sanitized = "model"
        tracker.date_id = "2026-01-01T00-00-00.000000"  # set by save_results_aggregated, which we skip
        res["logliks"] = {name: lmeval_logliks(res, name) for name in task_yamls}
        for name in sorted(task_yamls):
            tracker.save_results_samples(task_name=name, samples=res["samples"][name])
    else:
        res["logliks"] = {name: lmeval_logliks(res, name) for name in task_yamls}
    return res


def lmeval_logliks(res: dict[str, Any], task: str) -> dict[int, dict[str, Any]]:
    """doc_id -> {"logliks": [...], "greedy": [...], "acc": 0/1} from lm-eval's samples
    (for generation tasks {"response": text})."""
    out = {}
    for s in res["samples"][task]:
        if "acc" not in s:
            out[int(s["doc_id"])] = {"response": s["resps"][0][0]}
            continue
        resps = [r[0] for r in s["resps"]]
        out[int(s["doc_id"])] = {"logliks": [float(r[0]) for r in resps], "greedy": [bool(r[1]) for r in resps],
                                 "acc": float(s["acc"])}
    return out


def copy_model(src: Path, dst: Path) -> Path:
    if not dst.exists():
        shutil.copytree(src, dst)
    return dst
