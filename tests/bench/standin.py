"""Small synthetic stand-ins for the real programme's benchmarks, in their published schemas.

Invented items (no real benchmark text), written as the organiser's files would
be: KMMLU as CSV with 1-based answers, CLIcK with list-valued choices, KoBEST
as one JSONL per subset, document VQA with PNG files next to the JSONL.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def png(path: Path, width: int = 4, height: int = 2, shade: int = 0) -> Path:
    """A valid greyscale PNG (stdlib only)."""
    raw = b"".join(b"\x00" + bytes([(shade + x * 40) % 256 for x in range(width)]) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def write_all(root: Path) -> dict[str, Path]:
    """Every stand-in under root; returns benchmark name -> path for ``NAME:PATH``."""
    out: dict[str, Path] = {}
    km = root / "kmmlu"
    km.mkdir(parents=True, exist_ok=True)
    (km / "Law-test.csv").write_text("question,A,B,C,D,answer,Category\n 헌법의 최고 규범성은?,가,나,다,라,2,law\n"
                                     "국회의 정원은?,100,200,300,400,3,law\n", encoding="utf-8")
    (km / "Law-dev.csv").write_text("question,A,B,C,D,answer,Category\n예시?,1,2,3,4,1,law\n", encoding="utf-8")
    out["kmmlu"] = km
    red = [{"question": "다음 중 소수는?", "options": ["4", "6", "7", "9"], "solution": 3},
           {"question": "물의 화학식은?", "options": ["H2O", "CO2", "O2", "N2", "NaCl"], "solution": 1}]
    out["kmmlu_redux"] = _jsonl(root / "kmmlu_redux" / "test.jsonl", red)
    out["kmmlu_pro"] = _jsonl(root / "kmmlu_pro" / "test.jsonl", red)
    out["haerae"] = _jsonl(root / "haerae" / "general_knowledge-test.jsonl", [
        {"query": "다음 중 한국의 수도는?\n(A) 부산 (B) 서울 (C) 대구 (D) 광주 (E) 인천\n정답:", "answer": "(B)"}])
    out["click"] = _jsonl(root / "click" / "test.jsonl", [
        {"id": "KIIP_economy_1", "paragraph": "", "question": "한국의 화폐 단위는?",
         "choices": ["원", "엔", "위안", "달러"], "answer": "원"},
        {"id": "CSAT_korean_22_1", "paragraph": "봄이 왔다.", "question": "계절은?",
         "choices": ["봄", "여름", "가을", "겨울", "없음"], "answer": "봄"}])
    kb = root / "kobest"
    _jsonl(kb / "boolq" / "test.jsonl", [{"paragraph": "하늘은 파랗다.", "question": "하늘은 파란가?", "label": 1}])
    _jsonl(kb / "copa" / "test.jsonl", [{"premise": "비가 왔다.", "question": "결과", "alternative_1": "우산을 썼다.",
                                          "alternative_2": "햇볕이 쨍쨍했다.", "label": 0}])
    _jsonl(kb / "hellaswag" / "test.jsonl", [{"context": "그는 문을 열었다.", "ending_1": "밖으로 나갔다.",
                                               "ending_2": "하늘을 날았다.", "ending_3": "물이 되었다.",
                                               "ending_4": "사라졌다.", "label": 0}])
    _jsonl(kb / "sentineg" / "test.jsonl", [{"sentence": "이 영화는 재미없지 않다.", "label": 1}])
    _jsonl(kb / "wic" / "test.jsonl", [{"word": "배", "context_1": "배가 아프다.", "context_2": "배를 먹었다.",
                                         "label": 0}])
    for sub in ("boolq", "copa", "hellaswag", "sentineg", "wic"):
        out[f"kobest_{sub}"] = kb
    vqa = root / "docvqa"
    png(vqa / "images" / "receipt-1.png", shade=10)
    png(vqa / "images" / "form-2.png", shade=90)
    out["docvqa"] = _jsonl(vqa / "test.jsonl", [
        {"id": "q1", "image": "images/receipt-1.png", "question": "What is the total?", "answers": ["12,500", "12500"]},
        {"id": "q2", "image": "images/form-2.png", "question": "Who signed the form?", "answers": ["Kim Minji"]}])
    return out
