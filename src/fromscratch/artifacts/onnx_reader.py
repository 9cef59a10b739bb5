"""ONNX initializers as named weights (optional extra ``onnx``).

Several real encoders ship only as ONNX. Exporters lose information a lineage
audit needs, and this reader recovers it from the graph (data only; nothing is
run):

- **Explicit dequantisation** (``Cast(W_q) -> [Sub(zero point)] -> Mul(scale)``,
  ``DequantizeLinear(W_q, scale, zero_point)``, or onnxruntime's dynamic
  ``MatMulInteger(x, W_quantized, ., W_zero_point)`` with ``W_scale``) is folded: the weight is
  presented once, as float values, and its scale/zero-point initializers are
  not listed separately.
- **Anonymous, transposed matmul weights** (``val_49``, ``onnx::MatMul_123``):
  a weight feeding ``MatMul`` as the right operand is stored (in, out) and is
  returned transposed to (out, in); ``Gemm`` follows its ``transB``. Its name is
  recovered from the named bias added to the product
  (``...attention.self.query.bias`` -> ``...query.weight``) or from the
  exporter's node scope (``/encoder/layer.0/attention/self/query/MatMul``);
  otherwise it stays anonymous and maps to ``other``.
- Graph constants that are not parameters (anonymous integer shape vectors,
  scalars) are left out.

External data is read only from plain file names next to the model, within
bounds; the protobuf is parsed with ``load_external_data=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import NUMPY_DTYPES, convert, numel
from fromscratch.artifacts._io import file_size, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.errors import InputError, UnsafeInputError, require

# onnx TensorProto.DataType -> our label
_ONNX_DTYPES = {1: "F32", 2: "U8", 3: "I8", 4: "U16", 5: "I16", 6: "I32", 7: "I64", 9: "BOOL", 10: "F16",
                11: "F64", 12: "U32", 13: "U64", 16: "BF16", 17: "F8_E4M3", 18: "F8_E4M3FNUZ", 19: "F8_E5M2",
                20: "F8_E5M2FNUZ"}
_ANON = re.compile(r"^(?:val_\d+|onnx::|_v_\d+|const|Constant|/|_?tmp|initializer_\d+|\d+$|arg\d+)")
_MAX_ONNX = 2 * 1024 * 1024 * 1024 + 1024 * 1024


@dataclass
class _Weight:
    name: str  # name as presented (virtual output name for folded quantised weights)
    source: str  # initializer holding the stored values
    dtype: str
    shape: tuple[int, ...]  # stored shape
    nbytes: int
    scale: str | None = None
    zero_point: str | None = None
    axis: int | None = None  # DequantizeLinear axis; None = numpy broadcasting (Cast/Mul pattern)
    transpose: bool = False


def _is_anonymous(name: str) -> bool:
    return bool(_ANON.match(name))


class OnnxReader(ModelReader):
    """Initializers of an ONNX model, dequantised and re-oriented to HF layout."""

    format = "onnx"

    def __init__(self, path: Path, *, side_dir: Path | None = None) -> None:
        super().__init__(path)
        onnx = require("onnx", "onnx")
        size = file_size(path)
        if size > _MAX_ONNX:
            raise InputError(path, f"ONNX file of {size} bytes exceeds the protobuf limit")
        try:
            self._model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - protobuf raises several types for corrupt input
            raise InputError(path, f"not a readable ONNX model ({type(exc).__name__}: {exc})"[:300]) from exc
        graph = self._model.graph
        if not graph.initializer and not graph.node:
            raise InputError(path, "not an ONNX model (empty graph)")
        self._inits = {}
        for t in graph.initializer:
            if t.name in self._inits:
                raise InputError(path, f"duplicate initializer {t.name!r}")
            self._inits[t.name] = t
        for t in graph.initializer:
            if t.data_location == 1:
                self._external(t)  # validate every external reference before anything is read
        self._side = hfdir.side_files(side_dir)
        self._config = hfdir.load_config(self._side)
        self._weights: dict[str, _Weight] = {}
        self._aliases: dict[str, str] = {}
        self._analyse()

    # -- graph analysis ------------------------------------------------
    def _label(self, t: Any) -> str | None:
        return _ONNX_DTYPES.get(int(t.data_type))

    def _stored_nbytes(self, t: Any) -> int:
        lab = self._label(t)
        return numel(tuple(t.dims)) * NUMPY_DTYPES[lab].itemsize if lab else 0

    def _analyse(self) -> None:
        """Which initializers are weights, how each is dequantised, oriented and named."""
        graph = self._model.graph
        consumers: dict[str, list[tuple[Any, int]]] = {}
        for node in graph.node:
            for i, name in enumerate(node.input):
                consumers.setdefault(name, []).append((node, i))
        hidden: set[str] = set()
        weights: dict[str, _Weight] = {}
        self._fold_dequantisation(graph, consumers, weights, hidden)
        self._fold_dynamic_int8(graph, weights, hidden)
        self._plain_initializers(weights, hidden)
        self._orient_and_name(weights, consumers)
        self._weights = weights

    def _fold_dequantisation(self, graph: Any, consumers: dict[str, list[tuple[Any, int]]],
                             weights: dict[str, _Weight], hidden: set[str]) -> None:
        """Explicit DequantizeLinear, and Cast [-> Sub zero point] -> Mul scale chains."""
        for node in graph.node:
            if node.op_type == "DequantizeLinear" and node.input and node.input[0] in self._inits:
                q = self._inits[node.input[0]]
                scale = node.input[1] if len(node.input) > 1 and node.input[1] in self._inits else None
                zp = node.input[2] if len(node.input) > 2 and node.input[2] in self._inits else None
                if scale is None or self._label(q) is None:
                    continue
                axis = 1
                for a in node.attribute:
                    if a.name == "axis":
                        axis = int(a.i)
                w = _Weight(node.output[0], q.name, self._label(q), tuple(int(d) for d in q.dims),
                            self._stored_nbytes(q), scale=scale, zero_point=zp, axis=axis)
                weights[w.name] = w
                hidden.update(x for x in (q.name, scale, zp) if x)
            elif node.op_type == "Cast" and node.input and node.input[0] in self._inits:
                q = self._inits[node.input[0]]
                lab = self._label(q)
                if lab not in {"I8", "U8", "I16", "U16", "I32"}:
                    continue
                zp = None
                out = node.output[0]
                nxt = consumers.get(out, [])
                if len(nxt) == 1 and nxt[0][0].op_type == "Sub":
                    sub = nxt[0][0]
                    other = sub.input[1 - nxt[0][1]] if len(sub.input) == 2 else None
                    if nxt[0][1] == 0 and other in self._inits:
                        zp, out = other, sub.output[0]
                        nxt = consumers.get(out, [])
                if len(nxt) == 1 and nxt[0][0].op_type == "Mul":
                    mul = nxt[0][0]
                    other = mul.input[1 - nxt[0][1]]
                    if other in self._inits and self._label(self._inits[other]) in {"F32", "F16", "BF16", "F64"}:
                        w = _Weight(mul.output[0], q.name, lab, tuple(int(d) for d in q.dims),
                                    self._stored_nbytes(q), scale=other, zero_point=zp)
                        weights[w.name] = w
                        hidden.update(x for x in (q.name, other, zp) if x)

    def _fold_dynamic_int8(self, graph: Any, weights: dict[str, _Weight], hidden: set[str]) -> None:
        """onnxruntime quantize_dynamic: W_quantized + W_scale + W_zero_point -> MatMulInteger."""
        for node in graph.node:
            if node.op_type != "MatMulInteger" or len(node.input) < 2 or node.input[1] not in self._inits:
                continue
            qname = node.input[1]
            q = self._inits[qname]
            stem = qname[: -len("_quantized")] if qname.endswith("_quantized") else qname
            scale = stem + "_scale" if stem + "_scale" in self._inits else None
            zp = node.input[3] if len(node.input) > 3 and node.input[3] in self._inits else None
            if scale is None or self._label(q) is None or qname in hidden:
                continue
            w = _Weight(qname, qname, self._label(q), tuple(int(d) for d in q.dims), self._stored_nbytes(q),
                        scale=scale, zero_point=zp, axis=1)
            weights[w.name] = w
            hidden.update(x for x in (scale, zp) if x)

    def _plain_initializers(self, weights: dict[str, _Weight], hidden: set[str]) -> None:
        for name, t in self._inits.items():
            if name in hidden or name in weights:
                continue
            lab = self._label(t)
            if lab is None:
                continue
            shape = tuple(int(d) for d in t.dims)
            n = numel(shape)
            if n <= 1:
                continue  # scalar constants of the graph
            if _is_anonymous(name) and lab not in {"F32", "F16", "BF16", "F64", "F8_E4M3", "F8_E5M2"} and len(shape) <= 1:
                continue  # shape vectors and index constants (integer matrices are kept: unscaled weights)
            weights[name] = _Weight(name, name, lab, shape, self._stored_nbytes(t))

    def _orient_and_name(self, weights: dict[str, _Weight], consumers: dict[str, list[tuple[Any, int]]]) -> None:
        """MatMul/Gemm consumers say the orientation; a bias or node scope names anonymous weights."""
        taken = {w for w in weights if not _is_anonymous(w)}
        for w in weights.values():
            uses = consumers.get(w.name, [])
            bias = None
            scope = None
            for node, idx in uses:
                if node.op_type in ("MatMul", "MatMulInteger") and idx == 1 and len(w.shape) == 2:
                    w.transpose = True
                    bias = bias or self._bias_after(node.output[0], consumers)
                    scope = scope or node.name
                elif node.op_type == "Gemm" and idx == 1 and len(w.shape) == 2:
                    trans_b = 0
                    for a in node.attribute:
                        if a.name == "transB":
                            trans_b = int(a.i)
                    w.transpose = not trans_b
                    if len(node.input) > 2 and node.input[2].endswith(".bias") and not _is_anonymous(node.input[2]):
                        bias = node.input[2]
                    scope = scope or node.name
            if not _is_anonymous(w.name):
                continue
            alias = None
            if bias is not None:
                alias = bias[: -len(".bias")] + ".weight"
            elif scope and scope.startswith("/") and scope.count("/") >= 2:
                parts = [p for p in scope.strip("/").split("/")[:-1] if p]
                if parts:
                    alias = ".".join(parts) + ".weight"
            if alias and alias not in taken:
                self._aliases[w.name] = alias
                taken.add(alias)

    def _bias_after(self, out: str, consumers: dict[str, list[tuple[Any, int]]]) -> str | None:
        """The named bias added to a matmul's product, a few elementwise steps downstream."""
        frontier = [out]
        for _ in range(4):
            nxt_frontier = []
            for name in frontier:
                for node, _idx in consumers.get(name, []):
                    if node.op_type == "Add":
                        for inp in node.input:
                            if inp in self._inits and inp.endswith(".bias") and not _is_anonymous(inp):
                                return inp
                    if node.op_type in ("Cast", "Mul", "Add"):
                        nxt_frontier.extend(node.output)
            frontier = nxt_frontier
        return None

    # -- data ----------------------------------------------------------
    def _external(self, t: Any) -> tuple[Path, int, int]:
        """Validate one external-data reference: a plain file next to the model, in bounds."""
        name = t.name
        lab = self._label(t)
        if lab is None:
            raise InputError(self.path, f"initializer {name!r}: unsupported data type {t.data_type}")
        expected = numel(tuple(int(d) for d in t.dims)) * NUMPY_DTYPES[lab].itemsize
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if (not loc or loc.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", loc) or ":" in loc
                or "\x00" in loc):
            raise UnsafeInputError(self.path, f"initializer {name!r}: unsafe external data location {loc!r}")
        target = self.path.parent / loc
        try:
            off = int(info.get("offset", "0"))
            length = int(info.get("length", str(expected)))
        except ValueError as exc:
            raise InputError(self.path, f"initializer {name!r}: bad external data offset/length") from exc
        if length != expected or off < 0:
            raise InputError(self.path, f"initializer {name!r}: external length {length} != {expected}")
        if not target.is_file():
            raise InputError(self.path, f"initializer {name!r}: external data file {loc!r} is missing")
        if off + length > file_size(target):
            raise InputError(self.path, f"initializer {name!r}: external data [{off}, {off + length}] "
                                        f"beyond the end of {loc!r}")
        return target, off, length

    def _array(self, name: str) -> np.ndarray:
        """Raw stored values of one initializer (internal or external data)."""
        t = self._inits[name]
        lab = self._label(t)
        if lab is None:
            raise InputError(self.path, f"initializer {name!r}: unsupported data type {t.data_type}")
        dt = NUMPY_DTYPES[lab]
        shape = tuple(int(d) for d in t.dims)
        expected = numel(shape) * dt.itemsize
        if t.data_location == 1:  # EXTERNAL
            target, off, length = self._external(t)
            return with_range(target, off, length, lambda b: convert(b.view(dt).reshape(shape), None))
        if t.raw_data:
            raw = t.raw_data
            if len(raw) != expected:
                raise InputError(self.path, f"initializer {name!r}: {len(raw)} bytes for {lab} {list(shape)} "
                                            f"(expected {expected})")
            return np.frombuffer(raw, dtype=dt.newbyteorder("<") if dt.itemsize > 1 else dt).reshape(shape).copy()
        from onnx import numpy_helper

        try:
            arr = numpy_helper.to_array(t)
        except Exception as exc:  # noqa: BLE001
            raise InputError(self.path, f"initializer {name!r}: unreadable data ({exc})") from exc
        if arr.size != numel(shape):
            raise InputError(self.path, f"initializer {name!r}: {arr.size} values for shape {list(shape)}")
        return np.asarray(arr).reshape(shape)

    def tensor_infos(self) -> list[TensorInfo]:
        out = []
        for w in self._weights.values():
            shape = tuple(reversed(w.shape)) if w.transpose else w.shape
            out.append(TensorInfo(w.name, shape, w.dtype, w.nbytes))
        return out

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        w = self._weights.get(name)
        if w is None:
            raise KeyError(name)
        arr = self._array(w.source)
        if w.scale is not None:
            vals = arr.astype(np.float32)
            zp = self._array(w.zero_point).astype(np.float32) if w.zero_point else None
            scale = self._array(w.scale).astype(np.float32)
            try:
                if w.axis is not None and scale.ndim == 1 and scale.size > 1:
                    ax = w.axis % vals.ndim
                    bshape = [1] * vals.ndim
                    bshape[ax] = scale.size
                    scale = scale.reshape(bshape)
                    if zp is not None:
                        zp = zp.reshape(bshape)
                if zp is not None:
                    vals = vals - zp
                arr = vals * scale
            except ValueError as exc:
                raise InputError(self.path, f"weight {name!r}: scale/zero point do not fit ({exc})") from exc
            if arr.shape != w.shape:
                raise InputError(self.path, f"weight {name!r}: scale broadcast changes its shape")
            arr = arr.astype(np.float32 if dtype is None else dtype, copy=False)
        if w.transpose:
            arr = arr.T
        return convert(arr, dtype)

    def name_aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    @property
    def metadata(self) -> dict[str, Any]:
        m = self._model
        out: dict[str, Any] = {
            "producer_name": m.producer_name, "producer_version": m.producer_version,
            "ir_version": int(m.ir_version), "opset": {o.domain or "ai.onnx": int(o.version) for o in m.opset_import},
            "initializers": len(self._inits), "nodes": len(m.graph.node),
            "recovered_names": len(self._aliases),
        }
        if m.metadata_props:
            out["metadata_props"] = {p.key: p.value for p in m.metadata_props}
        return out

    @property
    def claims(self) -> dict[str, Any]:
        m = self._model
        claims: dict[str, Any] = {}
        for key in ("producer_name", "producer_version", "domain", "doc_string"):
            v = getattr(m, key)
            if v:
                claims[f"onnx.{key}"] = v[:500]
        if m.model_version:
            claims["onnx.model_version"] = int(m.model_version)
        for p in m.metadata_props:
            claims[f"onnx.metadata.{p.key}"] = p.value[:500]
        claims.update(hfdir.hf_claims(self._side, self._config))
        return claims
