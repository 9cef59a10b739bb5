"""Declared initialisation schemes: from the config, from options, and what they expect per tensor."""

from __future__ import annotations

import math

import pytest

from fromscratch.chain.scheme import expectation, parse_options, resolve
from fromscratch.errors import InputError


def test_config_initializer_range_is_the_normal_std():
    s = resolve({"initializer_range": 0.015, "num_hidden_layers": 6})
    assert (s.family, s.std, s.layers) == ("normal", 0.015, 6)
    e = expectation(s, "attention", "q", (64, 64))
    assert e.kind == "random" and e.law.std == 0.015


def test_options_override_and_scaled_residual():
    s = resolve({"initializer_range": 0.02, "num_hidden_layers": 8}, ["family=uniform", "residual=scaled"])
    assert s.family == "uniform"
    assert math.isclose(expectation(s, "mlp", "down", (64, 256)).law.std, 0.02 / math.sqrt(16))
    assert expectation(s, "mlp", "up", (256, 64)).law.std == 0.02


def test_norms_constant_biases_zero():
    s = resolve({"initializer_range": 0.02})
    assert expectation(s, "norm", "attn_norm", (64,)).value == 1.0
    assert expectation(s, "norm", "attn_norm.bias", (64,)).value == 0.0
    assert expectation(s, "attention", "q.bias", (64,)).value == 0.0


def test_torch_default_uses_fan_in():
    s = resolve(None, ["torch-default"])
    e = expectation(s, "mlp", "up", (128, 64))
    assert e.law.family == "uniform" and math.isclose(e.law.std, 1 / math.sqrt(3 * 64))
    assert expectation(s, "embedding", "weight", (100, 64)).law.std == 1.0


@pytest.mark.parametrize("bad", ["family=laplace", "std=-1", "colour=red", "residual=maybe"])
def test_bad_options_are_input_errors(bad):
    with pytest.raises(InputError):
        parse_options([bad])


def test_scaled_residual_needs_the_layer_count():
    with pytest.raises(InputError):
        resolve({"initializer_range": 0.02}, ["residual=scaled"])
