"""A short fuzz run over the parser and decoder (the long run is benchmarks/fuzz.py)."""

import numpy as np

from benchmarks.fuzz import mutate, seeds
from aec.bitstream import AECError


def test_mutated_files_decode_or_raise_an_aec_error(tiny_weights):
    from aec import Codec

    codec = Codec(weights=tiny_weights, max_pixels=1 << 20)
    valid = seeds(codec)
    rng = np.random.default_rng(2026)
    outcomes = set()
    for _ in range(300):
        kind, data = mutate(valid[int(rng.integers(len(valid)))], rng)
        try:
            codec.decompress_array(data)
            outcomes.add("decoded")
        except AECError as error:
            outcomes.add(type(error).__name__)
    assert "FormatError" in outcomes  # the run reached the error paths, not only clean decodes
