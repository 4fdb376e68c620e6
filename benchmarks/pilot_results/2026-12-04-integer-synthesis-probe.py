"""PTQ probe: g_s of the fast candidate with int8 per-channel weights and fixed-point activations (issue 23 item 3)."""
import sys, glob, math
from pathlib import Path
import numpy as np
import aec
from aec.bitstream.container import parse
from aec.decoder import decoder_from_file
from aec.ops import ConvTranspose, GDN, workers

w = sys.argv[1]
codec = aec.Codec(weights=w)
dec = decoder_from_file(Path(w))[0]
net = dec.synthesis.at(4)
from safetensors.numpy import load_file
T = load_file(w)

def psnr(a, b):
    return 10 * math.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64))**2))

def run(y, wbits, abits, stats=None):
    x = y.astype(np.float64)
    bounds = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, ConvTranspose):
            W = T[f'g_s.{i}.weight'].astype(np.float64)  # (in, out, k, k)
            if wbits:
                s = np.abs(W).max(axis=(0, 2, 3)) / (2**(wbits - 1) - 1)
                Wq = np.round(W / s[None, :, None, None])
            else:
                s = np.ones(W.shape[1]); Wq = W
            if abits:
                amax = np.abs(x).max() if stats is None else stats[i]
                step = 2.0 ** math.ceil(math.log2(amax / (2**(abits - 1) - 1)))
                xq = np.clip(np.round(x / step), -(2**(abits - 1)), 2**(abits - 1) - 1)
            else:
                step, xq = 1.0, x
            bounds.append((i, float(np.abs(Wq).sum(axis=(0, 2, 3)).max() * np.abs(xq).max())))
            ct = ConvTranspose(Wq, np.zeros(W.shape[1]))
            out = ct(xq) * step * s[:, None, None] + T[f'g_s.{i}.bias'].astype(np.float64)[:, None, None]
            x = out
        else:
            x = layer(x.astype(np.float32)).astype(np.float64) if not abits else layer(x)
    img = np.clip(np.rint(np.clip(x, 0, 1) * 255), 0, 255).astype(np.uint8)
    return img, bounds

files = sorted(glob.glob('/work/shared/data/kodak/*.png'))[:4]
from PIL import Image
with workers(1):
    for q in (2, 6):
        rows = []
        for f in files:
            data = codec.compress(f, model_quality=q)
            h, secs = parse(data)
            pay = {s.kind: s.payload for s in secs}
            H, W_ = h.height, h.width
            Hp, Wp = -(-H // 64) * 64, -(-W_ // 64) * 64
            y = dec._synthesis_input(pay['ZHYP'], pay['YLAT'], h.quality, Hp, Wp, h.symbol_checksum, 2)
            ref = np.asarray(Image.open(f).convert('RGB')).transpose(2, 0, 1)
            fl, _ = run(y, 0, 0)
            res = [psnr(fl[:, :H, :W_], ref)]
            for wb, ab in ((8, 0), (8, 12), (8, 10), (8, 8), (6, 10)):
                qi, b = run(y, wb, ab)
                res.append(psnr(qi[:, :H, :W_], ref) - res[0])
            rows.append(res + [max(v for _, v in b)])
        r = np.array(rows)
        print('q', q, 'float PSNR %.3f' % r[:, 0].mean(), 'deltas (w8, w8a12, w8a10, w8a8, w6a10):', ' '.join('%+.3f' % v for v in r[:, 1:6].mean(0)), 'max |acc| bound (w6a10) %.3g' % r[:, 6].max())
