"""Claims about bitstream.entropy: round trips, escapes, size, checksums and corrupt input."""

import hashlib
import math
import subprocess
import sys
import zlib

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aec.bitstream import (
    CODER_VERSION,
    DEFAULT_BOUND,
    CategoricalTables,
    FormatError,
    Header,
    SymbolDecoder,
    SymbolEncoder,
    pmf_to_counts,
    scale_table,
    symbol_checksum,
)

TABLE = scale_table()
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def gaussian_block(shape, seed=0):
    """Symbols drawn from the very model they are coded with, plus their scale indexes."""
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, len(TABLE), shape)
    symbols = np.round(rng.normal(0.0, TABLE[indexes])).astype(np.int32)
    return symbols, indexes


def categorical_tables(channels=4, bins=12, seed=0):
    rng = np.random.default_rng(seed)
    counts = pmf_to_counts(rng.dirichlet(np.ones(bins), size=channels))
    return CategoricalTables(counts, offsets=-(np.arange(channels) + bins // 2))


def round_trip_gaussian(symbols, indexes, bound=DEFAULT_BOUND):
    encoder = SymbolEncoder(TABLE, bound)
    encoder.encode_gaussian(symbols, indexes)
    return SymbolDecoder(encoder.finish(), TABLE, bound).decode_gaussian(indexes)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 5, 4), (16, 8, 12), (2, 0, 3)])
def test_gaussian_blocks_of_any_shape_round_trip(shape):
    symbols, indexes = gaussian_block(shape)
    decoded = round_trip_gaussian(symbols, indexes)
    assert decoded.dtype == np.int32 and decoded.shape == shape
    np.testing.assert_array_equal(decoded, symbols)


def test_empty_stream_is_zero_bytes():
    encoder = SymbolEncoder()
    encoder.encode_gaussian(np.zeros(0, np.int32), np.zeros(0, np.int64))
    assert encoder.finish() == b""


def test_escapes_round_trip_extreme_values_exactly():
    bound = DEFAULT_BOUND
    special = [INT32_MAX, INT32_MIN, INT32_MIN + 1, bound, -bound, bound - 1, -(bound - 1), bound + 1, 0, 65536 + bound]
    symbols = np.array(special * 3, dtype=np.int64)
    indexes = np.arange(symbols.size) % len(TABLE)
    np.testing.assert_array_equal(round_trip_gaussian(symbols, indexes), symbols)


@pytest.mark.parametrize("bound", [1, 2, 255])
def test_escapes_work_with_a_small_bound(bound):
    symbols, indexes = gaussian_block((2000,), seed=3)
    symbols[:4] = [INT32_MAX, INT32_MIN, bound, -bound]
    np.testing.assert_array_equal(round_trip_gaussian(symbols, indexes, bound), symbols)


def test_categorical_blocks_round_trip_with_escapes_on_both_sides():
    tables = categorical_tables()
    rng = np.random.default_rng(4)
    symbols = rng.integers(-12, 8, (4, 300)).astype(np.int32)
    symbols[0, :4] = [INT32_MAX, INT32_MIN, -1000, 1000]
    encoder = SymbolEncoder()
    encoder.encode_categorical(symbols, tables)
    decoded = SymbolDecoder(encoder.finish()).decode_categorical(tables, 300)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


def test_mixed_blocks_in_one_stream_decode_in_encoding_order():
    tables = categorical_tables(channels=3)
    z = np.random.default_rng(5).integers(-8, 5, (3, 40))
    y1, i1 = gaussian_block((5, 6, 7), seed=6)
    y2, i2 = gaussian_block((11,), seed=7)
    y1.flat[0] = 10**6
    encoder = SymbolEncoder(TABLE)
    encoder.encode_categorical(z, tables)
    encoder.encode_gaussian(y1, i1)
    encoder.encode_categorical(np.zeros((3, 0), np.int32), tables)
    encoder.encode_gaussian(y2, i2)
    decoder = SymbolDecoder(encoder.finish(), TABLE)
    np.testing.assert_array_equal(decoder.decode_categorical(tables, 40), z)
    np.testing.assert_array_equal(decoder.decode_gaussian(i1), y1)
    assert decoder.decode_categorical(tables, 0).shape == (3, 0)
    np.testing.assert_array_equal(decoder.decode_gaussian(i2), y2)
    assert decoder.checksum == encoder.checksum == symbol_checksum(z, y1, y2)


def test_coded_size_is_within_one_percent_of_the_information_content():
    symbols, indexes = gaussian_block((100_000,), seed=8)
    encoder = SymbolEncoder(TABLE)
    encoder.encode_gaussian(symbols, indexes)
    real_bits = 8 * len(encoder.finish())
    erfc = np.frompyfunc(math.erfc, 1, 1)
    magnitude, scale = np.abs(symbols).astype(np.float64), TABLE[indexes] * math.sqrt(2.0)
    # P(s) = Phi((|s|+.5)/std) - Phi((|s|-.5)/std), written with erfc to stay accurate in the tails.
    probability = 0.5 * (erfc((magnitude - 0.5) / scale) - erfc((magnitude + 0.5) / scale)).astype(np.float64)
    ideal_bits = -np.log2(probability).sum()
    assert 0.99 * ideal_bits <= real_bits <= 1.01 * ideal_bits + 4 * 32


def test_stream_matches_the_golden_hash():
    # Catches any change of constriction's output or of our escape layout; such a change needs a format bump.
    # Inputs come from arithmetic, not a random generator, whose streams numpy may change between versions.
    position = np.arange(500)
    indexes = (position * 7) % len(TABLE)
    symbols = ((position * 37) % 41 - 20) * (indexes // 16 + 1)
    symbols[:3] = [INT32_MIN, DEFAULT_BOUND, 123456]
    counts = 1 + (np.arange(4 * 12).reshape(4, 12) * 131) % 997
    tables = CategoricalTables(counts, offsets=np.array([-6, -5, -4, -3]))
    encoder = SymbolEncoder(TABLE)
    encoder.encode_categorical(np.arange(-40, 40).reshape(4, 20), tables)
    encoder.encode_gaussian(symbols, indexes)
    assert hashlib.sha256(encoder.finish()).hexdigest() == GOLDEN_SHA256


GOLDEN_SHA256 = "bea0d319c6c71a5fd81b835b3df4f5c34a7538b67acbf7e32b049304ebc1d7cb"


def test_installed_constriction_is_the_pinned_version_headers_record():
    assert CODER_VERSION == Header("m", b"abcd", 1.0, 1, 1).coder_version == (0, 5)


def test_the_coder_version_read_from_the_dist_info_folder_is_importlib_metadatas(monkeypatch):
    from importlib import metadata

    from aec.bitstream import entropy

    expected = tuple(int(part) for part in metadata.version("constriction").split(".")[:2])
    assert entropy._installed_coder_version() == expected
    monkeypatch.setattr(entropy.Path, "glob", lambda self, pattern: iter(()))  # no dist-info folder beside it
    assert entropy._installed_coder_version() == expected


def test_symbol_checksum_changes_when_one_symbol_changes():
    symbols, _ = gaussian_block((64, 8, 8), seed=10)
    before = symbol_checksum(symbols)
    symbols[17, 3, 5] += 1
    assert symbol_checksum(symbols) != before


def test_symbol_checksum_is_crc32_of_little_endian_int32_in_order():
    a, b = np.array([1, -2], np.int64), np.array([[3], [4]], np.int16)
    expected = 0
    for value in (1, -2, 3, 4):
        expected = zlib.crc32(int(value).to_bytes(4, "little", signed=True), expected)
    assert symbol_checksum(a, b) == expected
    assert symbol_checksum(b, a) != expected


def test_symbol_checksum_refuses_values_outside_int32():
    with pytest.raises(ValueError):
        symbol_checksum(np.array([2**31]))


@pytest.mark.parametrize(
    "symbols, indexes",
    [
        (np.zeros(3, np.int32), np.array([0, 64, 1])),
        (np.zeros(3, np.int32), np.array([0, -1, 1])),
        (np.zeros(3, np.int32), np.zeros(4, np.int64)),
        (np.zeros(3, np.int32), np.zeros(3, np.float64)),
        (np.zeros(3, np.float32), np.zeros(3, np.int64)),
        (np.array([2**31, 0, 0]), np.zeros(3, np.int64)),
    ],
)
def test_encoder_refuses_bad_symbols_or_indexes_with_value_error(symbols, indexes):
    with pytest.raises(ValueError):
        SymbolEncoder().encode_gaussian(symbols, indexes)


def test_decoder_refuses_out_of_range_indexes_with_value_error():
    with pytest.raises(ValueError):
        SymbolDecoder(b"").decode_gaussian(np.array([99]))


@pytest.mark.parametrize(
    "table, bound",
    [
        (np.array([1.0, 0.0]), 10),
        (np.array([np.nan]), 10),
        (np.array([[1.0]]), 10),
        (None, 0),
        (None, 2**21),
        (None, 2.5),
    ],
)
def test_coders_refuse_a_bad_scale_table_or_bound(table, bound):
    with pytest.raises(ValueError):
        SymbolEncoder(table, bound)
    with pytest.raises(ValueError):
        SymbolDecoder(b"", table, bound)


@pytest.mark.parametrize(
    "counts, offsets",
    [
        (np.ones((2, 1), np.int32), np.zeros(2, np.int32)),
        (np.array([[1, 0, 1]]), np.zeros(1, np.int32)),
        (np.ones((2, 3)), np.zeros(2, np.int32)),
        (np.ones((2, 3), np.int32), np.zeros(3, np.int32)),
        (np.ones((1, 3), np.int32), np.array([2**31 - 1])),
    ],
)
def test_categorical_tables_refuse_bad_counts_or_offsets(counts, offsets):
    with pytest.raises(ValueError):
        CategoricalTables(counts, offsets)


def test_categorical_encoding_refuses_the_wrong_channel_count():
    with pytest.raises(ValueError):
        SymbolEncoder().encode_categorical(np.zeros((3, 5), np.int32), categorical_tables(channels=4))


def test_a_finished_encoder_refuses_more_work():
    encoder = SymbolEncoder()
    encoder.finish()
    with pytest.raises(ValueError):
        encoder.encode_gaussian(np.zeros(1, np.int32), np.zeros(1, np.int64))


def test_payload_length_not_a_multiple_of_four_is_a_format_error():
    with pytest.raises(FormatError, match="multiple of 4"):
        SymbolDecoder(b"\x00" * 7)


def test_an_escape_that_overflows_int32_is_a_format_error():
    # Hand-made stream: the symbol +bound, then escape digits saying "excess 2**32 - 1".
    model = constriction.stream.model
    coder = constriction.stream.queue.RangeEncoder()
    gaussian = model.QuantizedGaussian(-DEFAULT_BOUND, DEFAULT_BOUND, 0.0)
    coder.encode(np.array([DEFAULT_BOUND], np.int32), gaussian, TABLE[:1])
    coder.encode(np.array([65535, 65535], np.int32), model.Uniform(65536))
    decoder = SymbolDecoder(coder.get_compressed().astype("<u4").tobytes(), TABLE)
    with pytest.raises(FormatError, match="int32"):
        decoder.decode_gaussian(np.zeros(1, np.int64))


def test_a_rust_panic_while_decoding_becomes_a_format_error():
    class FakePanic(BaseException):
        """Stands in for pyo3's PanicException, which is not an Exception."""

    class PanickingCoder:
        def decode(self, *args):
            raise FakePanic("called `Option::unwrap()` on a `None` value")

    decoder = SymbolDecoder(b"")
    decoder._coder = PanickingCoder()
    with pytest.raises(FormatError, match="entropy-coded data is corrupt"):
        decoder.decode_gaussian(np.zeros(3, np.int64))


def _valid_stream() -> tuple[bytes, np.ndarray, CategoricalTables]:
    tables = categorical_tables(channels=2)
    symbols, indexes = gaussian_block((300,), seed=11)
    symbols[::50] = 50_000
    encoder = SymbolEncoder(TABLE)
    encoder.encode_categorical(np.arange(-30, 30).reshape(2, 30), tables)
    encoder.encode_gaussian(symbols, indexes)
    return encoder.finish(), indexes, tables


VALID_STREAM, VALID_INDEXES, VALID_TABLES = _valid_stream()


def _decode_all(data: bytes) -> None:
    """Decode like the codec would: FormatError or well-formed (maybe wrong) arrays, nothing else."""
    try:
        decoder = SymbolDecoder(data, TABLE)
        z = decoder.decode_categorical(VALID_TABLES, 30)
        y = decoder.decode_gaussian(VALID_INDEXES)
    except FormatError:
        return
    assert z.shape == (2, 30) and z.dtype == np.int32
    assert y.shape == VALID_INDEXES.shape and y.dtype == np.int32


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=256))
def test_random_bytes_give_a_format_error_or_wrong_symbols_never_a_crash(data):
    _decode_all(data)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, len(VALID_STREAM)), st.integers(0, 255), st.integers(0, len(VALID_STREAM) - 1))
def test_truncated_or_damaged_streams_never_crash(cut, value, position):
    damaged = bytearray(VALID_STREAM)
    damaged[position] = value
    _decode_all(VALID_STREAM[:cut])
    _decode_all(bytes(damaged))


# ----------------------------------------------------------------------------------------------------------
# A stream holds its symbols exactly: never read past its end, nothing left after it


def test_a_stream_too_short_for_the_symbols_it_must_hold_is_refused_before_decoding():
    decoder = SymbolDecoder(b"", TABLE)
    decoder.expect(1000)  # a thousand symbols fit in the coder's slack: an honest empty stream can hold them
    with pytest.raises(FormatError, match="the YLAT section ends early|ends early"):
        decoder.expect(10**7)  # a 64-byte file declaring a big image: nothing is decoded at all
    with pytest.raises(FormatError, match="ends early"):
        SymbolDecoder(b"", TABLE).decode_categorical(categorical_tables(), 10**7)


@pytest.mark.parametrize("blocks_of", ["gaussian", "indexed"])
def test_decoding_past_the_end_of_a_truncated_stream_is_refused_at_the_first_block_it_cannot_hold(blocks_of):
    blocks = [gaussian_block((3000,), seed=seed) for seed in range(4)]
    encoder = SymbolEncoder(TABLE)
    for symbols, indexes in blocks:
        getattr(encoder, f"encode_{blocks_of}")(symbols, indexes)
    data = encoder.finish()
    decoder = SymbolDecoder(data[: len(data) // 16 * 4], TABLE, name="the YLAT section", indexed=blocks_of == "indexed")
    decoded = 0
    with pytest.raises(FormatError, match="the YLAT section ends early"):
        for _, indexes in blocks:
            getattr(decoder, f"decode_{blocks_of}")(indexes)
            decoded += 1
    assert decoded < 2  # constriction alone would decode all four blocks from zeros, silently


def test_data_after_the_last_symbol_is_refused_by_finish():
    symbols, indexes = gaussian_block((500,), seed=2)
    encoder = SymbolEncoder(TABLE)
    encoder.encode_gaussian(symbols, indexes)
    data = encoder.finish()
    exact = SymbolDecoder(data, TABLE)
    exact.decode_gaussian(indexes)
    exact.finish()
    # The coder reads a word ahead, so one more word can pass unseen (constriction cannot always tell); two cannot.
    longer = SymbolDecoder(data + bytes(8), TABLE)
    np.testing.assert_array_equal(longer.decode_gaussian(indexes), symbols)  # the symbols alone cannot tell
    with pytest.raises(FormatError, match="data after its last symbol"):
        longer.finish()


@pytest.mark.parametrize("bound", [1, 3, DEFAULT_BOUND])
@pytest.mark.parametrize("count", [1, 1000, 300_000])
def test_honest_streams_are_never_refused_even_of_the_cheapest_symbols(bound, count):
    """The bound behind the refusals is a lower bound of what an encoder writes, also where symbols cost least."""
    rng = np.random.default_rng(count + bound)
    cheapest = np.zeros(count, np.int32), np.zeros(count, np.int64)  # zeros at the smallest scale
    edges = np.full(count, bound, np.int32), np.full(count, len(TABLE) - 1)  # escapes at the widest scale
    tables = CategoricalTables(pmf_to_counts(np.array([[0.999, 0.0005, 0.0005], [0.3, 0.3, 0.4]])), np.array([0, 5]))
    z = np.stack([np.zeros(count // 10, np.int32), rng.integers(5, 7, count // 10).astype(np.int32)])
    encoder = SymbolEncoder(TABLE, bound)
    encoder.encode_categorical(z, tables)
    for symbols, indexes in (cheapest, edges, gaussian_block((count,), seed=count)):
        encoder.encode_gaussian(symbols, indexes)
    decoder = SymbolDecoder(encoder.finish(), TABLE, bound)
    decoder.expect(3 * count)
    np.testing.assert_array_equal(decoder.decode_categorical(tables, count // 10), z)
    for symbols, indexes in (cheapest, edges, gaussian_block((count,), seed=count)):
        np.testing.assert_array_equal(decoder.decode_gaussian(indexes), symbols)
    decoder.finish()


def test_bitstream_imports_neither_torch_nor_codec():
    code = "import sys, aec.bitstream; bad = [m for m in ('torch', 'aec.model', 'aec.api') if m in sys.modules]; sys.exit(bad or 0)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_coder_failure_ending_in_a_full_stop_reads_as_one_sentence():
    from aec.bitstream.entropy import _guard

    def fails():
        raise ValueError("the data cannot be decoded with this entropy model.")

    with pytest.raises(FormatError) as refused:
        _guard(fails)
    assert str(refused.value) == ("entropy-coded data is corrupt: the data cannot be decoded with this entropy model; "
                                  "the file is damaged")


@pytest.mark.parametrize("bound", [1, 3, 64, 2047])
def test_a_decoders_looked_up_least_bits_are_the_formulas(bound):
    """The decoder's bound on the bits it has read looks the usual magnitudes up per scale index; magnitudes past the
    table, and the edge bins of a small bound, are computed: the same sum as the formula for every symbol."""
    from aec.bitstream import entropy

    table = scale_table(64, 0.11, 256.0)
    rng = np.random.default_rng(bound)
    indexes = rng.integers(0, 64, 5000)
    values = np.clip(np.round(rng.normal(0, table[indexes])), -bound, bound).astype(np.int32)
    assert (np.abs(values) > entropy._TABULATED).any() == (bound > entropy._TABULATED)
    decoder = SymbolDecoder(b"", table, bound=bound)
    looked_up = decoder._least_bits(values, indexes, table[indexes])
    assert looked_up == pytest.approx(entropy._gaussian_floor_bits(values, table[indexes], bound), rel=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Format 2.0's indexed blocks


def round_trip_indexed(symbols, indexes, bound=DEFAULT_BOUND):
    encoder = SymbolEncoder(TABLE, bound)
    encoder.encode_indexed(symbols, indexes)
    decoder = SymbolDecoder(encoder.finish(), TABLE, bound, indexed=True)
    decoded = decoder.decode_indexed(indexes)
    decoder.finish()
    assert decoder.checksum == encoder.checksum == symbol_checksum(symbols)
    return decoded


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 5, 4), (16, 8, 12), (2, 0, 3)])
def test_indexed_blocks_of_any_shape_round_trip(shape):
    symbols, indexes = gaussian_block(shape, seed=len(shape))
    decoded = round_trip_indexed(symbols, indexes)
    assert decoded.dtype == np.int32 and decoded.shape == np.shape(symbols)
    np.testing.assert_array_equal(decoded, symbols)


@pytest.mark.parametrize("bound", [1, 3, DEFAULT_BOUND])
def test_indexed_escapes_round_trip_extreme_values_exactly(bound):
    symbols, indexes = gaussian_block((200,), seed=5)
    symbols[:6] = [INT32_MIN, INT32_MAX, -bound - 1, bound + 1, 3000, -3000]
    indexes[:6] = [0, 0, 0, len(TABLE) - 1, len(TABLE) - 1, 10]
    np.testing.assert_array_equal(round_trip_indexed(symbols, indexes, bound), symbols)


def test_indexed_blocks_code_about_as_many_bits_as_gaussian_ones():
    symbols, indexes = gaussian_block((40, 32, 32), seed=9)
    sizes = []
    for method in ("encode_gaussian", "encode_indexed"):
        encoder = SymbolEncoder(TABLE)
        getattr(encoder, method)(symbols, indexes)
        sizes.append(len(encoder.finish()))
    assert abs(sizes[1] / sizes[0] - 1) < 0.003, sizes


def test_gaussian_and_indexed_blocks_share_a_stream_in_order():
    blocks = [gaussian_block((300,), seed=seed) for seed in range(4)]
    encoder = SymbolEncoder(TABLE)
    for k, (symbols, indexes) in enumerate(blocks):
        (encoder.encode_indexed if k % 2 else encoder.encode_gaussian)(symbols, indexes)
    decoder = SymbolDecoder(encoder.finish(), TABLE, indexed=True)
    for k, (symbols, indexes) in enumerate(blocks):
        np.testing.assert_array_equal((decoder.decode_indexed if k % 2 else decoder.decode_gaussian)(indexes), symbols)
    decoder.finish()


def test_an_indexed_block_decoded_as_gaussian_is_garbage_the_checksum_catches():
    symbols, indexes = gaussian_block((2000,), seed=3)
    encoder = SymbolEncoder(TABLE)
    encoder.encode_indexed(symbols, indexes)
    decoder = SymbolDecoder(encoder.finish(), TABLE)
    try:
        decoder.decode_gaussian(indexes)
        decoder.finish()
    except FormatError:
        return
    assert decoder.checksum != encoder.checksum


def test_an_escape_of_a_value_its_table_holds_is_refused():
    """An encoder escapes only what its table cannot code; the other spelling of a symbol is not a valid stream."""
    from aec.bitstream.entropy import _DIGIT_MODEL, IndexedTables

    radius, model, _, _ = IndexedTables.of(TABLE, DEFAULT_BOUND).entry(0)
    coder = constriction.stream.queue.RangeEncoder()
    coder.encode(np.array([2 * radius + 1], np.int32), model)  # the escape bin ...
    coder.encode(np.array([2, 0], np.int32), _DIGIT_MODEL)  # ... then zigzag 2: the value 1, inside the table
    decoder = SymbolDecoder(coder.get_compressed().astype("<u4").tobytes(), TABLE, indexed=True)
    with pytest.raises(FormatError, match="escaped symbol lies inside its table"):
        decoder.decode_indexed(np.zeros(1, np.int64))


def test_a_stream_too_short_for_its_indexed_symbols_is_refused_before_decoding():
    decoder = SymbolDecoder(b"", TABLE, indexed=True)
    decoder.expect(1000)
    with pytest.raises(FormatError, match="ends early"):
        decoder.expect(10**7)


@pytest.mark.parametrize("count", [1, 1000, 300_000])
def test_honest_indexed_streams_are_never_refused_even_of_the_cheapest_symbols(count):
    cheapest = np.zeros(count, np.int32), np.zeros(count, np.int64)
    widest = np.full(count, DEFAULT_BOUND, np.int32), np.full(count, len(TABLE) - 1)
    encoder = SymbolEncoder(TABLE)
    for symbols, indexes in (cheapest, widest):
        encoder.encode_indexed(symbols, indexes)
    decoder = SymbolDecoder(encoder.finish(), TABLE, indexed=True)
    decoder.expect(2 * count)
    for symbols, indexes in (cheapest, widest):
        np.testing.assert_array_equal(decoder.decode_indexed(indexes), symbols)
    decoder.finish()


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=256))
def test_random_bytes_as_indexed_blocks_give_a_format_error_or_wrong_symbols_never_a_crash(data):
    _, indexes = gaussian_block((64,), seed=1)
    try:
        decoder = SymbolDecoder(data, TABLE, indexed=True)
        decoder.decode_indexed(indexes)
        decoder.finish()
    except FormatError:
        pass


def test_the_process_keeps_the_tables_of_the_models_used_last_and_a_coder_keeps_its_own():
    from aec.bitstream.entropy import IndexedTables

    kept = IndexedTables.of(TABLE, DEFAULT_BOUND)
    decoder = SymbolDecoder(b"", TABLE, indexed=True)  # holds its tables
    others = [IndexedTables.of(TABLE * (1 + k / 100), DEFAULT_BOUND) for k in range(1, IndexedTables.SHARED + 1)]
    assert len(IndexedTables._shared) == IndexedTables.SHARED
    assert IndexedTables.of(others[-1].scale_table, DEFAULT_BOUND) is others[-1]  # the last used is kept
    assert IndexedTables.of(TABLE, DEFAULT_BOUND) is not kept  # the first was let go, and is built anew
    assert decoder._indexed_tables is kept
