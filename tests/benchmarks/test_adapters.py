import sys
import types

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the bench extra is not installed: pip install -e '.[bench]'")

from benchmarks import adapters, metrics  # noqa: E402

CLASSIC = [name for name in adapters.CODEC_NAMES if name != "aec"]


def gradient(height=48, width=64):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1).astype(np.uint8)


def adapter_or_skip(name):
    try:
        return adapters.make(name)
    except adapters.CodecUnavailable as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_codec_round_trips_at_the_top_of_its_sweep(name):
    adapter = adapter_or_skip(name)
    image = gradient()
    data = adapter.encode(image, adapter.qualities[-1])  # sweeps run from worst to best
    decoded = adapter.decode(data)
    assert isinstance(data, bytes) and len(data) > 0
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    if adapter.lossless:
        assert np.array_equal(decoded, image)
    else:
        assert metrics.psnr(image, decoded) > 30
    assert adapter.versions and all(adapter.versions.values())


@pytest.mark.parametrize("name", CLASSIC)
def test_default_sweep_runs_from_low_to_high_rate(name):
    adapter = adapter_or_skip(name)
    image = gradient(96, 128) + np.random.default_rng(0).integers(0, 20, (96, 128, 3)).astype(np.uint8)
    sizes = [len(adapter.encode(image, q)) for q in (adapter.qualities[0], adapter.qualities[-1])]
    assert sizes[0] <= sizes[1]


def test_a_failed_save_leaves_no_settings_behind():
    adapter = adapter_or_skip("avif")
    image = gradient()
    first = adapter.encode(image, 50)
    with pytest.raises(ValueError):
        adapter.encode(image, 1000)  # Pillow refuses the quality
    assert adapter.encode(image, 50) == first


def test_heic_options_are_fresh_for_every_encode():
    adapter = adapter_or_skip("heic")
    image = gradient()
    assert adapter.encode(image, 30) == adapter.encode(image, 30)


@pytest.mark.parametrize(("name", "module"), [("heic", "pillow_heif"), ("jxl", "pillow_jxl")])
def test_missing_library_is_skipped_with_a_message(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    loaded, skipped = adapters.load([name, "jpeg420"])
    assert [a.name for a in loaded] == ["jpeg420"]
    assert "pip install" in skipped[name]


def test_aec_is_skipped_when_its_package_does_not_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "aec", None)
    loaded, skipped = adapters.load(["aec", "png"])
    assert [a.name for a in loaded] == ["png"]
    assert "cannot import" in skipped["aec"]


class FakeCodec:
    """Stands in for aec's public API: Codec(weights=), model_qualities, model_id, compress, decompress_array."""

    def __init__(self, weights=None):
        if weights == "missing.safetensors":
            raise FileNotFoundError(weights)
        self.weights = weights
        self.model_qualities = (1.0, 2.0, 4.0)
        self.model_id = "fake-model"

    def compress(self, image, quality=None, *, model_quality=None, effort=0):
        assert quality is None  # the benchmarks code at the model's own qualities
        return bytes([int(model_quality * 10), effort]) + np.asarray(image).tobytes()

    def decompress_array(self, data):
        return np.frombuffer(data[2:], dtype=np.uint8).reshape(48, 64, 3)


@pytest.fixture
def fake_aec(monkeypatch):
    pytest.importorskip("torch")
    module = types.ModuleType("aec")
    module.Codec = FakeCodec
    module.__version__ = "9.9.9"
    monkeypatch.setitem(sys.modules, "aec", module)


def test_aec_adapter_uses_only_the_public_api(fake_aec):
    adapter = adapters.make("aec", aec_weights="model.safetensors")
    assert adapter.qualities == (1.0, 1.5, 2.0, 3.0, 4.0)
    assert adapter.quality_range == (1.0, 4.0)
    assert adapter.versions["aec"] == "9.9.9" and adapter.versions["model_id"] == "fake-model"
    assert adapter.versions["weights"] == "model.safetensors"
    image = gradient()
    data = adapter.encode(image, 1.5)
    assert data[0] == 15
    assert np.array_equal(adapter.decode(data), image)


def test_aec_at_an_effort_is_its_own_curve(fake_aec):
    adapter = adapters.make("aec-e3")
    assert adapter.name == "aec-e3" and adapter.label == "aec effort 3" and adapter.settings["effort"] == 3
    assert adapter.encode(gradient(), 2.0)[1] == 3
    assert adapters.is_known("aec-e3") and not adapters.is_known("aec-e") and "aec-e3" not in adapters.CODEC_NAMES


def test_aec_is_skipped_when_codec_cannot_load(fake_aec):
    loaded, skipped = adapters.load(["aec"], aec_weights="missing.safetensors")
    assert loaded == []
    assert "FileNotFoundError" in skipped["aec"]


def test_aec_sweep_adds_midpoints():
    assert adapters.aec_sweep([3, 1, 2]) == (1.0, 1.5, 2.0, 2.5, 3.0)
    assert adapters.aec_sweep([2.0]) == (2.0,)


def test_unknown_codec_is_an_error():
    with pytest.raises(ValueError, match="jpeg420"):
        adapters.make("jpeg-xr")


@pytest.mark.parametrize("name", CLASSIC)
def test_each_adapter_carries_the_name_it_is_listed_under(name):
    assert adapter_or_skip(name).name == name


def test_the_readme_table_lists_every_codec_in_order():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "benchmarks" / "README.md").read_text()
    table = readme.split("## Codecs and their settings", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    names = [name for row in table.splitlines()[2:] for name in row.split("|")[1].replace("`", "").split(",")]
    assert [name.strip() for name in names] == list(adapters.CODEC_NAMES)
    assert set(adapters.CROP_CODECS) <= set(adapters.CODEC_NAMES)
