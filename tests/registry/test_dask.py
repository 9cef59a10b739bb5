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


def test_early_tensors_need_only_the_header_context(zoo):
    """What a worker computes for heads before the context exists is what it computes after."""
    import numpy as np

    from fromscratch.artifacts import open_model
    from fromscratch.lineage import fingerprint_pass as P

    heads = 0
    for name in ("llama-s0", "llama-s0-permft-notok", "bert-s0", "llava-transplant", "llama-s0-q80"):
        with open_model(zoo.path(name)) as m:
            ctx, hctx = P.context(m), P.header_context(m)
            keys = [row[0] for row in ctx.todo if row[3]]
            heads += ("lm_head", "weight", None) in keys
            assert keys == [row[0] for row in hctx.todo], name
            assert {t: v["dim"] for t, v in ctx.towers.items()} == {t: v["dim"] for t, v in hctx.towers.items()}
            full, head = P.block_pass(m, ctx, keys), P.block_pass(m, hctx)
        assert full[1] == head[1] and full[0].keys() == head[0].keys(), name
        for k in full[0]:
            np.testing.assert_array_equal(full[0][k], head[0][k], err_msg=f"{name} {k}")
    assert heads == 4  # every llama-shaped model (with and without token strings) has its head done early
