"""The Dask path: same bytes as in-process, on a LocalCluster with two worker processes."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_fingerprint_on_two_workers_is_byte_identical(client, zoo):
    from fromscratch.lineage.fingerprint import build_fingerprint
    from fromscratch.registry import fpfile
    from fromscratch.registry.distributed import context_task, fingerprint_on, plan_groups

    for name in ("llama-s0-moe", "llava-transplant"):
        path = zoo.path(name)
        assert len(plan_groups(context_task(str(path)), 3)) == 3
        local = build_fingerprint(path, use_cache=False)
        for n in (None, 1, 3):
            remote = fingerprint_on(client, path, n_groups=n)
            assert fpfile.to_bytes(remote) == fpfile.to_bytes(local), (name, n)


def test_search_on_dask_is_byte_identical(client, zoo, zoo_registry):
    from fromscratch.jsonio import dumps
    from fromscratch.registry.api import search

    path = zoo.path("llama-s0-ft")
    a = search(path, registry=zoo_registry.root)
    b = search(path, registry=zoo_registry.root, client=client)
    assert a["matches"] and dumps(a) == dumps(b)


def test_registry_add_with_dask(client, zoo, tmp_path):
    from fromscratch.registry.api import add

    e1 = add(zoo.path("llama-s2"), "a", registry=tmp_path / "r1")
    e2 = add(zoo.path("llama-s2"), "a", registry=tmp_path / "r2", client=client)
    assert e1.fingerprint == e2.fingerprint
