"""The held-out evaluation sets of the code benchmarks: which files of which packages each set holds.

WHY a module of its own: a held-out figure is only worth something if the set was fixed before it was run,
so each set is written down here, with the date and what had been run before it, and committed before its
first run (docs/code.md (6) says which set chose which threshold). The files come from PyPI wheels through
`corpora` (fetched, never installed or imported).
"""

from __future__ import annotations

from pathlib import Path

from fromscratch.code.corpora import VLLM, extract_wheel, model_code, vllm_models

# A third held-out set, defined on 2026-12-07 before any of it was run (issue 13's port targets need files
# that chose no threshold; every earlier half had been looked at). Ports: mlx-vlm's and mlx-audio's model
# folders named after a transformers folder, and the model files vLLM 0.34.0 added over VLLM; independent
# code: training frameworks with their own model implementations. (package, version, folder in the wheel)
FRESH_MLX = (("mlx-vlm", "0.7.10", "mlx_vlm/"), ("mlx-audio", "0.6.2", "mlx_audio/"))
FRESH_VLLM = "0.34.0"
# other serving engines' rewrites of transformers models against their own layers, as vLLM's are:
# tpu-inference's JAX models (architecture ground truth) and optimum-neuron's NeuronX models (truth: the folder)
FRESH_ENGINES = (("tpu-inference", "0.32.0", "tpu_inference/models/jax/"),
                 ("optimum-neuron", "0.4.5", "optimum/neuron/models/"))
FRESH_INDEPENDENT = (("torchtitan", "0.3.0", "torchtitan/models/"), ("fairseq2", "0.8.1", "fairseq2/models/"),
                     ("nanotron", "0.4", "nanotron/models/"))
# A fourth held-out set, defined on 2026-12-07 after the third had been run and NOT run in that session: kept
# for the next method change, to be run once that change is frozen (docs/code.md (6)). Ports: EasyDeL's JAX
# modules, levanter's JAX models and mlx-embeddings' models, each named after a transformers folder; independent
# code: lucidrains' vit-pytorch, penzai's JAX transformer variants, praxis' layers. (package, version, prefix)
FOURTH_PORTS = (("easydel", "0.3.0", "easydel/modules/"), ("levanter", "1.1", "levanter/models/"),
                ("mlx-embeddings", "0.1.0", "mlx_embeddings/models/"))
FOURTH_INDEPENDENT = (("vit-pytorch", "1.26.14", "vit_pytorch/"), ("penzai", "0.2.5", "penzai/models/"),
                      ("praxis", "1.4.0", "praxis/layers/"))
# A fifth held-out set, defined on 2026-12-07 after the fourth was run and before any of it was run; run once for the
# code before and once after the module-name change (interface.py) was frozen. PaddleNLP's Paddle ports of
# transformers models (`paddlenlp/transformers/<folder>/`); independent model code: Apple's axlearn layers,
# MosaicML's llm-foundry models (transformers' `mpt` descends from it: a flag against `mpt` is a shared
# ancestor, not a port), open_clip.
FIFTH_PORTS = (("paddlenlp", "2.8.1", "paddlenlp/transformers/"),)
FIFTH_INDEPENDENT = (("axlearn", "0.0.1.post20240213000026", "axlearn/common/"),
                     ("llm-foundry", "0.22.0", "llmfoundry/models/"), ("open-clip-torch", "3.3.0", "open_clip/"))
# A sixth held-out set, defined on 2026-12-07 (the session that changed which `self.NAME = …` count as module names,
# interface.py) before any of it was run. Ports: optimum-habana's Gaudi adaptations of transformers modelling files
# (`modeling_*.py` in a folder named after a transformers folder; truth: that folder), and the model files of
# aphrodite-engine (a vLLM fork) that neither VLLM nor FRESH_VLLM has (architecture ground truth: vLLM-style
# ports no tuning set holds). Independent code: torchvision's and ultralytics' vision models, speechbrain's
# lobes, four of lucidrains' packages other than vit-pytorch / x-transformers. Decided in advance: ultralytics'
# RT-DETR and transformers' `rt_detr` share an ancestor (the RT-DETR authors' code), so a flag between them is
# reported as such, not as a port; it still counts as flagged. (package, version, prefix)
SIXTH_PORTS = (("optimum-habana", "1.21.2", "optimum/habana/transformers/models/"),)
SIXTH_ENGINE = ("aphrodite-engine", "0.24.1", "aphrodite/model_executor/models/")
SIXTH_INDEPENDENT = (("torchvision", "0.29.1", "torchvision/models/"), ("ultralytics", "8.4.190", "ultralytics/nn/"),
                     ("speechbrain", "1.1.2", "speechbrain/lobes/"), ("audiolm-pytorch", "2.4.0", "audiolm_pytorch/"),
                     ("titans-pytorch", "0.5.5", "titans_pytorch/"),
                     ("native-sparse-attention-pytorch", "0.2.3", "native_sparse_attention_pytorch/"),
                     ("st-moe-pytorch", "0.1.8", "st_moe_pytorch/"))
# A seventh held-out set, defined on 2026-12-07 after the fifth and sixth were run, and NOT run: kept for the next
# change of the port rules (run it once before and once after that change is frozen). Ports: mlx-transformers' MLX
# ports named after a transformers folder (the only mlx ports no run has seen); independent code: Microsoft's
# torchscale, pyannote-audio's models, asteroid's separation networks, Haiku's nets. (package, version, prefix)
SEVENTH_PORTS = (("mlx-transformers", "0.3.0", "mlx_transformers/models/"),)
SEVENTH_INDEPENDENT = (("torchscale", "0.3.0", "torchscale/"), ("pyannote-audio", "4.0.7", "pyannote/audio/models/"),
                       ("asteroid", "0.7.0", "asteroid/masknn/"), ("dm-haiku", "0.0.17", "haiku/_src/nets/"))
# An eighth held-out set, defined on 2026-12-07 (session 9) after the seventh was run once and before any of it was
# run: kept for the rule change that the seventh's independent files showed the need for (docs/code.md (6)); run once
# for the code before and once after that change is frozen. Ports: ipex-llm's patches of transformers modelling code
# (`ipex_llm/transformers/models/<folder>.py`: forward functions rewritten for Intel hardware, a kind of port no
# earlier set holds). Independent code: IBM's foundation-model-stack (its own module names, with Hugging Face
# adapters reported apart), five more of lucidrains' packages, DeepMind's Sonnet. (package, version, prefix)
EIGHTH_PORTS = (("ipex-llm", "2.2.0", "ipex_llm/transformers/models/"),)
EIGHTH_INDEPENDENT = (("ibm-fms", "1.13.1", "fms/"), ("perceiver-pytorch", "0.11.0", "perceiver_pytorch/"),
                      ("vector-quantize-pytorch", "1.34.1", "vector_quantize_pytorch/"),
                      ("PaLM-pytorch", "0.2.2", "palm_pytorch/"), ("MEGABYTE-pytorch", "0.3.6", "MEGABYTE_pytorch/"),
                      ("CoCa-pytorch", "0.1.0", "coca_pytorch/"), ("dm-sonnet", "2.0.2", "sonnet/src/"))
# A ninth held-out set, defined on 2026-12-07 (session 9) after the eighth was run and before any of it was run, for
# the vLLM target that no clean set could show: the model files of an older vLLM release that vLLM dropped by VLLM
# and FRESH_VLLM (native implementations of models since left to its Transformers backend), written in vLLM's own
# style by its developers, with an architecture ground truth. Files whose names aphrodite-engine's models (the sixth
# set) also have are left out, as near copies of files already run. Run once, for the code of this release.
NINTH_VLLM = "0.8.5"
# A tenth held-out set, independent code only, defined on 2026-12-07 (session 9) after the ninth was run and before
# any of it was run: 25 more of lucidrains' packages (written from the papers, one author: a narrow sample), for
# the false-flag side of the next rule change. (package, version, prefix)
TENTH_INDEPENDENT = (("block-recurrent-transformer-pytorch", "0.4.4", "block_recurrent_transformer_pytorch/"),
                      ("colt5-attention", "0.11.2", "colt5_attention/"),
                      ("dalle2-pytorch", "1.15.6", "dalle2_pytorch/"),
                      ("denoising-diffusion-pytorch", "2.3.4", "denoising_diffusion_pytorch/"),
                      ("enformer-pytorch", "0.8.12", "enformer_pytorch/"),
                      ("flamingo-pytorch", "0.1.2", "flamingo_pytorch/"),
                      ("imagen-pytorch", "2.1.0", "imagen_pytorch/"),
                      ("linear-attention-transformer", "0.19.1", "linear_attention_transformer/"),
                      ("local-attention", "1.11.2", "local_attention/"),
                      ("magvit2-pytorch", "0.5.1", "magvit2_pytorch/"),
                      ("memorizing-transformers-pytorch", "0.4.1", "memorizing_transformers_pytorch/"),
                      ("meshgpt-pytorch", "1.8.1", "meshgpt_pytorch/"),
                      ("mixture-of-experts", "0.2.3", "mixture_of_experts/"),
                      ("muse-maskgit-pytorch", "0.3.5", "muse_maskgit_pytorch/"),
                      ("naturalspeech2-pytorch", "0.1.8", "naturalspeech2_pytorch/"),
                      ("palm-rlhf-pytorch", "0.8.0", "palm_rlhf_pytorch/"),
                      ("performer-pytorch", "1.1.4", "performer_pytorch/"),
                      ("recurrent-memory-transformer-pytorch", "0.7.0", "recurrent_memory_transformer_pytorch/"),
                      ("reformer-pytorch", "1.4.4", "reformer_pytorch/"),
                      ("retro-pytorch", "0.3.9", "retro_pytorch/"),
                      ("rotary-embedding-torch", "0.9.1", "rotary_embedding_torch/"),
                      ("routing-transformer", "1.6.1", "routing_transformer/"),
                      ("soundstorm-pytorch", "0.6.1", "soundstorm_pytorch/"),
                      ("toolformer-pytorch", "0.0.30", "toolformer_pytorch/"),
                      ("voicebox-pytorch", "0.5.0", "voicebox_pytorch/"))

# An eleventh held-out set, defined on 2026-12-07 (end of session 9) and NOT run: kept for the next rule change (run it
# once before and once after that change is frozen). Ports: lightllm's serving-engine rewrites (a folder per model,
# `lightllm/models/<folder>/**`, its layer_infer / layer_weights files and model.py, Triton kernels left out; truth:
# the folder when it is a transformers folder), the vLLM-style ports the vLLM target needs. Independent code: exllamav2 (an inference
# engine of its own, which loads Hugging Face checkpoints by their key names) and petals' model wrappers (which
# subclass the installed transformers classes: use, not reuse). (package, version, prefix)
ELEVENTH_PORTS = (("lightllm", "0.0.1", "lightllm/models/"),)
ELEVENTH_INDEPENDENT = (("exllamav2", "0.3.2", "exllamav2/"), ("petals", "2.2.0.post1", "petals/models/"))


def _plumbing(name: str) -> bool:
    """A file of a model folder that is not model code: `__init__.py`, configuration (`config.py`, EasyDeL's
    `*_configuration.py`), processing and test files."""
    return name in ("__init__.py", "config.py") or "configuration" in name or "process" in name \
        or name.endswith("_test.py")


def fresh_mlx_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for FRESH_MLX: `<package>/**/models/<folder>/*.py` whose folder is one of
    `folders`; files that are not model code (`_plumbing`) left out."""
    out: list[tuple[Path, str]] = []
    for package, version, prefix in FRESH_MLX:
        root = extract_wheel(package, version, prefix)
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).parts
            if len(rel) < 3 or rel[-3] != "models" or rel[-2] not in folders:
                continue
            if not _plumbing(p.name):
                out.append((p, rel[-2]))
    return out


def _names(*folders: Path) -> set[str]:
    return {p.name for folder in folders for p in folder.glob("*.py")}


def _top_level_except(folder: Path, known: set[str]) -> list[Path]:
    """The top-level model files of `folder` whose names are not in `known` (`__init__.py` left out)."""
    return [p for p in sorted(folder.glob("*.py")) if p.name not in known and p.name != "__init__.py"]


def fresh_vllm_models() -> list[Path]:
    """The model files of vLLM FRESH_VLLM that vLLM VLLM does not have (by file name)."""
    return _top_level_except(vllm_models(FRESH_VLLM), _names(vllm_models()))


def fresh_engine_models() -> tuple[list[Path], list[Path]]:
    """FRESH_ENGINES: (tpu-inference's `models/jax/*.py`, optimum-neuron's `<folder>/modeling_*.py`)."""
    (tpu, tv, tp), (neuron, nv, npre) = FRESH_ENGINES
    jax = [p for p in sorted(extract_wheel(tpu, tv, tp).glob("*.py")) if p.name != "__init__.py"]
    return jax, sorted(extract_wheel(neuron, nv, npre).rglob("modeling_*.py"))


def fourth_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for FOURTH_PORTS (`_named_ports`)."""
    return _named_ports(FOURTH_PORTS, folders)


def fifth_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for FIFTH_PORTS (`_named_ports`): its `modeling*.py` files only (PaddleNLP's
    folders also hold tokenizers, converters and feature extractors, which are not model code)."""
    return _named_ports(FIFTH_PORTS, folders, "modeling*.py")


def sixth_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for SIXTH_PORTS (`_named_ports`), `modeling_*.py` only."""
    return _named_ports(SIXTH_PORTS, folders, "modeling_*.py")


def sixth_engine_models() -> list[Path]:
    """SIXTH_ENGINE's top-level model files whose names neither VLLM nor FRESH_VLLM has."""
    return _top_level_except(extract_wheel(*SIXTH_ENGINE), _names(vllm_models(VLLM), vllm_models(FRESH_VLLM)))


def ninth_vllm_models() -> list[Path]:
    """NINTH_VLLM's top-level model files whose names neither VLLM, FRESH_VLLM nor SIXTH_ENGINE has."""
    return _top_level_except(vllm_models(NINTH_VLLM),
                             _names(vllm_models(VLLM), vllm_models(FRESH_VLLM), extract_wheel(*SIXTH_ENGINE)))


def seventh_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for SEVENTH_PORTS (`_named_ports`)."""
    return _named_ports(SEVENTH_PORTS, folders)


def eighth_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for EIGHTH_PORTS (`_named_ports`)."""
    return _named_ports(EIGHTH_PORTS, folders)


def independent_code(spec: tuple[tuple[str, str, str], ...], bridges: bool | None = False) -> list[Path]:
    """Model code of one of the independent sets (FRESH_, FOURTH_ … TENTH_INDEPENDENT; `corpora.model_code`): its
    Hugging Face bridges instead when `bridges` is true, every file when it is None."""
    return [p for package, version, prefix in spec for p in model_code(extract_wheel(package, version, prefix), bridges)]


def _named_ports(spec: tuple[tuple[str, str, str], ...], folders: set[str], pattern: str = "*.py") -> list[tuple[Path, str]]:
    """A file matching `pattern` whose folder, or whose stem (`models/llama.py`), is one of `folders`; files that
    are not model code (`_plumbing`) left out."""
    out: list[tuple[Path, str]] = []
    for package, version, prefix in spec:
        root = extract_wheel(package, version, prefix)
        for p in sorted(root.rglob(pattern)):
            folder = p.parent.name if p.parent != root else p.stem.lower()
            if folder in folders and not _plumbing(p.name):
                out.append((p, folder))
    return out


def eleventh_ports(folders: set[str]) -> list[tuple[Path, str]]:
    """(file, transformers folder) for ELEVENTH_PORTS: every Python file at any depth under `<prefix><folder>/` whose
    folder is one of `folders`; files that are not model code (`_plumbing`) and Triton kernels (`triton_kernel/`,
    kernels are not ports of a transformers file) left out."""
    out: list[tuple[Path, str]] = []
    for package, version, prefix in ELEVENTH_PORTS:
        root = extract_wheel(package, version, prefix)
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).parts
            if len(rel) >= 2 and rel[0] in folders and not _plumbing(p.name) and "triton_kernel" not in rel:
                out.append((p, rel[0]))
    return out
