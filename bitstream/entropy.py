"""Range coders for integer symbols: indexed Gaussian blocks and per-channel categorical blocks."""

from __future__ import annotations

import functools
import math
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import constriction
import numpy as np

from .errors import FormatError, UnsupportedVersionError
from .tables import INDEXED_LIKELIEST, indexed_counts
from .tables import scale_table as default_scale_table

__all__ = [
    "CODER_VERSION",
    "DEFAULT_BOUND",
    "MAX_BOUND",
    "MAX_CATEGORIES",
    "SymbolEncoder",
    "SymbolDecoder",
    "CategoricalTables",
    "IndexedTables",
    "check_scale_table",
    "symbol_checksum",
    "check_coder_version",
]

# constriction's submodules are attributes, not importable packages: `import constriction.stream.model` fails.
_model = constriction.stream.model
_queue = constriction.stream.queue

DEFAULT_BOUND = 2047


def _installed_coder_version() -> tuple[int, int]:
    """The installed constriction's (major, minor): what the writer records in the .aec header. Read from the name of
    its dist-info folder beside the package where there is one (importlib.metadata, which scans every path entry,
    cost 13 ms of every aec command's start)."""
    found = list(Path(constriction.__file__).resolve().parent.parent.glob("constriction-*.dist-info"))
    if len(found) == 1:
        version = found[0].name[len("constriction-"):-len(".dist-info")]
    else:
        from importlib import metadata

        version = metadata.version("constriction")
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


# constriction changes its output only with a new leading version (0.x), so major.minor names the coder.
CODER_VERSION = _installed_coder_version()


def check_coder_version(version: tuple[int, int]) -> None:
    """Refuse data that another entropy-coder version wrote: it could decode to garbage (the spec's SHOULD)."""
    if tuple(version) != CODER_VERSION:
        raise UnsupportedVersionError(
            f"the data was entropy-coded with constriction {version[0]}.{version[1]}, but this aec runs "
            f"constriction {CODER_VERSION[0]}.{CODER_VERSION[1]}; install the aec release that pins "
            f"constriction {version[0]}.{version[1]}"
        )

# constriction gives every symbol of a quantised Gaussian at least 2**-24 of the mass; a wider
# support panics inside Rust, so refuse it here. 2**20 leaves a 16x margin.
MAX_BOUND = 1 << 20
# Same reason for categorical alphabets; a learned z pmf has tens to hundreds of bins.
MAX_CATEGORIES = 1 << 16

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
# Escape payloads (up to 32 bits) are coded as two 16-bit digits, low digit first.
_DIGIT = 1 << 16
_DIGIT_MODEL = _model.Uniform(_DIGIT)
_DIGIT_BITS = 16.0  # Uniform(2**16) in 24-bit fixed point is exact: every digit costs 16 bits

# How many bits a stream must hold. constriction's range coder keeps a 64-bit range, shrinks it by (at least) each
# symbol's probability and writes a 32-bit word whenever it drops under 2**32, so coding symbols of information
# content I bits writes more than I - 32 bits. A decoder whose symbols add up to more than the payload's bits plus
# this slack has therefore read past the end of the data, where constriction silently decodes zeros.
_SLACK_BITS = 64.0
# Probabilities are 24-bit fixed point and every codable symbol keeps at least one unit, so a quantised probability
# exceeds the real one by at most a unit or two, and no symbol of an alphabet of n is likelier than 1 - (n - 1) units.
_PROBABILITY_UNIT = 2.0 ** -24
_ROUNDING = 2 * _PROBABILITY_UNIT
_SQRT_2PI = math.sqrt(2 * math.pi)
_CHUNK = 1 << 20  # symbols per step of the bound, so that its temporaries stay small
_TABULATED = 64  # magnitudes whose least bits a decoder looks up per scale-table entry (the rest are computed)


def symbol_checksum(*arrays: np.ndarray) -> int:
    """Return the CRC32 of the arrays, each as C-order little-endian int32, in order."""
    crc = 0
    for array in arrays:
        crc = _crc(_as_int32(array, "symbols"), crc)
    return crc


def _floor_bits(probability_bound: np.ndarray | float, alphabet: int) -> np.ndarray:
    """Bits a symbol costs at least, given an upper bound of its real probability (see _SLACK_BITS)."""
    likeliest = 1.0 - (alphabet - 1) * _PROBABILITY_UNIT
    return -np.log2(np.minimum(np.asarray(probability_bound, dtype=np.float64) + _ROUNDING, likeliest))


def _gaussian_floor_bits(values: np.ndarray, stds: np.ndarray, bound: int) -> float:
    """The least bits zero-mean quantised Gaussians of these stds on [-bound, bound] spend on these symbols."""
    total = 0.0
    for start in range(0, values.size, _CHUNK):  # in steps, so that the temporaries stay small
        magnitude = np.abs(values[start:start + _CHUNK]).astype(np.float64)
        total += float(_gaussian_floor_bits_each(magnitude, stds[start:start + _CHUNK], bound).sum())
    return total


def _gaussian_floor_bits_each(magnitude: np.ndarray, std: np.ndarray, bound: int) -> np.ndarray:
    """Each symbol's least bits (``_gaussian_floor_bits``), from float64 magnitudes."""
    # A bin holds at most the density at its point nearest to 0 times its width 1; the two edge bins also hold the
    # tail beyond them, at most 1/2 and at most phi(x) / x (Mills' ratio).
    x = np.maximum(magnitude - 0.5, 0.0) / std
    phi = np.exp(-0.5 * x * x) / _SQRT_2PI
    probability = phi / std
    edge = magnitude == bound
    if edge.any():
        probability[edge] = np.minimum(0.5, phi[edge] / x[edge])
    return _floor_bits(probability, 2 * bound + 1)


def _gaussian_floor_table(scale_table: np.ndarray, bound: int) -> np.ndarray:
    """(levels, R + 1): the least bits of magnitudes 0 .. R under each entry of the scale table, R = min(bound,
    _TABULATED): what a decoder adds up for most symbols, looked up instead of computed symbol by symbol."""
    radius = min(bound, _TABULATED)
    magnitude = np.broadcast_to(np.arange(radius + 1, dtype=np.float64), (scale_table.size, radius + 1))
    std = np.broadcast_to(scale_table[:, None], magnitude.shape)
    return _gaussian_floor_bits_each(magnitude.copy(), std, bound)


def _crc(values: np.ndarray, crc: int) -> int:
    """Continue a CRC32 over int32 values, C order, little-endian."""
    return zlib.crc32(np.ascontiguousarray(values, dtype="<i4").reshape(-1), crc)


class CategoricalTables:
    """Per-channel categorical models from integer counts, built once and reused."""

    def __init__(self, counts: np.ndarray, offsets: np.ndarray) -> None:
        counts = np.asarray(counts)
        offsets = np.asarray(offsets)
        if counts.ndim != 2 or not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"counts must be a (C, K) integer array, got {counts.dtype} {counts.shape}")
        channels, size = counts.shape
        if not 2 <= size <= MAX_CATEGORIES:
            raise ValueError(f"need 2 <= K <= {MAX_CATEGORIES} bins (the last is the escape bin), got K={size}")
        if channels and (counts.min() < 1 or counts.max() > _INT32_MAX):
            raise ValueError("every count must be in [1, 2**31 - 1] so every bin, escape included, stays codable")
        if offsets.shape != (channels,) or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError(f"offsets must be ({channels},) integers, got {offsets.dtype} {offsets.shape}")
        offsets = offsets.astype(np.int64)
        if channels and (offsets.min() < _INT32_MIN or offsets.max() + size - 2 > _INT32_MAX):
            raise ValueError("offsets must keep every regular value (offset .. offset+K-2) inside int32")
        self.counts = _frozen(counts.astype(np.int64))
        self.offsets = _frozen(offsets)
        # Integer counts are exact in float64, so both sides build bit-identical models.
        self._models = tuple(
            _model.Categorical(self.counts[c].astype(np.float64), perfect=False) for c in range(channels)
        )
        # What each bin costs at least, and each channel's cheapest bin: a decoder's bound on the bits it has used.
        self._floor_bits = _frozen(_floor_bits(self.counts / self.counts.sum(axis=1, keepdims=True), size))
        self._cheapest = _frozen(self._floor_bits.min(axis=1) if channels else np.zeros(0))

    @property
    def channels(self) -> int:
        """Number of channels C."""
        return self.counts.shape[0]

    @property
    def escape(self) -> int:
        """Index of the escape bin (K - 1)."""
        return self.counts.shape[1] - 1


class IndexedTables:
    """Format 2.0's y tables: for each entry of a scale table, the categorical model of ``indexed_counts`` (symbols
    -r..r and an escape bin), built when first used and shared by every coder of the same table and bound. The
    process keeps those of the ``SHARED`` tables used last (a coder holds its own), so that a process that loads many
    models does not keep every model's tables for good."""

    SHARED = 8
    _shared: OrderedDict[tuple[bytes, int], "IndexedTables"] = OrderedDict()
    _shared_lock = threading.Lock()

    def __init__(self, scale_table: np.ndarray, bound: int) -> None:
        self.scale_table, self.bound = scale_table, bound
        self._entries: list[tuple[int, object, np.ndarray, float] | None] = [None] * scale_table.size
        # Every symbol of every table costs at least this (no bin holds more than INDEXED_LIKELIEST): what expect()
        # counts a symbol still to come.
        self.cheapest = float(-np.log2(INDEXED_LIKELIEST + _ROUNDING))

    @classmethod
    def of(cls, scale_table: np.ndarray, bound: int) -> "IndexedTables":
        key = (scale_table.tobytes(), bound)
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(scale_table, bound)
                while len(cls._shared) > cls.SHARED:
                    cls._shared.popitem(last=False)
            cls._shared.move_to_end(key)
            return cls._shared[key]

    def entry(self, index: int) -> tuple[int, object, np.ndarray, float]:
        """(radius r, constriction model, least bits of each bin, least bits of any bin) of table ``index``."""
        entry = self._entries[index]
        if entry is None:
            radius, counts = indexed_counts(float(self.scale_table[index]), self.bound)
            least = _floor_bits(counts / float(counts.sum()), counts.size)
            # Integer counts are exact in float64, so both sides build bit-identical models.
            entry = (radius, _model.Categorical(counts.astype(np.float64), perfect=False), least, float(least.min()))
            self._entries[index] = entry
        return entry

    @staticmethod
    def groups(indexes: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
        """The coding order of a block (its positions sorted by table index, stably) and where each index's run
        starts and ends in it."""
        # Stable sorts of 16-bit integers are radix sorts in numpy: 7x faster than of the int64 indexes.
        narrow = indexes.astype(np.int16, copy=False) if levels <= 1 << 15 else indexes
        order = np.argsort(narrow, kind="stable")
        return order, np.searchsorted(narrow[order], np.arange(levels + 1))


class SymbolEncoder:
    """Range-encode blocks of symbols; decode them in the same order with SymbolDecoder."""

    def __init__(self, scale_table: np.ndarray | None = None, bound: int = DEFAULT_BOUND) -> None:
        self.scale_table = check_scale_table(scale_table)
        self.bound = _check_bound(bound)
        self._gaussian = _model.QuantizedGaussian(-self.bound, self.bound, 0.0)
        self._coder = _queue.RangeEncoder()
        self._checksum = 0
        self._finished = False

    @property
    def checksum(self) -> int:
        """symbol_checksum of every symbol encoded so far, in coding order."""
        return self._checksum

    def encode_gaussian(self, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """Encode symbols with zero-mean Gaussians of std scale_table[indexes]."""
        self._check_open()
        values = _as_int32(symbols, "symbols").reshape(-1)
        stds = _lookup_stds(self.scale_table, indexes, np.shape(symbols), ValueError)
        if values.size == 0:
            return
        # int32 compares first: escapes are rare, so only they pay for int64 arithmetic.
        escaped = (values >= self.bound) | (values <= -self.bound)
        if escaped.any():
            self._coder.encode(np.clip(values, -self.bound, self.bound), self._gaussian, stds)
            self._encode_digits(np.abs(values[escaped].astype(np.int64)) - self.bound)
        else:
            self._coder.encode(values, self._gaussian, stds)
        self._checksum = _crc(values, self._checksum)

    def encode_indexed(self, symbols: np.ndarray, indexes: np.ndarray) -> None:
        """Encode symbols as format 2.0 does (docs/bitstream.md, "Indexed blocks"): grouped by scale index, in
        increasing index and, within one, in row-major order, each under its index's categorical table; then the
        escaped symbols' zigzag values as digits, in the order they were coded."""
        self._check_open()
        values = _as_int32(symbols, "symbols").reshape(-1)
        flat = _checked_indexes(self.scale_table, indexes, np.shape(symbols), ValueError)
        if values.size == 0:
            return
        tables = IndexedTables.of(self.scale_table, self.bound)
        order, bounds = tables.groups(flat, self.scale_table.size)
        grouped = values[order]
        escaped = np.zeros(values.size, dtype=bool)
        for index in np.flatnonzero(bounds[1:] > bounds[:-1]):
            start, stop = bounds[index], bounds[index + 1]
            radius, model, _, _ = tables.entry(int(index))
            run = grouped[start:stop].astype(np.int64)
            outside = (run < -radius) | (run > radius)
            self._coder.encode(np.where(outside, 2 * radius + 1, run + radius).astype(np.int32), model)
            escaped[start:stop] = outside
        if escaped.any():
            wide = grouped[escaped].astype(np.int64)
            self._encode_digits(np.where(wide < 0, -2 * wide - 1, 2 * wide))
        self._checksum = _crc(values, self._checksum)

    def encode_categorical(self, symbols: np.ndarray, tables: CategoricalTables) -> None:
        """Encode a (C, n) block; channel c is i.i.d. under tables row c."""
        self._check_open()
        values = _as_int32(symbols, "symbols").astype(np.int64)
        if values.ndim != 2 or values.shape[0] != tables.channels:
            raise ValueError(f"symbols must have shape ({tables.channels}, n), got {values.shape}")
        indexes = values - tables.offsets[:, None]
        escaped = (indexes < 0) | (indexes >= tables.escape)
        indexes = np.where(escaped, tables.escape, indexes).astype(np.int32)
        for channel, model in enumerate(tables._models):
            if indexes.shape[1]:
                self._coder.encode(indexes[channel], model)
        if escaped.any():
            # Zigzag maps int32 onto [0, 2**32) so small magnitudes stay small.
            escaped_values = values[escaped]
            self._encode_digits(np.where(escaped_values < 0, -2 * escaped_values - 1, 2 * escaped_values))
        self._checksum = _crc(values, self._checksum)

    def finish(self) -> bytes:
        """Return the compressed stream as little-endian u32 words; the encoder is closed after this."""
        self._check_open()
        self._finished = True
        return self._coder.get_compressed().astype("<u4").tobytes()

    def _encode_digits(self, payloads: np.ndarray) -> None:
        digits = np.empty((payloads.size, 2), dtype=np.int32)
        digits[:, 0] = payloads % _DIGIT
        digits[:, 1] = payloads // _DIGIT
        self._coder.encode(digits.ravel(), _DIGIT_MODEL)

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError("this SymbolEncoder is finished; start a new one")


class SymbolDecoder:
    """Decode blocks written by SymbolEncoder, in the order they were encoded.

    The data must hold its symbols exactly: a decoder refuses (FormatError) a block the data is too short for,
    before decoding it, as soon as the symbols decoded so far need more bits than the data has (constriction would
    go on decoding zeros), and, in finish, data left after the last symbol. ``expect`` announces Gaussian symbols
    still to come, so that a stream too short for all of them is refused before any of the work between blocks.

    Args:
        name: what the data is, for messages (e.g. "the YLAT section").
        indexed: the data's y blocks are format 2.0's indexed blocks (``decode_indexed``), not format 1's Gaussian
            blocks (``decode_gaussian``): what ``expect`` counts a symbol at least.
    """

    def __init__(self, data: bytes, scale_table: np.ndarray | None = None, bound: int = DEFAULT_BOUND, *,
                 name: str = "entropy-coded data", indexed: bool = False) -> None:
        self.scale_table = check_scale_table(scale_table)
        self.bound = _check_bound(bound)
        self.name = name
        self._gaussian = _model.QuantizedGaussian(-self.bound, self.bound, 0.0)
        data = bytes(data)
        if len(data) % 4:
            raise FormatError(
                f"{name} is corrupt: its length {len(data)} is not a multiple of 4 bytes; "
                "the file is truncated or damaged"
            )
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self._coder = _guard(lambda: _queue.RangeDecoder(words))
        self._checksum = 0
        self._bytes = len(data)
        self._used_bits = 0.0  # a lower bound of the bits the symbols decoded so far took
        self._expected = 0  # Gaussian symbols announced by expect() and not decoded yet
        self.indexed = bool(indexed)
        self._indexed_tables = IndexedTables.of(self.scale_table, self.bound) if self.indexed else None
        # The cheapest a y symbol can be: a Gaussian one, or one of the smallest indexed table.
        self._gaussian_bits = (self._indexed_tables.cheapest if self._indexed_tables is not None
                               else float(_floor_bits(1.0, 2 * self.bound + 1)))
        self._floor_table: np.ndarray | None = None  # _gaussian_floor_table, at the first Gaussian block

    @property
    def checksum(self) -> int:
        """symbol_checksum of every symbol decoded so far, in coding order."""
        return self._checksum

    def expect(self, count: int) -> None:
        """Announce ``count`` more Gaussian symbols; FormatError now if the data cannot hold them all."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"count must be a non-negative int, got {count!r}")
        self._expected += int(count)
        self._check_room(0.0, f"the {self._expected} symbols it codes")

    def finish(self) -> None:
        """FormatError unless the data ends with the symbols decoded (the last block has been decoded)."""
        if not self._coder.maybe_exhausted():
            raise FormatError(f"{self.name} has data after its last symbol; the file is corrupt")

    def decode_gaussian(self, indexes: np.ndarray) -> np.ndarray:
        """Decode a block coded with encode_gaussian; returns int32 shaped like indexes."""
        shape = np.shape(indexes)
        # Indexes come from the caller's model, not the file, so a bad one is a programming error.
        stds = _lookup_stds(self.scale_table, indexes, shape, ValueError)
        if stds.size == 0:
            return np.zeros(shape, dtype=np.int32)
        self._expected = max(self._expected - stds.size, 0)
        self._check_room(stds.size * self._gaussian_bits, f"the next {stds.size} symbols")
        values = _guard(lambda: self._coder.decode(self._gaussian, stds))
        self._used_bits += self._least_bits(values, np.asarray(indexes).ravel(), stds)
        escaped = (values == self.bound) | (values == -self.bound)
        if escaped.any():
            signed = np.sign(values[escaped]).astype(np.int64) * (self.bound + self._decode_digits(int(escaped.sum())))
            if signed.min() < _INT32_MIN or signed.max() > _INT32_MAX:
                raise FormatError(
                    "entropy-coded data is corrupt: an escaped symbol does not fit in int32; the file is damaged"
                )
            values[escaped] = signed
        self._check_room(0.0, "its symbols")
        values = values.astype(np.int32, copy=False).reshape(shape)
        self._checksum = _crc(values, self._checksum)
        return values

    def decode_indexed(self, indexes: np.ndarray) -> np.ndarray:
        """Decode a block coded with encode_indexed; returns int32 shaped like indexes."""
        shape = np.shape(indexes)
        flat = _checked_indexes(self.scale_table, indexes, shape, ValueError)
        if flat.size == 0:
            return np.zeros(shape, dtype=np.int32)
        tables = self._indexed_tables or IndexedTables.of(self.scale_table, self.bound)
        self._expected = max(self._expected - flat.size, 0)
        order, bounds = tables.groups(flat, self.scale_table.size)
        grouped = np.empty(flat.size, dtype=np.int64)
        escaped = np.zeros(flat.size, dtype=bool)
        runs = []  # (start, stop, radius) of each index's run, for the escapes' check
        for index in np.flatnonzero(bounds[1:] > bounds[:-1]):
            start, stop = int(bounds[index]), int(bounds[index + 1])
            radius, model, least, cheapest = tables.entry(int(index))
            self._check_room((stop - start) * cheapest, f"the next {stop - start} symbols")
            run = _guard(lambda: self._coder.decode(model, stop - start)).astype(np.int64)
            self._used_bits += float(least[run].sum())
            np.subtract(run, radius, out=grouped[start:stop])
            np.equal(run, 2 * radius + 1, out=escaped[start:stop])
            runs.append((start, stop, radius))
        if escaped.any():
            zigzag = self._decode_digits(int(escaped.sum()))
            wide = (zigzag >> 1) ^ -(zigzag & 1)
            radii = np.concatenate([np.full(int(escaped[start:stop].sum()), radius, np.int64)
                                    for start, stop, radius in runs])
            if np.any(np.abs(wide) <= radii):
                raise FormatError("entropy-coded data is corrupt: an escaped symbol lies inside its table; "
                                  "the file is damaged")
            grouped[escaped] = wide
        self._check_room(0.0, "its symbols")
        values = np.empty(flat.size, dtype=np.int32)
        values[order] = grouped
        values = values.reshape(shape)
        self._checksum = _crc(values, self._checksum)
        return values

    def _least_bits(self, values: np.ndarray, indexes: np.ndarray, stds: np.ndarray) -> float:
        """``_gaussian_floor_bits`` of decoded symbols (before escapes), the usual magnitudes looked up by index."""
        if self._floor_table is None:
            self._floor_table = _gaussian_floor_table(self.scale_table, self.bound)
        magnitude = np.abs(values)
        near = magnitude < self._floor_table.shape[1]
        if near.all():
            return float(self._floor_table[indexes, magnitude].sum())
        far = ~near
        return (float(self._floor_table[indexes[near], magnitude[near]].sum())
                + _gaussian_floor_bits(values[far], stds[far], self.bound))

    def decode_categorical(self, tables: CategoricalTables, n: int) -> np.ndarray:
        """Decode a (C, n) block coded with encode_categorical."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        n = int(n)
        self._check_room(n * float(tables._cheapest.sum()), f"the next {n * tables.channels} symbols")
        indexes = np.zeros((tables.channels, n), dtype=np.int64)
        if n:
            for channel, model in enumerate(tables._models):
                indexes[channel] = _guard(lambda: self._coder.decode(model, n))
            self._used_bits += float(np.take_along_axis(tables._floor_bits, indexes, axis=1).sum())
        escaped = indexes == tables.escape
        values = indexes + tables.offsets[:, None]
        if escaped.any():
            zigzag = self._decode_digits(int(escaped.sum()))
            values[escaped] = (zigzag >> 1) ^ -(zigzag & 1)
        self._check_room(0.0, "its symbols")
        values = values.astype(np.int32)
        self._checksum = _crc(values, self._checksum)
        return values

    def _decode_digits(self, count: int) -> np.ndarray:
        self._check_room(2 * count * _DIGIT_BITS, f"{count} escaped values")
        digits = _guard(lambda: self._coder.decode(_DIGIT_MODEL, 2 * count)).astype(np.int64).reshape(count, 2)
        self._used_bits += 2 * count * _DIGIT_BITS
        return digits[:, 0] + digits[:, 1] * _DIGIT

    def _check_room(self, more_bits: float, what: str) -> None:
        """FormatError if the symbols decoded, ``more_bits`` and the symbols expected need more than the data has."""
        needed = self._used_bits + more_bits + self._expected * self._gaussian_bits
        if needed > 8 * self._bytes + _SLACK_BITS:
            raise FormatError(
                f"{self.name} ends early: {what} need at least {math.ceil(needed / 8)} bytes, it has {self._bytes}; "
                "the file is truncated or corrupt"
            )


def _guard(call):
    """Run a constriction call, turning any failure (Rust panics included) into FormatError."""
    try:
        return call()
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    # pyo3's PanicException derives from BaseException, so Exception alone would miss it.
    except BaseException as error:  # noqa: BLE001
        detail = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise FormatError(f"entropy-coded data is corrupt: {detail}; the file is damaged") from error


def check_scale_table(table: np.ndarray | None) -> np.ndarray:
    """The scale table (the default one for None) as frozen float64; ValueError unless it is a non-empty 1-D float
    array of finite standard deviations above 0."""
    if table is None:
        return _default_table()
    table = np.asarray(table)
    if table.ndim != 1 or table.size == 0 or not np.issubdtype(table.dtype, np.floating):
        raise ValueError(f"scale_table must be a non-empty 1-D float array, got {table.dtype} {table.shape}")
    table = table.astype(np.float64)
    # std <= 0 panics inside constriction; NaN or inf would code garbage.
    if not np.all(np.isfinite(table)) or not np.all(table > 0):
        raise ValueError("scale_table entries must be finite and > 0")
    return _frozen(table)


@functools.lru_cache(maxsize=1)
def _default_table() -> np.ndarray:
    """The default scale table, frozen, built once (its decimal arithmetic takes a millisecond)."""
    return _frozen(default_scale_table())


def _check_bound(bound: int) -> int:
    if isinstance(bound, bool) or not isinstance(bound, (int, np.integer)) or not 1 <= bound <= MAX_BOUND:
        raise ValueError(f"bound must be an int in [1, {MAX_BOUND}], got {bound!r}")
    return int(bound)


def _lookup_stds(table: np.ndarray, indexes: np.ndarray, shape: tuple[int, ...], error: type[Exception]) -> np.ndarray:
    # Stds are read from the table, never computed here, so both sides see identical float64s.
    return table[_checked_indexes(table, indexes, shape, error)]


def _checked_indexes(table: np.ndarray, indexes: np.ndarray, shape: tuple[int, ...],
                     error: type[Exception]) -> np.ndarray:
    """The indexes, flat, once they are of this shape, integers and inside the table (``error`` if not)."""
    indexes = np.asarray(indexes)
    if indexes.shape != shape:
        raise error(f"indexes must have shape {shape}, got {indexes.shape}")
    if not np.issubdtype(indexes.dtype, np.integer):
        raise error(f"indexes must be integers, got {indexes.dtype}")
    flat = indexes.ravel()
    if flat.size and (flat.min() < 0 or flat.max() >= table.size):
        raise error(f"indexes must be in [0, {table.size}), got values in [{flat.min()}, {flat.max()}]")
    return flat


def _as_int32(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got {array.dtype}")
    if array.dtype.itemsize > 4 or array.dtype == np.uint32:
        if array.size and (array.min() < _INT32_MIN or array.max() > _INT32_MAX):
            raise ValueError(f"{name} must fit in int32, got values in [{array.min()}, {array.max()}]")
    return array.astype(np.int32, copy=False)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.flags.writeable = False
    return array
