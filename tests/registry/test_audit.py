"""``audit --registry``: registered models the pre-filter passes become references, corrected for all."""

from __future__ import annotations

import json


def test_audit_with_registry(zoo, zoo_fp, tmp_path, capsys):
    from fromscratch.cli import main
    from fromscratch.registry.store import Registry

    with Registry(tmp_path / "reg") as reg:
        for n in ("llama-s0", "llama-s1", "bert-s0"):
            reg.put(n, zoo_fp(n), digest=f"zoo:{n}", source=str(zoo.path(n)))
        reg.put("gone", zoo_fp("llama-s2"), digest="zoo:gone", source=str(tmp_path / "deleted"))
    rc = main(["audit", str(zoo.path("llama-s0-ft")), "--registry", str(tmp_path / "reg"), "--json", "-"])
    assert rc == 0
    captured = capsys.readouterr()
    obj = json.loads(captured.out)
    labels = {r["label"]: r for r in obj["references"]}
    assert labels["llama-s0"]["verdict"] == "derived"
    assert "bert-s0" not in labels  # passed over by the pre-filter
    assert all("x4 over references" in r["multiple_comparisons"] for r in obj["references"])
    assert all(r["verdict"] != "derived" for name, r in labels.items() if name != "llama-s0")
