"""A short run of benchmarks/fuzz_inputs.py over each hostile kind of model file and image input."""

import numpy as np
import pytest

from benchmarks.fuzz_inputs import (IMAGE_KINDS, IMAGE_PIXEL_LIMIT, MODEL_KINDS, hostile_image, hostile_model,
                                    image_case, model_case, read_model, valid_images)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_hostile_model_file_is_refused_at_load_or_codes(tiny_weights, tmp_path, kind):
    tensors, metadata = read_model(tiny_weights)
    rng = np.random.default_rng(len(kind))
    outcomes = [model_case(hostile_model(tensors, metadata, rng, kind)[1], tmp_path) for _ in range(8)]
    assert not [outcome for outcome in outcomes if outcome.startswith("FAIL")]
    if kind in ("deep-config", "tensor-nonfinite", "file-bytes", "config-json", "config-type", "architecture"):
        assert all(outcome.startswith("refused ModelMismatchError") for outcome in outcomes), outcomes


@pytest.fixture(scope="module")
def image_codec(tiny_weights):
    from aec import Codec

    return Codec(weights=tiny_weights, max_pixels=IMAGE_PIXEL_LIMIT)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_every_hostile_image_codes_or_is_an_input_error(image_codec, kind):
    rng = np.random.default_rng(len(kind))
    valid = valid_images()
    outcomes = [image_case(image_codec, hostile_image(valid, rng, kind)[1]) for _ in range(20)]
    assert not [outcome for outcome in outcomes if outcome.startswith("FAIL")]
    if kind.startswith("header"):
        assert "refused over the pixel limit" in outcomes  # the sizes reach past the limit
