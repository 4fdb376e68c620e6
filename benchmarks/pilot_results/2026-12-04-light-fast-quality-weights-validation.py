import csv, sys
sys.path.insert(0, '/work/main')
from benchmarks.bd import bd_rate
def load(p):
    d = {}
    for r in csv.DictReader(open(p)):
        if r['weights'] != 'ema': continue
        d.setdefault(int(r['step']), []).append((float(r['quality']), float(r['bpp']), float(r['psnr'])))
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
for s in sorted(set(a) & set(b)):
    A, B = sorted(a[s]), sorted(b[s])
    if len(A) < 10 or len(B) < 10: continue
    lo = bd_rate([x[1] for x in A[1:6]], [x[2] for x in A[1:6]], [x[1] for x in B[1:6]], [x[2] for x in B[1:6]])
    al = bd_rate([x[1] for x in A], [x[2] for x in A], [x[1] for x in B], [x[2] for x in B])
    print(s, 'q2-6', lo, 'all', al)
