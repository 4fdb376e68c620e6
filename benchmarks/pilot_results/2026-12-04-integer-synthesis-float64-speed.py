import sys, time, statistics
from pathlib import Path
import numpy as np
from aec.decoder import decoder_from_file
from aec.ops import ConvTranspose, GDN, workers
from safetensors.numpy import load_file
w = sys.argv[1]
net = decoder_from_file(Path(w))[0].synthesis.at(4)
T = load_file(w)
layers64 = []
for i, l in enumerate(net.layers):
    if isinstance(l, ConvTranspose):
        layers64.append(ConvTranspose(T[f'g_s.{i}.weight'].astype(np.float64), T[f'g_s.{i}.bias'].astype(np.float64)))
    else:
        layers64.append(GDN(l.gamma.astype(np.float64), l.beta.ravel().astype(np.float64), l.inverse))
x32 = (np.random.default_rng(0).standard_normal((192, 32, 48)) * 2).astype(np.float32)
x64 = x32.astype(np.float64)
def run(layers, x):
    for l in layers: x = l(x)
    return x
t32, t64 = [], []
with workers(2):
    for r in range(7):
        s = time.perf_counter(); run(net.layers, x32); t32.append(time.perf_counter() - s)
        s = time.perf_counter(); run(layers64, x64); t64.append(time.perf_counter() - s)
print('g_s float32 %.1f ms, float64 %.1f ms' % (1000 * statistics.median(t32), 1000 * statistics.median(t64)))
