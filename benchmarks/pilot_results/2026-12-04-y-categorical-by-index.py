"""A probe (session 20): the y slices of real Kodak encodes coded as today (constriction's QuantizedGaussian at each
symbol's standard deviation) and grouped by scale index, one categorical table per index; decode time and bytes.
See the .md file beside it. Needs scipy (the bench extra) and ../shared/data/kodak."""

import time

import constriction
import numpy as np
from PIL import Image
from scipy.stats import norm

import aec
import aec.entropy_models as entropy_models
from aec.bitstream.entropy import SymbolDecoder, SymbolEncoder
from aec.bitstream.tables import pmf_to_counts
from aec.decoder import load_decoder

BOUND = 2047
IMAGES = [f"../shared/data/kodak/kodim{i:02d}.png" for i in range(1, 25, 4)]

captured: list[tuple[np.ndarray, np.ndarray]] = []  # (symbols, indexes) of each slice coded
_encode = entropy_models.IndexedGaussian.encode


def spy(self, stream, y, mean, index):
    symbols = _encode(self, stream, y, mean, index)
    captured.append((symbols.copy(), index.copy()))
    return symbols


entropy_models.IndexedGaussian.encode = spy


def tables(scale_table: np.ndarray) -> tuple[list[int], list]:
    """Per scale index: the radius r and a categorical over -r..r plus an escape bin (24-bit counts)."""
    radii, models = [], []
    for sigma in scale_table:
        r = min(BOUND, int(np.ceil(14 * sigma)) + 2)
        x = np.arange(-r, r + 1)
        pmf = np.append(norm.cdf((x + 0.5) / sigma) - norm.cdf((x - 0.5) / sigma), 2 * norm.sf((r + 0.5) / sigma))
        counts = pmf_to_counts(pmf[None], 24)[0]
        radii.append(r)
        models.append(constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False))
    return radii, models


def grouped(indexes: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    flat = indexes.ravel()
    order = np.argsort(flat, kind="stable")
    return order, np.searchsorted(flat[order], np.arange(levels + 1))


def main() -> None:
    for model in ("aec-light-r1", "aec-sc192-r9"):
        codec = aec.Codec(model, threads=1)
        scale_table = load_decoder(model)[0].latents.y_model.scale_table
        radii, models = tables(scale_table)
        gaussian_ms = grouped_ms = gaussian_bytes = grouped_bytes = 0.0
        for path in IMAGES:
            captured.clear()
            codec.compress(np.asarray(Image.open(path).convert("RGB")))
            encoder = SymbolEncoder(scale_table)
            for symbols, indexes in captured:
                encoder.encode_gaussian(symbols, indexes)
            data = encoder.finish()
            gaussian_bytes += len(data)
            decoder = SymbolDecoder(data, scale_table)
            started = time.perf_counter()
            for symbols, indexes in captured:
                decoder.decode_gaussian(indexes)
            gaussian_ms += 1000 * (time.perf_counter() - started)
            coder = constriction.stream.queue.RangeEncoder()
            for symbols, indexes in captured:
                order, bounds = grouped(indexes, len(scale_table))
                values = symbols.ravel()[order]
                for k in range(len(scale_table)):
                    if bounds[k + 1] > bounds[k]:
                        run = values[bounds[k]:bounds[k + 1]]
                        assert np.abs(run).max() <= radii[k]  # no escape needed in these images
                        coder.encode((run + radii[k]).astype(np.int32), models[k])
            words = coder.get_compressed()
            grouped_bytes += 4 * len(words)
            decoder = constriction.stream.queue.RangeDecoder(words)
            started = time.perf_counter()
            for symbols, indexes in captured:
                order, bounds = grouped(indexes, len(scale_table))
                out = np.empty(indexes.size, np.int32)
                for k in range(len(scale_table)):
                    if bounds[k + 1] > bounds[k]:
                        out[order[bounds[k]:bounds[k + 1]]] = decoder.decode(models[k], int(bounds[k + 1] - bounds[k])) - radii[k]
                assert np.array_equal(out, symbols.ravel())
            grouped_ms += 1000 * (time.perf_counter() - started)
        n = len(IMAGES)
        print(f"{model}, {n} Kodak images: Gaussian y decode {gaussian_ms / n:.1f} ms an image, {gaussian_bytes:.0f} "
              f"bytes; by index {grouped_ms / n:.1f} ms, {grouped_bytes:.0f} bytes "
              f"({100 * (grouped_bytes / gaussian_bytes - 1):+.3f} %)")


if __name__ == "__main__":
    main()
