"""On the fixture zoo: every GGUF / PyTorch copy of a model reads as the same
canonical tensors as its safetensors original (equal, or within quantisation error)."""

from __future__ import annotations

import numpy as np

from fromscratch.artifacts import open_model


def _tolerance(dtypes: set[str]) -> float:
    if dtypes & {"Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q3_K", "Q2_K", "IQ4_NL", "IQ4_XS"}:
        return 0.25
    if dtypes & {"Q8_0", "F16", "BF16"}:
        return 0.02
    return 0.0


def test_zoo_copies_read_as_their_originals(zoo):
    copies = [e for e in zoo.entries if e.relation == "identical" and e.parent]
    assert copies, "the zoo has no format/quantisation copies"
    formats = set()
    for entry in copies:
        with open_model(zoo.path(entry.name)) as copy, open_model(zoo.path(entry.parent)) as orig:
            formats.add(copy.format)
            tol = _tolerance({i.dtype for i in copy.tensor_infos()})
            ref = {(c.name, t.role, t.expert): t for c in orig.components() for t in c.tensors}
            got = {(c.name, t.role, t.expert): t for c in copy.components() for t in c.tensors}
            learned_ref = {k for k, t in ref.items() if t.learned}
            assert learned_ref <= set(got), (entry.name, sorted(learned_ref - set(got))[:5])
            for key in learned_ref:
                a, b = copy.load(got[key]), orig.load(ref[key])
                assert a.shape == b.shape, (entry.name, key)
                if tol == 0.0:
                    np.testing.assert_array_equal(a, b, err_msg=f"{entry.name} {key}")
                else:
                    rel = np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12)
                    assert rel <= tol, (entry.name, key, rel)
    assert "gguf" in formats


def test_zoo_models_have_no_unmapped_tensors(zoo):
    for entry in zoo.entries:
        with open_model(zoo.path(entry.name)) as m:
            other = [c.name for c in m.components() if c.kind == "other" and c.name not in ("pooler",)]
            assert not other, (entry.name, other)
