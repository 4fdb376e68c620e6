"""The Python API: round trips at any size, every input form, and clear errors for bad input."""

import io
import re
import os

import numpy as np
import pytest
import torch
from PIL import Image

import aec
from aec import FormatError, InputError, ModelMismatchError, read_header
from tests.conftest import smooth_image


@pytest.mark.parametrize("height,width", [(1, 1), (17, 5), (65, 129)])
def test_round_trip_keeps_the_size(tiny_codec, height, width):
    image = smooth_image(height, width)
    data = tiny_codec.compress(image, quality=50)
    decoded = tiny_codec.decompress_array(data)
    assert decoded.shape == (height, width, 3) and decoded.dtype == np.uint8
    header = read_header(data)
    assert (header.width, header.height, header.model_id) == (width, height, "test-tiny")


def test_every_input_form_gives_the_same_bytes(tiny_codec, tmp_path):
    array = smooth_image(40, 50, seed=3)
    path = tmp_path / "in.png"
    Image.fromarray(array).save(path)
    from_array = tiny_codec.compress(array, 50)
    assert tiny_codec.compress(Image.fromarray(array), 50) == from_array
    assert tiny_codec.compress(path, 50) == from_array
    assert tiny_codec.compress(str(path), 50) == from_array
    with open(path, "rb") as handle:
        assert tiny_codec.compress(handle, 50) == from_array
    encoded = path.read_bytes()
    for form in (encoded, bytearray(encoded), memoryview(encoded), io.BytesIO(encoded)):
        assert tiny_codec.compress(form, 50) == from_array, type(form)


@pytest.mark.parametrize("value, fragment", [
    (None, "got NoneType"),
    (torch.zeros(3, 8, 8, dtype=torch.uint8), "got Tensor; for a tensor pass tensor.permute(1, 2, 0).numpy()"),
    (42, "got int"),
    ([[0, 1], [2, 3]], "got list"),
    (b"", "the image bytes are empty"),
])
def test_an_input_of_a_type_aec_does_not_take_is_an_input_error(tiny_codec, value, fragment):
    with pytest.raises(InputError) as refused:
        tiny_codec.compress(value, 50)
    assert fragment in str(refused.value)
    if value is not None and not isinstance(value, bytes):
        assert "a path, an encoded image's bytes" in str(refused.value)


@pytest.mark.parametrize("value", [None, torch.zeros(4), 3.5, "\x89PNG\r\n"])
def test_decoding_data_of_a_type_aec_does_not_take_is_an_input_error(tiny_codec, value):
    with pytest.raises(InputError):
        tiny_codec.decompress(value)


def test_bytes_that_are_no_image_are_refused_not_taken_as_a_path(tiny_codec):
    with pytest.raises(InputError, match="<bytes>: not a readable image"):
        tiny_codec.compress(b"\x89PNG\r\n\x1a\n and then nothing", 50)


@pytest.mark.parametrize("quality", [True, False, "2", "high", b"2"])
def test_booleans_and_strings_are_not_qualities(tiny_codec, quality):
    with pytest.raises(InputError, match="is not a number"):
        tiny_codec.compress(smooth_image(8, 8), quality)


@pytest.mark.parametrize("image_format", ["GIF", "PNG"])
def test_an_animated_input_warns_that_only_its_first_frame_is_coded(tiny_codec, image_format):
    frames = [Image.fromarray(smooth_image(16, 16, seed=seed)) for seed in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=image_format, save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match=r"animated \(3 frames\); aec codes only the first frame"):
        data = tiny_codec.compress(buffer.getvalue(), 50)
    still = io.BytesIO()
    Image.open(io.BytesIO(buffer.getvalue())).save(still, format=image_format)  # the first frame, alone
    assert data == tiny_codec.compress(still.getvalue(), 50)


def test_public_functions_document_types_ranges_returns_and_exceptions():
    from aec import api

    for function in (api.compress, api.decompress, api.decompress_array, api.read_header, api.Codec.encode,
                     api.Codec.compress, api.Codec.decode, api.Codec.decompress, api.Codec.decompress_array):
        doc = function.__doc__ or ""
        assert "Returns:" in doc and "Raises:" in doc, function.__qualname__
        assert "AECError" in doc or "InputError" in doc or "FormatError" in doc, function.__qualname__
    for function in (api.compress, api.Codec.encode, api.Codec.compress):
        assert "quality" in function.__doc__ and "bytes" in function.__doc__ and "numpy" in function.__doc__


def test_decompress_accepts_bytes_path_and_file(tiny_codec, tmp_path):
    data = tiny_codec.compress(smooth_image(20, 30), 25)
    path = tmp_path / "x.aec"
    path.write_bytes(data)
    reference = tiny_codec.decompress_array(data)
    assert np.array_equal(np.asarray(tiny_codec.decompress(path)), reference)
    assert np.array_equal(tiny_codec.decompress_array(io.BytesIO(data)), reference)


def test_encoding_is_deterministic(tiny_codec):
    image = smooth_image(33, 47, seed=5)
    assert tiny_codec.compress(image, 62.5) == tiny_codec.compress(image, 62.5)


def test_fractional_model_quality_is_stored_and_used(tiny_codec):
    data = tiny_codec.compress(smooth_image(64, 64), model_quality=2.37)
    assert read_header(data).quality == pytest.approx(2.37)
    tiny_codec.decompress_array(data)


def test_quality_0_to_100_maps_onto_the_models_range(tiny_codec):
    # The tiny model has no scale in the manifest: 0-100 linearly onto its qualities 1 to 3.
    image = smooth_image(16, 16)
    for quality, model_quality in ((0, 1.0), (25, 1.5), (50, 2.0), (68.5, 2.37), (100, 3.0)):
        result = tiny_codec.encode(image, quality)
        assert result.header.quality == pytest.approx(model_quality) and result.quality == quality
        assert result.data == tiny_codec.compress(image, model_quality=model_quality)
    assert tiny_codec.default_quality == 75.0
    assert tiny_codec.encode(image).header.quality == 2.5 == tiny_codec.check_quality()
    assert tiny_codec.encode(image, model_quality=1.25).quality == 12.5  # the 0-100 value of a model quality


def test_a_shipped_model_codes_a_quality_at_its_released_anchor():
    # The default model's scale (tests/codec/test_quality_scale.py holds every released one): JPEG's quality 50 at
    # its anchor, 0 and 100 at the ends of its range, 75 between the anchors around it.
    from aec.manifest import read_manifest

    manifest = read_manifest()
    scale = manifest["models"][manifest["default"]]["quality_scale"]
    anchors = {float(key): value for key, value in scale["anchors"].items()}
    codec = aec.Codec(manifest["default"])
    top = float(len(codec.model_qualities))
    assert codec.check_quality(50) == anchors[50] and codec.check_quality(0) == 1.0 and codec.check_quality(100) == top
    below, above = max(key for key in anchors if key <= 75), min(key for key in anchors if key >= 75)
    expected = anchors[below] + (anchors[above] - anchors[below]) * (75 - below) / (above - below)
    assert codec.check_quality() == round(expected * 100) / 100


@pytest.mark.parametrize("quality", [-0.5, 100.5, float("nan"), float("inf"), -float("inf")])
def test_quality_outside_0_to_100_is_refused_naming_the_range(tiny_codec, quality):
    with pytest.raises(InputError, match="give 0 to 100") as refused:
        tiny_codec.compress(smooth_image(8, 8), quality)
    assert "quality" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("model_quality", [0.5, 3.5, float("nan"), float("inf"), "high", True])
def test_model_quality_outside_the_models_range_is_refused(tiny_codec, model_quality):
    with pytest.raises(InputError, match="model quality") as refused:
        tiny_codec.compress(smooth_image(8, 8), model_quality=model_quality)
    with pytest.raises(InputError) as checked:
        tiny_codec.model.config.check_quality(model_quality, "test-tiny")
    assert str(refused.value) == str(checked.value)  # the one check, with the model's name


def test_quality_and_model_quality_together_are_refused(tiny_codec):
    with pytest.raises(InputError, match="not both"):
        tiny_codec.compress(smooth_image(8, 8), 50, model_quality=2)
    with pytest.raises(InputError, match="give one of"):
        tiny_codec.encode(smooth_image(8, 8), model_quality=2, target_bpp=1.0)


def _strictly_rising_to_one(reported: list[float]) -> None:
    assert reported[0] == 0.0 and reported[-1] == 1.0, reported
    assert all(b > a for a, b in zip(reported, reported[1:])), reported
    assert reported.count(1.0) == 1


def test_progress_rises_through_the_tiles_and_slices_to_done(tiny_codec):
    image = smooth_image(80, 1100)  # wider than a g_a tile (512 px) and a g_s tile (32 latents): 3 of each
    encoding, decoding = [], []
    result = tiny_codec.encode(image, 50, progress=encoding.append)
    assert result.data == tiny_codec.compress(image, 50)  # reporting changes nothing coded
    _strictly_rising_to_one(encoding)
    assert len(encoding) >= 2 + 3 + 2  # 0, the g_a tiles, the slices (two in the tiny model), ..., 1
    assert np.array_equal(tiny_codec.decompress_array(result.data, progress=decoding.append),
                          tiny_codec.decompress_array(result.data))
    _strictly_rising_to_one(decoding)
    assert len(decoding) >= 2 + 2 + 3


def test_progress_of_a_kodak_sized_image_moves_in_small_steps(tiny_codec):
    image = smooth_image(512, 768)  # two g_s tiles: a tick per tile alone went 0.34 -> 0.67 -> 1
    encoding, decoding = [], []
    data = tiny_codec.compress(image, 50, progress=encoding.append)
    tiny_codec.decompress_array(data, progress=decoding.append)
    for reported in (encoding, decoding):
        _strictly_rising_to_one(reported)
        assert np.diff(reported).max() <= 0.1, np.diff(reported).max()  # the layers' strips tick


@pytest.mark.parametrize("target", [{"target_bpp": 2.0}, {"target_psnr": 30.0}])
def test_progress_of_a_target_search_rises_over_its_probes(tiny_codec, target):
    reported = []
    tiny_codec.encode(smooth_image(32, 48), progress=reported.append, **target)
    _strictly_rising_to_one(reported)


def test_no_progress_is_reported_for_a_failed_encode(tiny_codec):
    reported = []
    with pytest.raises(InputError):
        tiny_codec.encode(b"not an image", progress=reported.append)
    assert 1.0 not in reported


def test_encode_returns_the_header_and_rate_of_its_bytes(tiny_codec):
    result = tiny_codec.encode(smooth_image(8, 16), 75)
    assert result.header == read_header(result.data)
    assert result.bits_per_pixel == 8 * len(result.data) / 128


def test_decode_returns_the_image_with_the_files_header(tiny_codec):
    rgba = np.dstack([smooth_image(6, 10), np.arange(60, dtype=np.uint8).reshape(6, 10)])
    data = tiny_codec.compress(rgba, 50)
    result = tiny_codec.decode(data)
    assert isinstance(result, aec.DecodeResult)
    assert result.header == read_header(data)
    assert result.image.mode == "RGBA" and result.image.size == (10, 6)
    with pytest.raises(AttributeError):
        result.image = None  # frozen


@pytest.mark.parametrize("layout, shape", [("L", (6, 10)), ("LA", (6, 10, 2)), ("RGB", (6, 10, 3)),
                                           ("RGBA", (6, 10, 4))])
def test_decompress_array_has_one_channel_per_stored_plane(tiny_codec, layout, shape):
    image = Image.fromarray(smooth_image(6, 10)).convert(layout)
    assert tiny_codec.decompress_array(tiny_codec.compress(image, 50)).shape == shape


def test_decoding_loads_only_the_model_the_file_names(tiny_codec, installed_tiny):
    data = tiny_codec.compress(smooth_image(8, 8), 50)
    codec = aec.Codec()
    assert installed_tiny == []  # no model until one is needed
    codec.decode(data)
    aec.decompress(data)
    assert installed_tiny == ["test-tiny", "test-tiny"]  # two codecs, each loading the file's model, not the default


def test_encoding_loads_the_default_model_when_first_needed(installed_tiny):
    codec = aec.Codec()
    assert codec.check_quality(None) == codec.check_quality(codec.default_quality)
    codec.compress(smooth_image(8, 8))
    assert installed_tiny == [None]


def test_not_an_image_is_refused(tiny_codec, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a readable image"):
        tiny_codec.compress(path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        tiny_codec.compress(empty)
    with pytest.raises(InputError, match="no such file"):
        tiny_codec.compress(tmp_path / "missing.png")
    with pytest.raises(InputError):
        tiny_codec.compress(np.zeros((4, 4), dtype=np.float32))


def test_pixel_limit_is_enforced(tiny_weights):
    small = aec.Codec(weights=tiny_weights, max_pixels=100)
    with pytest.raises(InputError, match="pixel limit"):
        small.compress(smooth_image(11, 10))


@pytest.mark.parametrize("damage", ["empty", "truncated", "magic", "payload"])
def test_damaged_files_raise_an_aec_error(tiny_codec, damage):
    data = bytearray(tiny_codec.compress(smooth_image(64, 64), 50))
    if damage == "empty":
        data = bytearray()
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "magic":
        data[1] ^= 0xFF
    else:
        data[len(data) // 2] ^= 0x10
    with pytest.raises(FormatError):
        tiny_codec.decompress_array(bytes(data))


def test_a_file_from_other_weights_is_refused(tiny_codec, tmp_path):
    import torch

    from aec.config import TINY
    from aec.model import AECModel
    from aec.model_files import save_model

    torch.manual_seed(4321)
    other_path = tmp_path / "other.safetensors"
    save_model(AECModel(TINY).eval(), other_path, "test-tiny")
    other = aec.Codec(weights=other_path)
    data = other.compress(smooth_image(32, 32), 50)
    with pytest.raises(ModelMismatchError, match="other weights"):
        tiny_codec.decompress_array(data)


def test_an_unknown_device_is_an_input_error_when_a_model_is_placed_on_it(tiny_weights):
    with pytest.raises(InputError, match="device 'gpu' is not a torch device"):
        aec.Codec(weights=tiny_weights, device="gpu")


def test_codec_device_places_the_float_transforms_there(tiny_weights):
    placed = aec.Codec(weights=tiny_weights, device="meta")  # no CUDA needed to see where parameters live
    model = placed.model
    assert placed.device == torch.device("meta")
    assert all(p.device.type == "meta" for p in [*model.g_a.parameters(), *model.g_s.parameters(),
                                                 *model.latent_codec.h_a.parameters()])
    assert all(b.device.type == "cpu" for b in model.latent_codec.h_s.buffers())


def test_a_file_from_another_entropy_coder_version_is_refused_not_decoded(tiny_codec):
    from dataclasses import replace

    from aec import UnsupportedVersionError
    from aec.bitstream import CODER_VERSION, pack, parse

    data = tiny_codec.compress(smooth_image(20, 20), 50)
    header, sections = parse(data)
    assert header.coder_version == CODER_VERSION
    other = pack(replace(header, coder_version=(CODER_VERSION[0], CODER_VERSION[1] + 1)), sections)
    with pytest.raises(UnsupportedVersionError, match="constriction"):
        tiny_codec.decompress_array(other)


def test_a_codec_loads_a_models_decoder_to_decode_and_the_model_to_encode_once_each(installed_tiny, tiny_codec,
                                                                                   monkeypatch):
    from aec import api

    monkeypatch.setattr(api, "read_manifest", lambda: {"default": "test-tiny"})
    data = tiny_codec.compress(smooth_image(16, 16), 50)
    codec = aec.Codec()
    codec.decompress_array(data)
    assert installed_tiny == ["test-tiny"]  # the decoder (aec.decoder: no torch)
    codec.compress(smooth_image(16, 16), 50)
    codec.decompress_array(data)
    codec.compress(smooth_image(16, 16), 50)
    assert installed_tiny == ["test-tiny", None]  # then the default model, to encode


# ----------------------------------------------------------------------------------------------------------
# Hostile files: refused in proportion to their size, not to the size they declare


def _with(data: bytes, *, size: tuple[int, int] | None = None, **payloads: bytes) -> bytes:
    """The file with another declared (width, height) and/or other section payloads, its CRC recomputed."""
    from dataclasses import replace

    from aec.bitstream import Section, pack, parse

    header, sections = parse(data)
    if size is not None:
        header = replace(header, width=size[0], height=size[1])
    return pack(header, [Section(s.kind, payloads.get(s.kind, s.payload)) for s in sections])


@pytest.mark.parametrize("side", [4096, 8192])  # 8192 x 8192: the default pixel limit
def test_a_64_byte_decode_bomb_is_refused_before_any_work_in_proportion_to_its_size(tiny_codec, side, monkeypatch):
    from aec.exact import ExactLatentPath

    def never(*args):
        raise AssertionError("the hyper synthesis ran: the bomb was decoded")

    bomb = _with(tiny_codec.compress(smooth_image(8, 8), 50), size=(side, side), ZHYP=b"", YLAT=b"")
    assert len(bomb) == 61  # 64 with the 12-character id of a shipped model
    monkeypatch.setattr(ExactLatentPath, "hyper_features", never)
    with pytest.raises(FormatError, match="the YLAT section ends early"):
        tiny_codec.decompress_array(bomb)
    over = _with(bomb, size=(2 * side, 2 * side))
    with pytest.raises(FormatError, match="over the limit of 67108864" if side == 8192 else "YLAT section ends early"):
        tiny_codec.decompress_array(over)


def test_a_truncated_latent_stream_is_refused_as_such_not_decoded_from_zeros(tiny_codec):
    data = tiny_codec.compress(smooth_image(256, 256), 3)
    latent = aec.bitstream.parse(data)[1][1].payload
    with pytest.raises(FormatError, match="the YLAT section ends early"):
        tiny_codec.decompress_array(_with(data, YLAT=latent[: len(latent) // 8 * 4]))


@pytest.mark.parametrize("kind", ["ZHYP", "YLAT"])
def test_data_after_the_last_symbol_of_a_stream_is_refused(tiny_codec, kind):
    data = tiny_codec.compress(smooth_image(64, 64), 50)
    payload = {s.kind: s.payload for s in aec.bitstream.parse(data)[1]}[kind]
    with pytest.raises(FormatError, match=f"the {kind} section has data after its last symbol"):
        tiny_codec.decompress_array(_with(data, **{kind: payload + bytes(8)}))


def test_the_pixel_limit_counts_the_padding_to_64_both_ways(tiny_weights, tiny_codec):
    strip = smooth_image(1, 100)  # 100 pixels, coded as 64 x 128
    limited = aec.Codec(weights=tiny_weights, max_pixels=64 * 100)
    with pytest.raises(InputError, match=r"100x1 \(coded padded to 128x64 = 8192 pixels\) exceeds the pixel limit"):
        limited.compress(strip, 50)
    with pytest.raises(FormatError, match="over the limit of 6400"):
        limited.decompress_array(tiny_codec.compress(strip, 50))
    assert aec.Codec(weights=tiny_weights, max_pixels=128 * 64).decompress_array(tiny_codec.compress(strip, 50)).shape \
        == (1, 100, 3)


def test_an_rgb_file_with_an_alpha_section_is_refused(tiny_codec):
    import zlib

    data = tiny_codec.compress(smooth_image(8, 8), 50)
    header, sections = aec.bitstream.parse(data)
    forged = aec.bitstream.pack(header, [*sections, aec.bitstream.Section("ALPH", zlib.compress(bytes(64)))])
    with pytest.raises(FormatError, match="layout is RGB .no alpha. but it has an ALPH section"):
        tiny_codec.decompress_array(forged)


def test_reads_are_bounded_devices_refused_and_endless_streams_cut(tiny_weights):
    from aec.bitstream import MAGIC

    with pytest.raises(InputError, match="/dev/zero is a device, not a file"):
        read_header("/dev/zero")
    with open("/dev/zero", "rb") as zeros, pytest.raises(FormatError, match="not an .aec file"):
        aec.Codec(weights=tiny_weights).decompress_array(zeros)  # refused after its first 4 bytes

    class Endless(io.RawIOBase):
        """The magic number, then zeros forever."""

        def __init__(self):
            self.head = MAGIC

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk, self.head = (self.head or bytes(len(buffer)))[: len(buffer)], self.head[len(buffer):]
            buffer[: len(chunk)] = chunk
            return len(chunk)

    with pytest.raises(InputError, match=f"is larger than {8 * 100 + (64 << 20)} bytes"):
        aec.Codec(weights=tiny_weights, max_pixels=100).decompress_array(Endless())


def _compress_in_worker(codec, image):
    return codec.compress(image, 50)


def test_a_codec_pickles_and_a_spawned_process_pool_writes_the_same_bytes(tiny_codec):
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    pictures = [smooth_image(16 + 8 * i, 24, seed=i) for i in range(3)]
    expected = [tiny_codec.compress(picture, 50) for picture in pictures]
    copy = pickle.loads(pickle.dumps(tiny_codec))
    assert copy.model_id == tiny_codec.model_id and [copy.compress(p, 50) for p in pictures] == expected
    assert np.array_equal(copy.decompress_array(expected[0]), tiny_codec.decompress_array(expected[0]))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert list(pool.map(_compress_in_worker, [tiny_codec] * 3, pictures)) == expected


def test_an_unpickled_codec_refuses_other_weights_than_the_original_used(tiny_codec):
    state = tiny_codec.__getstate__()
    assert set(state) == {"model_id", "weights", "device", "max_pixels", "threads", "tags"}
    state["tags"] = {tiny_codec.model_id: b"\x00\x00\x00\x00"}
    copy = aec.Codec.__new__(aec.Codec)
    with pytest.raises(ModelMismatchError, match="other weights"):
        copy.__setstate__(state)


def test_a_default_codec_pickles_without_loading_a_model(installed_tiny):
    import pickle

    codec = aec.Codec()
    copy = pickle.loads(pickle.dumps(codec))
    assert installed_tiny == []  # nothing loaded by pickling either side
    data = copy.compress(smooth_image(8, 8), 50)
    assert installed_tiny == [None] and aec.read_header(data).model_id == "test-tiny"


def test_a_dask_local_cluster_compresses_a_folder_to_the_same_bytes_as_one_process(tiny_codec, tmp_path):
    distributed = pytest.importorskip("distributed")  # in the test extra; the suite still runs without it

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(smooth_image(16 + 4 * i, 20, seed=i)).save(folder / f"{i}.png")
    paths = sorted(str(path) for path in folder.iterdir())
    expected = [tiny_codec.compress(path, 50) for path in paths]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        futures = client.map(tiny_codec.compress, paths, quality=50)
        assert client.gather(futures) == expected
        workers = client.run(os.getpid)  # two worker processes, none of them this one
        assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def test_threads_limit_numpys_blas_and_torch_while_coding_and_only_then(tiny_weights, monkeypatch):
    import pickle

    from aec import channel_slice
    from aec import model as model_module

    torch.set_num_threads(2)
    seen = {}
    refine, encode, decode = (model_module.AECModel.compress, channel_slice.Encoder.compress,
                              channel_slice.Decoder.decode_rgb)

    def recording(name, method):
        def record(self, *args, **kwargs):
            seen[name] = (torch.get_num_threads(), _blas_threads())
            return method(self, *args, **kwargs)
        return record

    monkeypatch.setattr(model_module.AECModel, "compress", recording("refine", refine))
    monkeypatch.setattr(channel_slice.Encoder, "compress", recording("encode", encode))
    monkeypatch.setattr(channel_slice.Decoder, "decode_rgb", recording("decode", decode))
    before = _blas_threads()
    codec = aec.Codec(weights=tiny_weights, threads=1)
    data = codec.compress(smooth_image(24, 40, 1), model_quality=2)
    codec.compress(smooth_image(24, 40, 1), model_quality=2, effort=1)
    codec.decompress_array(data)
    assert seen == {"encode": (1, 1), "refine": (1, 1), "decode": (1, 1)}
    assert torch.get_num_threads() == 2 and _blas_threads() == before  # restored after each call
    assert pickle.loads(pickle.dumps(codec)).threads == 1
    from aec import threads as free_threads

    for free, expected in ((None, 2), (1, 1)):  # None: every core free, the libraries' own settings; 1: one free
        monkeypatch.setattr(free_threads, "default_threads", lambda free=free: free)
        seen.clear()
        aec.Codec(weights=tiny_weights).compress(smooth_image(24, 40, 1), model_quality=2, effort=1)
        assert seen["refine"][0] == expected
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_threads_must_be_a_whole_number_from_one(threads):
    with pytest.raises(InputError, match="threads must be a whole number, 1 or more"):
        aec.Codec(threads=threads)


def hostile_weights(tiny_weights, folder, *, config: dict | None = None, model_id: str | None = None,
                    nan_in: str | None = None):
    """The tiny model file with its config fields, model id or one tensor's first value (NaN) made hostile."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(tiny_weights), framework="numpy") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(tiny_weights))
    if config is not None:
        metadata["config"] = json.dumps({**json.loads(metadata["config"]), **config})
    if model_id is not None:
        metadata["model_id"] = model_id
    if nan_in is not None:
        tensors[nan_in] = tensors[nan_in].copy()
        tensors[nan_in].flat[0] = np.nan
    path = folder / "hostile.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("hostility, fragment", [
    ({"config": {"slices": 0}}, "slices must be a whole number from 1"),
    ({"config": {"slices": -1}}, "slices must be a whole number from 1"),
    ({"config": {"lambdas": []}}, "lambdas must be 1 to"),
    ({"model_id": "../../etc/passwd"}, "its model id '../../etc/passwd' is not 1 to 64"),
    ({"nan_in": "scale_table"}, "its tensor scale_table holds NaN"),
    ({"nan_in": "g_s.0.weight"}, "its tensor g_s.0.weight holds NaN"),
    ({"nan_in": "log_inverse_gains"}, "its tensor log_inverse_gains holds NaN"),
], ids=["slices-0", "slices-negative", "no-lambdas", "path-as-id", "nan-scale-table", "nan-synthesis", "nan-gains"])
def test_a_hostile_model_file_is_refused_when_it_is_loaded(tiny_weights, tmp_path, hostility, fragment):
    with pytest.raises(ModelMismatchError, match=re.escape(fragment)):
        aec.Codec(weights=hostile_weights(tiny_weights, tmp_path, **hostility))


@pytest.mark.parametrize("max_pixels", [0, -1, 1.5, "100", True, float("nan")])
def test_a_pixel_limit_that_is_no_whole_number_from_1_is_an_input_error(max_pixels):
    with pytest.raises(InputError, match="max_pixels must be a whole number of pixels, 1 or more"):
        aec.Codec(max_pixels=max_pixels)


def test_a_text_stream_is_an_input_error_that_says_to_open_in_binary(tiny_codec, tmp_path):
    (tmp_path / "x.aec").write_bytes(tiny_codec.compress(smooth_image(8, 8), 50))
    Image.fromarray(smooth_image(8, 8)).save(tmp_path / "x.png")
    for method, name in ((tiny_codec.decompress, "x.aec"), (tiny_codec.compress, "x.png")):
        with open(tmp_path / name, errors="replace") as text, pytest.raises(InputError, match=r"x\.(aec|png) is a text "
                                                                           r"stream; open the file in binary mode"):
            method(text)
        with pytest.raises(InputError, match="the input is a text stream"):
            method(io.StringIO("hello"))
