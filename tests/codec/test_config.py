"""ModelConfig: the model-quality check that the API and the CLI share (the 0-100 scale maps onto it)."""

import json
import math

import numpy as np
import pytest

from aec.config import TINY
from aec.errors import InputError


def test_no_model_quality_is_not_a_model_quality():  # the default is the 0-100 scale's (aec.api), not the model's
    with pytest.raises(InputError, match="model quality None is not a number"):
        TINY.check_quality(None)


@pytest.mark.parametrize("quality", [1, 1.0, 2.37, 3, np.float32(2.5), np.int64(2)])
def test_a_quality_in_the_range_is_returned_as_a_float(quality):
    checked = TINY.check_quality(quality, "test-tiny")
    assert isinstance(checked, float) and checked == float(quality)


@pytest.mark.parametrize("quality, fragment", [
    (0.99, "model quality 0.99 is out of range"),
    (3.01, "model quality 3.01 is out of range"),
    (math.inf, "model quality inf is out of range"),
    (-math.inf, "model quality -inf is out of range"),
    (math.nan, "model quality nan is not a number"),
    ("high", "model quality 'high' is not a number (str)"),
    ("2.5", "model quality '2.5' is not a number (str)"),
    (True, "model quality True is not a number (bool)"),
    (False, "model quality False is not a number (bool)"),
    (np.True_, f"model quality {np.True_!r} is not a number ({type(np.True_).__name__})"),
    (b"2", "model quality b'2' is not a number (bytes)"),
    ([2], "model quality [2] is not a number (list)"),
])
def test_a_quality_the_model_does_not_take_names_the_range(quality, fragment):
    with pytest.raises(InputError) as refused:
        TINY.check_quality(quality, "test-tiny")
    assert str(refused.value) == f"{fragment}: model test-tiny takes model qualities from 1 to 3 (trained at 1, 2, 3)"


def test_without_a_model_id_the_message_says_the_model():
    with pytest.raises(InputError, match="the model takes model qualities from 1 to 3"):
        TINY.check_quality(7)


def test_interpolation_places_a_model_quality_between_two_trained_ones_and_clamps_to_the_range():
    from aec.config import TINY  # trained at 1, 2, 3

    assert TINY.interpolation(1.0) == (0, 1, 0.0)
    assert TINY.interpolation(2.25) == (1, 2, 0.25)
    assert TINY.interpolation(3.0) == (2, 2, 0.0)
    assert TINY.interpolation(0.2) == (0, 1, 0.0) and TINY.interpolation(9.0) == (2, 2, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolated_gives_each_trained_row_at_its_quality_and_the_geometric_mean_half_way(dtype):
    table = np.log(np.array([[1.0, 8.0], [4.0, 2.0], [16.0, 0.5]], dtype=dtype))  # one row per trained quality
    assert np.allclose(TINY.interpolated(table, 2.0), [4.0, 2.0], rtol=1e-6)
    half = TINY.interpolated(table, 1.5)
    assert half.dtype == dtype and np.allclose(half, [2.0, 4.0], rtol=1e-6)
    assert np.allclose(TINY.interpolated(table, 9.0), [16.0, 0.5], rtol=1e-6)  # clamped to the trained range


def test_the_torch_gains_and_the_refinements_lambda_interpolate_as_the_config_does():
    import torch

    from aec.model import AECModel
    from aec.refine import interpolated_lambda

    model = AECModel(TINY)
    gain, inverse = model.gains(torch.tensor([1.0, 2.3, 3.0]))
    for row, quality in enumerate((1.0, 2.3, 3.0)):
        expected = TINY.interpolated(model.log_gains.detach().numpy(), quality)
        assert np.allclose(gain[row].detach().numpy(), expected, rtol=1e-6)
        assert np.allclose(inverse[row].detach().numpy(), 1 / expected, rtol=1e-5)
    assert interpolated_lambda(TINY, 2.5) == pytest.approx(math.sqrt(0.016 * 0.064), rel=1e-12)


@pytest.mark.parametrize("field, value", [("slices", 0), ("slices", -1), ("slices", 1.5), ("M", "16"), ("N", True),
                                          ("Z", 10**12), ("scale_levels", None), ("lambdas", ()),
                                          ("lambdas", (float("nan"),)), ("lambdas", (0.01, -1)), ("lambdas", "abc"),
                                          ("scale_low", float("inf")), ("scale_high", 0.05), ("z_support", 0)])
def test_a_config_no_model_can_have_is_refused_with_a_value_error(field, value):
    import dataclasses

    with pytest.raises(ValueError, match=field if field != "scale_high" else "scale_low"):
        dataclasses.replace(TINY, **{field: value})


def test_a_config_from_json_takes_its_lambdas_as_a_list():
    from aec.config import ModelConfig

    assert ModelConfig.from_dict(json.loads(TINY.to_json())) == TINY
