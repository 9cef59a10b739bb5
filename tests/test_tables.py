"""One table reader for results, human scores and benchmark task data: one size cap, one set of refusals."""

from __future__ import annotations

import json

import pytest

from fromscratch import tables
from fromscratch.bench.tasks import read_records as bench_read_records
from fromscratch.decide.tables import read_results
from fromscratch.errors import InputError


def test_bench_and_decide_share_the_reader_and_its_cap(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"team": "a", "benchmark": "b", "item": str(i), "score": 0.5}) + "\n"
                            for i in range(3)))
    assert bench_read_records is tables.read_records
    assert len(bench_read_records(path)) == 3 and len(read_results(path)) == 1
    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", path.stat().st_size - 1)
    for read in (bench_read_records, read_results):
        with pytest.raises(InputError, match="larger than"):
            read(path)


@pytest.mark.parametrize(("name", "body", "message"), [
    ("x.jsonl", '{"a": 1}\n[1, 2]\n', "line 2: expected a JSON object"),
    ("x.jsonl", '{"a": 1}\n{"a": \n', "line 2: not valid JSON"),
    ("x.csv", "a,b\n1,2,3\n", "more fields than the header"),
    ("x.json", '{"rows": 5}', "no list of records"),
    ("x.json", "[1, 2]", "every record must be a JSON object"),
    ("x.txt", "a", "unsupported data format"),
])
def test_hostile_rows_are_refused(tmp_path, name, body, message):
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        tables.read_records(path)


def test_record_forms_read_alike(tmp_path):
    rows = [{"q": "1+1", "a": "2"}, {"q": "2+2", "a": "4"}]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "b.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "d.csv").write_text("q,a\n1+1,2\n2+2,4\n")
    for name in ("a.json", "b.json", "c.jsonl", "d.csv"):
        assert tables.read_records(tmp_path / name) == rows
