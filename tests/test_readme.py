"""The README's Python examples run as written, each as a script of its own in a fresh folder, with the shipped model
on small generated images (its shell commands run in tests/codec/test_cli.py). As scripts, not exec'd in this
process: worker processes import the script again, which is what the examples' `__main__` guard is for."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from aec.bitstream import MAGIC
from tests.conftest import smooth_image

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


def test_the_readme_shows_the_api_the_process_pool_and_the_pillow_plugin():
    assert len(EXAMPLES) >= 3
    assert all(example.startswith("import aec\n") for example in EXAMPLES)
    assert any("ProcessPoolExecutor" in example and 'if __name__ == "__main__":' in example for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_a_readme_python_example_runs_as_written(tmp_path, example):
    if "dask" in example:
        pytest.importorskip("distributed")  # in the test extra
    import aec

    for name, seed in (("photo", 0), ("a", 1), ("b", 2), ("c", 3)):
        Image.fromarray(smooth_image(48, 64, seed)).save(tmp_path / f"{name}.png")
    (tmp_path / "photo.aec").write_bytes(aec.Codec().compress(tmp_path / "photo.png"))
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for written in re.findall(r'"(\w+\.aec)"', example):
        assert (tmp_path / written).read_bytes().startswith(MAGIC), written
