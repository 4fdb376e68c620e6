"""ModelConfig: the quality check that the API and the CLI share."""

import math

import numpy as np
import pytest

from aec.config import TINY
from aec.errors import InputError


def test_no_quality_means_the_default():
    assert TINY.check_quality(None) == TINY.default_quality == 2.0


@pytest.mark.parametrize("quality", [1, 1.0, 2.37, 3, np.float32(2.5), np.int64(2)])
def test_a_quality_in_the_range_is_returned_as_a_float(quality):
    checked = TINY.check_quality(quality, "test-tiny")
    assert isinstance(checked, float) and checked == float(quality)


@pytest.mark.parametrize("quality, fragment", [
    (0.99, "quality 0.99 is out of range"),
    (3.01, "quality 3.01 is out of range"),
    (math.inf, "quality inf is out of range"),
    (-math.inf, "quality -inf is out of range"),
    (math.nan, "quality nan is not a number"),
    ("high", "quality 'high' is not a number (str)"),
    ("2.5", "quality '2.5' is not a number (str)"),
    (True, "quality True is not a number (bool)"),
    (False, "quality False is not a number (bool)"),
    (np.True_, f"quality {np.True_!r} is not a number ({type(np.True_).__name__})"),
    (b"2", "quality b'2' is not a number (bytes)"),
    ([2], "quality [2] is not a number (list)"),
])
def test_a_quality_the_model_does_not_take_names_the_range(quality, fragment):
    with pytest.raises(InputError) as refused:
        TINY.check_quality(quality, "test-tiny")
    assert str(refused.value) == f"{fragment}: model test-tiny takes qualities from 1 to 3 (trained at 1, 2, 3)"


def test_without_a_model_id_the_message_says_the_model():
    with pytest.raises(InputError, match="the model takes qualities from 1 to 3"):
        TINY.check_quality(7)
