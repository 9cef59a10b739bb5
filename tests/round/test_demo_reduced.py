"""The demo round, reduced (six items per benchmark, fewer resamples), in the default test run.

It runs the demo's own inputs (seven teams on the fixture zoo and the chain material, their
code, declarations, checkpoint chains and references) through the demo's lifecycle (`round open`, one `round submit` per team,
`round run DIR`) with a cold stage cache, then checks the folder with `verify`
and every JSON it wrote against the committed schemas, so a broken demo fails CI.
"""

from __future__ import annotations

import json
import re


from fromscratch.cli import main
from fromscratch.round.demo import CHAINS, COMMON, TEAMS, chain_material, submissions, write_inputs

ITEMS = 6


def _reduce(round_file, where) -> None:
    from fromscratch.bench.packs import pack_path

    names = sorted(set(COMMON) | {b for _, picks in TEAMS.values() for b in picks})
    text = round_file.read_text(encoding="utf-8")
    for name in names:
        src = pack_path(name).parent
        dst = where / "tasks" / name
        dst.mkdir(parents=True)
        rows = (src / "test.jsonl").read_text(encoding="utf-8").splitlines()[:ITEMS]
        (dst / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (dst / "task.yaml").write_text((src / "task.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        text, n = re.subn(rf'^{re.escape(name)} = "{re.escape(name)}"$', f'{name} = "tasks/{name}"', text,
                          flags=re.M)
        assert n == 1, name
    round_file.write_text(text, encoding="utf-8")
    proto = where / "protocol.toml"
    proto.write_text(proto.read_text().replace("resamples = 2000", "resamples = 200")
                     .replace("weight_samples = 5000", "weight_samples = 500"), encoding="utf-8")


def test_reduced_demo_runs_verifies_and_matches_its_schemas(zoo, tmp_path, monkeypatch, capsys):
    from tests.schemas.schemacheck import check

    chains = chain_material()  # built (or loaded) in the shared cache before the cold one is set
    where = tmp_path / "inputs"
    round_file = write_inputs(zoo, where, chains=chains)
    _reduce(round_file, where)
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))  # cold stage cache; the zoo is resolved
    out = tmp_path / "demo"
    key = str(tmp_path / "k.pem")
    assert main(["round", "open", str(round_file), "--out", str(out), "--key", key]) == 0
    for team, args in submissions(zoo, where, chains).items():
        argv = ["round", "submit", str(out), "--team", team, "--key", key]
        for flag in ("model", "code", "bom", "reveal"):
            if args.get(flag):
                argv += [f"--{flag}", args[flag]]
        for ckpt in args["chain"]:
            argv += ["--chain", ckpt]
        for opt in args["chain_init"]:
            argv += ["--chain-init", opt]
        assert main(argv) == 0, team
    assert main(["round", "run", str(out), "--key", key]) == 0
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()
    decision = json.loads((out / "decision.json").read_text())
    check(decision)
    assert len(decision["teams"]) == len(TEAMS) and decision["eliminated"]
    verdicts = json.loads((out / "verdicts.json").read_text())
    check(verdicts, "round-verdicts")
    # the demo's planted problems are caught: the copied vision encoder and the unattributed code
    assert verdicts["set"] == "violation" and verdicts["net"] == "violation"
    assert verdicts["hana"] == "compliant"
    _check_chain_teams(out, verdicts)
    for team in TEAMS:
        check(json.loads((out / "audits" / f"{team}.json").read_text()))
    for name in ("bench.json", "sensitivity.json", "protocol.seal.json"):
        check(json.loads((out / name).read_text()))
    for line in (out / "ledger.jsonl").read_text().splitlines():
        check(json.loads(line), "ledger-entry")
    rows = (out / "results.jsonl").read_text().splitlines()
    assert len(rows) == len(TEAMS) * len(set(COMMON) | {b for _, p in TEAMS.values() for b in p}) * ITEMS
    for line in rows[:50]:
        check(json.loads(line), "result-row")


def _check_chain_teams(out, verdicts) -> None:
    """One team with a valid chain, one with a forged one: the audit, the verdict and the page show both."""
    good_team, bad_team = (next(t for t, k in CHAINS.items() if k == kind) for kind in ("genuine", "forged"))
    good, bad = (json.loads((out / "audits" / f"{t}.json").read_text()) for t in (good_team, bad_team))
    assert good["chain"]["verdict"] == "valid" and good["chain"]["submission"]["relation"] == "identical"
    assert verdicts[good_team] == "compliant" and good["evidence_strength"] == "chain-verified"
    # the forged "init" (a reference, rows and columns shuffled) escapes weight lineage; the chain does not
    assert bad["lineage_verdict"] == "independent"
    assert bad["chain"]["verdict"] == "invalid" and not bad["chain"]["init"]["fresh"]
    assert (bad["chain"]["first_failure"]["step"], bad["chain"]["first_failure"]["check"]) == (0, "init")
    row = next(v for v in bad["verdicts"] if v["component"] == "chain")
    assert row["verdict"] == "needs-review" and row["failing_step"] == 0 and "fails at step 0 (init)" in row["reason"]
    assert verdicts[bad_team] == "needs-review" and bad["evidence_strength"] == "lineage-only"
    page = (out / "index.html").read_text()
    assert page.count("Training checkpoint chain") == 2 and page.count("First failing step") == 1
    assert "chain-verified" in page
