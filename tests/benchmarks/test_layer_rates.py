"""benchmarks/layers.py: each numpy layer's time, multiply-adds and rate, on the tiny model."""

import numpy as np

from aec.ops import GDN, Conv, ConvTranspose
from benchmarks import layers


def test_multiply_adds_count_each_kind_of_layer():
    x = np.zeros((4, 8, 6), np.float32)
    strided = Conv(np.zeros((5, 4, 5, 5), np.float32), np.zeros(5, np.float32), stride=2)
    assert layers.multiply_adds(strided, x, strided(x)) == 4 * 3 * 5 * 4 * 25  # per output pixel
    up = ConvTranspose(np.zeros((4, 5, 5, 5), np.float32), np.zeros(5, np.float32))
    assert layers.multiply_adds(up, x, up(x)) == 8 * 6 * 5 * 4 * 25  # per input pixel
    gdn = GDN(np.eye(4, dtype=np.float32), np.ones(4, np.float32), inverse=True)
    assert layers.multiply_adds(gdn, x, gdn(x)) == 8 * 6 * 16


def test_it_times_every_layer_of_the_transforms_and_the_slice_networks(tiny_weights, capsys):
    assert layers.main(["--weights", str(tiny_weights), "--threads", "1", "--runs", "1"]) == 0
    output = capsys.readouterr().out
    assert "g_a.0 Conv" in output and "g_s.6 ConvTranspose" in output and "params.0.0 Conv" in output
    assert "g_a in all" in output and "g_s in all" in output
