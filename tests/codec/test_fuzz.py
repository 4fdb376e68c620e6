"""A short fuzz run over the parser and decoder (the long run is benchmarks/fuzz.py)."""

import numpy as np

import time

import pytest

from benchmarks.fuzz import MAX_PIXELS, STRUCTURAL, join, mutate, seeds, split
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


@pytest.fixture(scope="module")
def fuzz_codec(tiny_weights):
    from aec import Codec

    codec = Codec(weights=tiny_weights, max_pixels=MAX_PIXELS)
    return codec, seeds(codec)


@pytest.mark.parametrize("kind", STRUCTURAL)
def test_structure_aware_mutations_decode_or_raise_an_aec_error_quickly(fuzz_codec, kind):
    codec, valid = fuzz_codec
    rng = np.random.default_rng(len(kind))
    slowest = 0.0
    for _ in range(40):
        _, data = mutate(valid[int(rng.integers(len(valid)))], rng, valid, kind=kind)
        started = time.perf_counter()
        try:
            codec.decompress_array(data)
        except AECError:
            pass
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 5.0  # what the long run counts as a hang


def test_split_and_join_rebuild_a_file_byte_for_byte(fuzz_codec):
    for data in fuzz_codec[1]:
        assert join(*split(data)) == data


def test_benchmarks_import_nothing_from_the_tests():
    import ast
    from pathlib import Path

    imported = set()
    for path in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add((path.name, node.module))
    assert not [pair for pair in imported if pair[1].split(".")[0] == "tests"]
