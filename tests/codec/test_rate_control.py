"""Rate control: a target size, bits per pixel or PSNR picks the quality, or says it is out of reach."""

import math

import pytest

from aec import InputError
from aec.rate_control import MAX_PROBES, search_quality
from tests.conftest import smooth_image


def test_the_search_lands_within_the_tolerance_of_a_smooth_target():
    calls = []

    def size(quality):
        calls.append(quality)
        return 1000 * math.exp(0.8 * quality)

    found = search_quality(size, 12_345, 1, 6, relative=True)
    assert found.met and abs(found.value - 12_345) <= 0.02 * 12_345
    assert found.quality == round(found.quality, 2) and len(calls) == found.probes <= MAX_PROBES


def test_a_target_out_of_reach_gives_the_nearest_end_marked_unmet():
    found = search_quality(lambda q: 30 + q, 50.0, 1, 6, relative=False)
    assert found.quality == 6 and not found.met
    found = search_quality(lambda q: 30 + q, 10.0, 1, 6, relative=False)
    assert found.quality == 1 and not found.met


def test_a_steppy_measure_gives_the_nearest_value_it_saw():
    found = search_quality(lambda q: float(round(q)), 3.4, 1, 6, relative=False)
    assert found.value == 3.0 and not found.met


def test_target_bpp_and_psnr_through_the_api(tiny_codec):
    image = smooth_image(96, 128, 6)
    low, high = (tiny_codec.encode(image, model_quality=q).bits_per_pixel for q in tiny_codec.model_quality_range)
    target = (low * high) ** 0.5
    result = tiny_codec.encode(image, target_bpp=target)
    assert result.target_met in (True, False) and low <= result.bits_per_pixel <= high
    if result.target_met:
        assert abs(result.bits_per_pixel - target) <= 0.02 * target
    # the model quality reported is the one coded, and the 0-100 quality reported gives that model quality again
    assert tiny_codec.encode(image, model_quality=result.header.quality).data == result.data
    assert tiny_codec.check_quality(result.quality) == result.header.quality
    by_size = tiny_codec.encode(image, target_size=len(result.data))
    assert abs(len(by_size.data) - len(result.data)) <= 0.02 * len(result.data)
    psnr_target = tiny_codec.encode(image, target_psnr=20.0)
    assert psnr_target.psnr is not None and psnr_target.target_met == (abs(psnr_target.psnr - 20.0) <= 0.05)


@pytest.mark.parametrize("kwargs", [{"quality": 50, "target_bpp": 0.5}, {"model_quality": 2, "target_size": 99},
                                    {"target_bpp": 0.5, "target_psnr": 30},
                                    {"target_size": -3}, {"target_psnr": float("nan")}, {"target_bpp": True}])
def test_contradictory_or_impossible_targets_are_refused(tiny_codec, kwargs):
    with pytest.raises(InputError):
        tiny_codec.encode(smooth_image(8, 8), **kwargs)
