"""C, C++ and CUDA through Pygments; Triton's kernel operations in Python token streams."""

from __future__ import annotations

from pathlib import Path

from fromscratch.code.api import analyse
from fromscratch.code.lang import PythonLanguage, language_for
from fromscratch.code.lang_c import CLanguage
from obfuscate_c import disguise_c

DATA = Path(__file__).parent / "data"
KERNELS = DATA / "kernels"
C = CLanguage()


def test_c_family_files_get_the_c_language():
    for name in ("a.cu", "a.cuh", "a.cpp", "a.h", "a.c", "a.hpp"):
        assert isinstance(language_for(name), CLanguage)
    assert isinstance(language_for("a.py"), PythonLanguage)


def test_units_are_functions_methods_and_struct_bodies():
    sf = C.parse("softmax.cu", (KERNELS / "softmax.cu").read_text())
    names = [u.name for u in sf.units]
    assert {"warp_max", "warp_sum", "softmax_rows_f32", "softmax_rows_cuda"} <= set(names)
    kernel = next(u for u in sf.units if u.name == "softmax_rows_f32")
    lines = (KERNELS / "softmax.cu").read_text().splitlines()
    assert lines[kernel.start - 1].startswith("template") and lines[kernel.end - 1] == "}"
    gemm = C.parse("gemm.cpp", (KERNELS / "gemm.cpp").read_text())
    gnames = {u.name: u.kind for u in gemm.units}
    assert gnames["gemm_blocked"] == "function" and gnames["Tile"] == "class" and gnames["Tile.at"] == "method"


def test_normalisation_masks_names_keeps_intrinsics_and_drops_comments_and_directives():
    sf = C.parse("softmax.cu", (KERNELS / "softmax.cu").read_text())
    toks = [t for u in sf.units for t in u.masked]
    raw = [t for u in sf.units for t in u.raw]
    assert "__shfl_xor_sync" in toks and "threadIdx" in toks and "expf" in toks and "fmaxf" in toks
    assert "softmax_rows_f32" not in toks and "N" in toks  # own names are masked
    assert not any(t.startswith(("//", "#")) for t in raw) and "WARP_SIZE" in raw  # a macro's use stays
    kernel = next(u for u in sf.units if u.name == "softmax_rows_f32")
    assert "c1:expf" in kernel.struct and "i:ncols" in kernel.idents


def test_disguised_kernel_copies_rank_first_and_are_copied(tmp_path):
    for i, name in enumerate(("softmax.cu", "rmsnorm.cu", "gemm.cpp")):
        text = (KERNELS / name).read_text()
        cand = tmp_path / f"c{i}{Path(name).suffix}"
        cand.write_text(disguise_c(name, text, seed=i))
        assert "//" not in cand.read_text()
        f = analyse(cand, [KERNELS])["files"][0]
        assert f["ranking"][0]["reference_file"] == f"kernels/{name}"
        assert f["relation"] == "copied" and f["origins"] == [f"kernels/{name}"]
        assert f["attribution"]["attributed"] is False  # the disguise dropped the header


def test_a_copied_kernel_that_keeps_its_header_is_attributed(tmp_path):
    text = (KERNELS / "rmsnorm.cu").read_text()
    header = "".join(text.splitlines(keepends=True)[:2])
    cand = tmp_path / "norm.cu"
    cand.write_text(disguise_c("rmsnorm.cu", text, seed=7) + "\n" + header)  # moved to the end
    f = analyse(cand, [KERNELS])["files"][0]
    assert f["origins"] == ["kernels/rmsnorm.cu"] and f["attribution"]["attributed"] is True
    assert f["attribution"]["licence"] == "Apache-2.0"


def test_an_independent_kernel_for_the_same_operation_is_independent():
    f = analyse(DATA / "layernorm_own.cu", [KERNELS])["files"][0]
    assert f["relation"] == "independent" and f["origins"] == []


def test_triton_operations_stay_spelled_out():
    src = ("import triton\nimport triton.language as tl\n\n@triton.jit\ndef k(x_ptr, n, BLOCK: tl.constexpr):\n"
           "    pid = tl.program_id(0)\n    offs = pid * BLOCK + tl.arange(0, BLOCK)\n"
           "    x = tl.load(x_ptr + offs, mask=offs < n)\n    tl.store(x_ptr + offs, x * x, mask=offs < n)\n")
    u = next(u for u in PythonLanguage().parse("k.py", src).units if u.name == "k")
    assert {"tl", "load", "store", "program_id", "arange"} <= set(u.masked)
    assert "x_ptr" not in u.masked and "offs" not in u.masked


def test_only_the_first_branch_of_a_preprocessor_conditional_is_read():
    """Branches that each open a brace would otherwise unbalance the file: one unit would swallow the rest."""
    text = ("#if defined(FAST)\nvoid f(int n) {\n  if (n > 1) {\n#else\nvoid f(int n) {\n  if (n > 2) {\n#endif\n"
            "    n += 1;\n  }\n}\n\nint g(int m) {\n  return m * 2;\n}\n")
    sf = C.parse("a.cpp", text)
    assert [u.name for u in sf.units] == ["f", "g"]
    assert sf.units[1].start == 12
