"""benchmarks/allocator.py times a whole `aec decompress` with aec's allocator settings and without."""

import aec
from benchmarks import allocator
from tests.conftest import smooth_image


def test_both_variants_decode_the_file_and_are_timed(tmp_path, capsys):
    path = tmp_path / "small.aec"
    path.write_bytes(aec.compress(smooth_image(32, 48, 0), quality=50))
    assert allocator.main([str(path), "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "glibc defaults: median" in lines[0] and "aec.allocator: median" in lines[1]
