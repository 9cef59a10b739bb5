"""The round report: bilingual, self-contained, escaped, and it renders in a headless browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from fromscratch.report import render_report
from fromscratch.round.sensitivity import sensitivity_map

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.generators import decide_synthetic as s
    from fromscratch.decide.api import decide

    d = tmp_path_factory.mktemp("dec")
    teams = ["alpha", "beta", "gamma", HOSTILE]
    acc = {t: {"kb1": 0.45 + 0.1 * i, "kb2": 0.5 + 0.05 * i, "p1": 0.5, "p2": 0.55} for i, t in enumerate(teams)}
    s.write_jsonl(s.make_results(acc, items=40), d / "results.jsonl")
    s.write_jsonl(s.make_human({"expert": {t: 0.6 + 0.03 * i for i, t in enumerate(teams)}}), d / "human.jsonl")
    picks = "\n".join(f'"{t}" = ["p1"]' if i % 2 else f'"{t}" = ["p2"]' for i, t in enumerate(teams))
    (d / "protocol.toml").write_text(f"""name = "r"\nseed = 1\nresamples = 200\nweight_samples = 500
[pillars]\ncommon = 40\nindividual = 10\nexpert = 35
[benchmarks]\nkb1 = "common"\nkb2 = "common"
[choices]\npillar = "individual"\n{picks}\n""")
    decision = decide(d / "protocol.toml", d / "results.jsonl", d / "human.jsonl")
    comps = [{"name": n, "kind": k, "layer": None, "reference_name": n, "reference_layer": None,
              "relation": r, "basis": None, "p_value": p, "similarity": sim, "parameters": 100}
             for n, k, r, p, sim in [("embed_tokens", "embedding", "independent", 0.7, 0.01),
                                     ("vision.layers.0.attention", "attention", "derived", 1e-12, 0.93),
                                     ("vision.layers.0.mlp", "mlp", "derived", 1e-9, 0.9),
                                     ("layers.0.mlp", "mlp", "inconclusive", 0.2, 0.1)]]
    audit = {"schema": "fromscratch.audit/1", "verdict": "violation", "lineage_verdict": "derived",
             "verdicts": [{"component": "vision-encoder", "verdict": "violation", "rule": "must-be-independent",
                           "evidence": []}],
             "references": [{"label": "open-encoder", "reference": {"path": "/x"}, "verdict": "derived",
                             "p_value": 1e-12, "shared_parameter_fraction": 0.31, "coverage": 0.97,
                             "components": comps}],
             "code": {"files": [{"file": "netllm/attn.py", "ranking": [], "relation": "copied",
                                 "origins": ["openinfer/attention.py"],
                                 "attribution": {"licence": None, "copyright": [], "mentions": [], "attributed": False}}],
                      "matches": [{"candidate_file": "netllm/attn.py", "candidate_lines": [1, 60],
                                   "reference_file": "openinfer/attention.py", "reference_lines": [8, 70],
                                   "score": 0.94, "kind": "renamed"}]}}
    audit["evidence_strength"] = "lineage-only"
    audit["chain"] = {"schema": "fromscratch.chain/1", "verdict": "invalid", "checkpoints": ["/c0", "/c1", "/c2"],
                      "init": {"fresh": False, "p_value": 0.0, "findings": [f"embed_tokens/weight: {HOSTILE}"]},
                      "steps": [{"from": 0, "to": 1, "relation": "derived", "change": 0.2427, "flag": None,
                                 "trend_ratio": None, "aligned_tensors": 16, "tested_tensors": 16},
                                {"from": 1, "to": 2, "relation": "independent", "change": 1.41, "flag": "jump",
                                 "trend_ratio": 5.5, "aligned_tensors": 0, "tested_tensors": 16}],
                      "submission": {"relation": "identical", "note": ""},
                      "failures": [{"step": 0, "check": "init", "detail": "CKPT_0 is not a fresh initialisation"},
                                   {"step": 2, "check": "continuity", "detail": f"jump {HOSTILE}"}],
                      "first_failure": {"step": 0, "check": "init", "detail": "CKPT_0 is not a fresh initialisation"}}
    return {"name": "test round", "stages": {"audit": {"status": "done"}, "bench": {"status": "done"}},
            "decision": decision, "sensitivity": sensitivity_map(decision), "audits": {"gamma": audit},
            "bench": {"summary": [{"team": "alpha", "benchmark": "kb1", "n": 40, "mean": 0.475}]},
            "seal": {"sha256": decision["protocol_sha256"]}}


def test_report_content_escaping_and_self_containment(data):
    html = render_report(data)
    assert HOSTILE not in html and "&lt;img src=x" in html  # autoescaped everywhere, SVG included
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external resource referenced"
    assert "<script" not in html
    for ko, en in [("결정", "Decision"), ("탈락 확률", "Elimination probabilities"),
                   ("가중치 민감도 지도", "Weight-sensitivity map"), ("자기선택", "Self-selected"),
                   ("독창성 감사", "Originality audits")]:
        assert f'<span lang="ko">{ko}' in html and f'<span lang="en">{en}' in html
    dec = data["decision"]
    # numbers on the page are the JSON's, formatted
    for t in dec["teams"]:
        assert f"{t['total']:.2f}" in html
    assert dec["robustness"]["statement"].split(":")[0] in html
    assert "netllm/attn.py:1–60" in html and "openinfer/attention.py:8–70" in html
    assert html.count("<svg") >= 4
    # the sensitivity map agrees with the decision at the official weights
    assert data["sensitivity"]["official"] in (dec["eliminated_on_score"] or [None])


def test_report_shows_the_chain_result(data):
    """A team's checkpoint chain: verdict, evidence strength, first failing step and why, every step."""
    html = render_report(data)
    assert "Training checkpoint chain" in html and "lineage-only" in html
    assert re.search(r"First failing step</span>: <strong>0</strong> \(init\): CKPT_0 is not a fresh", html)
    assert "jump &lt;img src=x" in html and "embed_tokens/weight: &lt;img" in html  # details stay escaped
    assert "<td>1 → 2</td><td>independent</td>" in html and 'data-json="/audits/gamma/chain/steps/1/change"' in html


def _png_size_and_variance(path: Path) -> tuple[int, int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", raw[16:24])
    idat, pos = b"", 8
    while pos < len(raw):
        n = struct.unpack(">I", raw[pos:pos + 4])[0]
        if raw[pos + 4:pos + 8] == b"IDAT":
            idat += raw[pos + 8:pos + 8 + n]
        pos += 12 + n
    pixels = zlib.decompress(idat)
    return w, h, len(set(pixels[: 200_000]))


@pytest.mark.browser
def test_report_renders_in_headless_chromium_offline(data, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("chromium not installed")
    page = tmp_path / "index.html"
    page.write_text(render_report(data), encoding="utf-8")
    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run",
           "--hide-scrollbars", "--window-size=1000,2400", f"--screenshot={shot}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, timeout=90)
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    w, h, distinct = _png_size_and_variance(shot)
    assert (w, h) == (1000, 2400)
    assert distinct > 20  # text and charts drawn, not a blank page
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                          "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", page.as_uri()],
                         capture_output=True, timeout=90)
    text = dom.stdout.decode("utf-8", errors="replace")
    assert "가중치 민감도 지도" in text and "<svg" in text


def test_counterfactual_table_and_timeline_rows_come_from_the_json(data):
    import html as H

    decision = data["decision"]
    rows = decision["counterfactuals"]
    assert rows
    timeline = {"commitment": "c" * 64, "deadline": "2099-01-01T00:00:00+09:00", "opened": "2026-01-01T00:00:00Z",
                "events": [{"event": "open", "time": "2026-01-01T00:00:00Z", "hash": "c" * 64},
                           {"event": "submission", "time": "2026-01-02T00:00:00Z", "team": HOSTILE, "n": 1,
                            "model_sha256": "ab" * 32, "revealed": True, "hash": "d" * 64}]}
    page = render_report(dict(data, timeline=timeline, head_before="d" * 64))
    section = page[page.index("Under other rules"):page.index("Self-selected benchmarks")]
    table = re.findall(r"<tr><td[^>]*>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", section, re.S)
    assert len(table) == 1 + len(rows)  # the official rule, then one row per counterfactual, in JSON order
    for (change, elim, same), row in zip(table[1:], rows):
        assert f'<span lang="ko">{H.escape(row["change_ko"])}</span><span lang="en">{H.escape(row["change"])}</span>' == change
        assert elim == (H.escape(", ".join(row["eliminated"])) or "–")
        assert ("yes" in same) == row["same_decision"]
    tl = page[page.index("Round timeline"):]
    assert "c" * 64 in tl and "d" * 64 in tl and "2099-01-01T00:00:00+09:00" in tl
    assert HOSTILE not in page and H.escape(HOSTILE) in tl  # team names stay escaped there too

_SPAN = re.compile(r'<span data-json="([^"]*)" data-fmt="([^"]*)">([^<]*)</span>')


def _resolve(doc, pointer: str):
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def test_every_shown_figure_is_tied_to_its_json_pointer(data):
    """Each formatted figure names the JSON value it shows; re-formatting that value gives the text."""
    import html as htmllib

    from fromscratch.report.templating import FILTERS

    page = render_report(data)
    spans = [(htmllib.unescape(p), f, t) for p, f, t in _SPAN.findall(page)]
    by_name = {f.__name__: f for f in FILTERS.values()}
    for pointer, fmt, text in spans:
        name, *args = fmt.split(",")
        assert by_name[name](_resolve(data, pointer), *map(int, args)) == htmllib.unescape(text), pointer
    shown = {p for p, _, _ in spans}
    for i, _team in enumerate(data["decision"]["teams"]):
        assert {f"/decision/teams/{i}/{k}" for k in ("total", "p_eliminated", "selection_advantage")} <= shown
        assert {f"/decision/teams/{i}/ci/0", f"/decision/teams/{i}/ci/1"} <= shown
    if data["decision"]["robustness"]["min_weight_change_to_flip"] is not None:
        assert "/decision/robustness/min_weight_change_to_flip" in shown
    assert {"/decision/robustness/p_same_decision",
            "/audits/gamma/references/0/p_value", "/audits/gamma/references/0/coverage",
            "/bench/summary/0/mean", "/audits/gamma/code/matches/0/score"} <= shown
    # no decimal figure in a table cell that is not tied to the JSON (the counterfactual
    # table's labels are JSON strings, tied row by row in the counterfactual test)
    cf_start = page.index("Under other rules")
    rest = page[:cf_start] + page[page.index("Self-selected benchmarks", cf_start):]
    for cell in re.findall(r"<td[^>]*>(.*?)</td>", rest, flags=re.S):
        assert not re.search(r"\d\.\d", _SPAN.sub("", cell)), cell
