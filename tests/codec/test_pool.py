"""Claims about aec.pool: a PooledCodec codes in worker processes to the bytes the codec itself writes, in order,
re-raises their warnings here, and says in one WorkersFailed when a worker cannot load the model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import aec
from aec.pool import PooledCodec, WorkersFailed
from tests.conftest import smooth_image


def test_map_codes_in_the_workers_to_the_codecs_own_bytes_in_order(tiny_weights):
    codec = aec.Codec(weights=tiny_weights, threads=1)
    images = [smooth_image(20 + 4 * i, 30, seed=i) for i in range(5)]
    with PooledCodec(codec, jobs=2) as pool:
        coded = [result.data for result in pool.map("encode", images, quality=60)]
        assert pool.decode(coded[0]).image.size == (30, 20)
    assert coded == [codec.compress(image, 60) for image in images]


def test_a_workers_warning_is_raised_in_the_caller(tiny_weights):
    wide = (smooth_image(16, 16, seed=1).astype(np.uint16) * 257)  # 16 bits: reduced to 8, with a warning
    with PooledCodec(aec.Codec(weights=tiny_weights, threads=1), jobs=1) as pool:
        with pytest.warns(UserWarning, match="8 bits"):
            pool.encode(wide)


def test_a_worker_that_cannot_load_the_model_fails_the_pool_in_one_message(tiny_weights, tmp_path):
    path = tmp_path / "tiny.safetensors"
    shutil.copy(tiny_weights, path)
    codec = aec.Codec(weights=path, threads=1)
    path.write_bytes(b"not a model any more")  # the workers load the file again
    with PooledCodec(codec, jobs=1) as pool:
        with pytest.raises(WorkersFailed, match="a -j worker process cannot load the model: "):
            pool.ready()
