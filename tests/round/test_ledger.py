"""The ledger: every changed byte, missing, extra file, broken chain or forged signature is caught."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fromscratch.cli import main
from fromscratch.errors import InputError
from fromscratch.round import ledger as L
from fromscratch.round.keys import load_or_create


def _folder(tmp_path, key):
    out = tmp_path / "round"
    (out / "audits").mkdir(parents=True)
    (out / "summary.json").write_text('{"eliminated": ["x"]}\n')
    (out / "audits" / "a.json").write_text('{"verdict": "compliant"}\n')
    (out / "index.html").write_text("<html>결정</html>\n", encoding="utf-8")
    body = [{"kind": "run", "round": "t"}, {"kind": "input", "role": "model", "team": "a", "sha256": "0" * 64}]
    body += [{"kind": "output", **r} for r in L.list_outputs(out)]
    assert L.append_section(out, body, key)
    return out, body


def test_clean_folder_verifies_and_unchanged_rerun_appends_nothing(tmp_path):
    key = Ed25519PrivateKey.generate()
    out, body = _folder(tmp_path, key)
    problems, facts = L.verify_dir(out)
    assert problems == [] and facts["files"] == 3
    before = (out / L.LEDGER).read_bytes()
    assert not L.append_section(out, body, key)
    assert (out / L.LEDGER).read_bytes() == before
    # a changed output gives a new, signed section; the folder still verifies
    (out / "index.html").write_text("<html>v2</html>\n")
    body2 = body[:2] + [{"kind": "output", **r} for r in L.list_outputs(out)]
    assert L.append_section(out, body2, key)
    assert L.verify_dir(out)[0] == []
    entries, _ = L.read_entries(out / L.LEDGER)
    assert [e["run"] for e in entries if e["kind"] == "run"] == [1, 2]


def test_every_byte_of_every_ledger_line_and_output_matters(tmp_path):
    key = Ed25519PrivateKey.generate()
    out, _ = _folder(tmp_path, key)
    files = [out / L.LEDGER] + [out / r["path"] for r in L.list_outputs(out)]
    for f in files:
        original = f.read_bytes()
        positions = range(len(original))  # every byte, the ledger's included
        for pos in positions:
            if original[pos:pos + 1] == b"\n" and f.name == L.LEDGER:
                continue
            changed = bytearray(original)
            changed[pos] ^= 0x01
            f.write_bytes(bytes(changed))
            problems, _ = L.verify_dir(out)
            assert problems, f"{f.name} byte {pos} changed but not detected"
        f.write_bytes(original)
    assert L.verify_dir(out)[0] == []


def test_missing_extra_unsigned_and_forged(tmp_path):
    key = Ed25519PrivateKey.generate()
    out, body = _folder(tmp_path, key)
    (out / "audits" / "a.json").unlink()
    (out / "notes.txt").write_text("added later")
    problems, _ = L.verify_dir(out)
    assert "audits/a.json: missing" in problems
    assert "notes.txt: extra file not in the ledger" in problems
    # an entry appended without a signature
    out2, _ = _folder(tmp_path / "b", key)
    entries, _ = L.read_entries(out2 / L.LEDGER)
    extra = {"kind": "output", "path": "x", "bytes": 0, "sha256": "0", "seq": len(entries), "prev": entries[-1]["hash"]}
    extra["hash"] = L.entry_hash(extra)
    with (out2 / L.LEDGER).open("ab") as fh:
        fh.write(L.canonical(extra) + b"\n")
    assert any("not a signed head" in p for p in L.verify_dir(out2)[0])
    # a forger re-signs everything with their own key: verifies only without a pinned key
    out3, body3 = _folder(tmp_path / "c", key)
    (out3 / L.LEDGER).unlink()
    forger = Ed25519PrivateKey.generate()
    L.append_section(out3, body3, forger)
    assert L.verify_dir(out3)[0] == []
    pinned = L.key_fingerprint(L.public_key_b64(key.public_key()))
    assert L.verify_dir(out3, expected_key=pinned)[0] == ["ledger signed by a different key than the one expected"]
    # appending to a broken ledger is refused
    lines = (out3 / L.LEDGER).read_bytes().split(b"\n")
    (out3 / L.LEDGER).write_bytes(b"\n".join(lines[:1] + lines[2:]))
    with pytest.raises(InputError, match="does not verify"):
        L.append_section(out3, body3, forger)


def test_verify_cli_exit_codes(tmp_path, capsys):
    key = Ed25519PrivateKey.generate()
    out, _ = _folder(tmp_path, key)
    assert main(["verify", str(out)]) == 0
    assert "signed by SHA256:" in capsys.readouterr().out
    (out / "summary.json").write_text('{"eliminated": ["y"]}\n')
    assert main(["verify", str(out)]) == 4
    err = capsys.readouterr().err
    assert "summary.json: changed" in err


def test_key_stays_outside_the_folder(tmp_path):
    with pytest.raises(InputError, match="must not live inside"):
        load_or_create(tmp_path / "out" / "k.pem", tmp_path / "out")
    k1 = load_or_create(tmp_path / "k.pem", tmp_path / "out")
    k2 = load_or_create(tmp_path / "k.pem", tmp_path / "out")
    assert L.public_key_b64(k1.public_key()) == L.public_key_b64(k2.public_key())
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    pub = L.public_key_b64(k1.public_key())
    raw = base64.b64decode(pub)
    assert L.key_fingerprint(pub) == "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]
    other = L.public_key_b64(load_or_create(tmp_path / "k2.pem", tmp_path / "out").public_key())
    assert L.key_fingerprint(other) != L.key_fingerprint(pub)
    assert L.key_fingerprint("not base64!") == "SHA256:invalid-key"
