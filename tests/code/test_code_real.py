"""Real-corpus checks of the code-reuse detector (transformers / vLLM wheels from PyPI).

The full-set figures come from benchmarks/bench_code_*.py (docs/code.md); these
tests assert the same thresholds on a fixed sample so they stay within a minute
or two once the corpus index is cached (the first run downloads the wheel and
fingerprints the corpus once).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fromscratch.code import corpora, evaluate
from fromscratch.code.api import T_UNIT_COPY
from fromscratch.code.index import index_from_sources, load_index, save_index
from fromscratch.code.lang import PythonLanguage
from fromscratch.code.score import query
from obfuscate import disguise

pytestmark = [pytest.mark.real, pytest.mark.slow]

_CODE_FILES = ("lang.py", "lang_c.py", "pytokens.py", "fingerprint.py", "index.py", "score.py", "port.py", "evaluate.py")


def _code_version() -> str:
    """Hash of the detector's sources: a cached index is rebuilt whenever the method changes."""
    root = Path(corpora.__file__).parent
    h = hashlib.sha256()
    for name in _CODE_FILES:
        h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def tf_corpus():
    try:
        models = corpora.transformers_models(corpora.TRANSFORMERS_COPIES)
    except corpora.CorpusUnavailable as exc:
        pytest.skip(f"transformers wheel unavailable: {exc}")
    cache = corpora.cache_dir() / "code-corpora" / f"tf{corpora.TRANSFORMERS_COPIES}-{_code_version()}"
    cache.mkdir(parents=True, exist_ok=True)
    idx_path, pairs_path = cache / "index.npz", cache / "pairs.json"
    if idx_path.exists() and pairs_path.exists():
        return models, load_index(idx_path), [evaluate.LabelledPair(**p) for p in json.loads(pairs_path.read_text())]
    parsed = evaluate.parse_models(models)
    idx = index_from_sources([(f"transformers/{k}", v) for k, v in parsed.items()], null_size=0)
    pairs = evaluate.labelled_pairs(models, parsed, limit=150)
    save_index(idx, idx_path)
    pairs_path.write_text(json.dumps([p.__dict__ for p in pairs]))
    return models, idx, pairs


def test_copied_from_pairs_auc_fpr_recall(tf_corpus):
    models, idx, pairs = tf_corpus
    lang = PythonLanguage()
    needed = sorted({p.target_file for p in pairs})
    parsed = {f: lang.parse(f, corpora.strip_copy_annotations((models / f).read_text(encoding="utf-8")))
              for f in needed}
    s = evaluate.pair_scores(idx, "transformers", parsed, pairs)["score"]
    y = np.array([p.label for p in pairs])
    # undeclared near-copies (normalised tokens >= 90 % alike) are not independent negatives
    keep = np.array([not p.near_duplicate for p in pairs])
    s, y = s[keep], y[keep]
    assert y.sum() >= 100 and (y == 0).sum() >= 100
    assert evaluate.auc(s, y) >= 0.999
    assert (s[y == 1] >= T_UNIT_COPY).mean() >= 0.99
    assert (s[y == 0] >= T_UNIT_COPY).mean() <= 0.01


def test_disguised_real_model_files_rank_first(tf_corpus):
    models, idx, _ = tf_corpus
    names = sorted((f for f in idx.files if "/modeling_tf_" not in f and "/modeling_flax_" not in f),
                   key=lambda k: hashlib.blake2b(k.encode(), digest_size=8).digest())[:12]
    lang = PythonLanguage()
    for i, name in enumerate(names):
        rel = name.split("/", 1)[1]
        text = disguise((models / rel).read_text(encoding="utf-8"), seed=i)
        q = query(idx, lang.parse("candidate.py", text))
        fid = idx.files.index(name)
        assert q.rank[fid] >= q.rank.max() - 1e-12, (name, idx.files[int(np.argmax(q.rank))])


@pytest.fixture(scope="session")
def ggml_index():
    from fromscratch.code.sources import Skipped, read_source

    try:
        refs = corpora.ggml_kernels()
    except corpora.CorpusUnavailable as exc:
        pytest.skip(f"llama-cpp-python sdist unavailable: {exc}")
    root = refs[0].parents[1]
    cache = corpora.cache_dir() / "code-corpora" / f"ggml{corpora.LLAMA_CPP_PYTHON}-{_code_version()}.npz"
    if cache.exists():
        return root, refs, load_index(cache)
    parsed = []
    for p in refs:
        r = read_source(p.relative_to(root).as_posix(), p)
        if not isinstance(r, Skipped) and r.units:
            parsed.append((f"ggml/{p.relative_to(root).as_posix()}", r))
    idx = index_from_sources(parsed)
    save_index(idx, cache)
    return root, refs, idx


def test_disguised_ggml_kernels_are_copied_from_their_source(ggml_index, tmp_path):
    from fromscratch.code.api import analyse
    from obfuscate_c import disguise_c

    root, refs, idx = ggml_index
    big = [p for p in refs if p.read_text(encoding="utf-8", errors="replace").count("\n") >= 40]
    sample = sorted(big, key=lambda p: hashlib.blake2b(p.name.encode(), digest_size=8).digest())[:10]
    for i, p in enumerate(sample):
        cand = tmp_path / f"c{i}{p.suffix}"
        cand.write_text(disguise_c(p.name, p.read_text(encoding="utf-8"), seed=i))
        f = analyse(cand, [], indices=[idx])["files"][0]
        name = f"ggml/{p.relative_to(root).as_posix()}"
        assert f["origins"][:1] == [name] and len(f["origins"]) <= 2, (name, f["origins"])


def test_independent_kernels_are_not_flagged(ggml_index):
    from fromscratch.code.api import analyse

    try:
        cands = corpora.independent_kernels()
    except corpora.CorpusUnavailable as exc:
        pytest.skip(f"xformers sdist unavailable: {exc}")
    _, _, idx = ggml_index
    for p in cands[::4]:
        f = analyse(p, [], indices=[idx])["files"][0]
        assert f["relation"] == "independent", (p, f["origins"])
