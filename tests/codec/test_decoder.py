"""The torch-free decoder (aec.decoder, aec.ops): same symbols as the encoder, torch's pixels within a level, and no
torch imported to decode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aec.decoder import decoder_from_file
from aec.errors import FormatError, ModelMismatchError
from aec import ops
from aec.ops import GDN, Conv, ConvTranspose
from tests.conftest import frozen_tiny_model, smooth_image

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


@pytest.fixture(scope="module")
def model():
    return frozen_tiny_model(5)


@pytest.fixture(params=["whole", "row by row", "3 workers", "3 workers, row by row"])
def strips(request, monkeypatch):
    """Layers in one strip, or in strips of one row (aec.ops.STRIP_BYTES), in this thread or shared out to three
    (aec.ops.workers): the same result."""
    if request.param.endswith("row by row"):
        monkeypatch.setattr(ops, "STRIP_BYTES", 1)
    with ops.workers(3 if "workers" in request.param else 1):
        yield


@pytest.mark.parametrize("outputs", [3, 24])  # the scattered taps and the stacked phases
@pytest.mark.parametrize("kernel", [5, 3, 7])
def test_transposed_convolution_equals_torchs_exactly_on_integers(outputs, kernel, strips):
    generator = torch.Generator().manual_seed(outputs + kernel)
    x = torch.randint(-500, 500, (10, 7, 9), generator=generator).double()
    weight = torch.randint(-3000, 3000, (10, outputs, kernel, kernel), generator=generator).double()
    bias = torch.randint(-9000, 9000, (outputs,), generator=generator).double()
    reference = F.conv_transpose2d(x[None], weight, bias, stride=2, padding=kernel // 2, output_padding=1)[0]
    assert np.array_equal(ConvTranspose(weight.numpy(), bias.numpy())(x.numpy()), reference.numpy())


@pytest.mark.parametrize("kernel, stride", [(1, 1), (3, 1), (5, 1), (5, 2), (3, 2)])
@pytest.mark.parametrize("height", [8, 7])  # odd sizes: the strided output rounds up, as torch's
def test_convolution_equals_torchs_exactly_on_integers(kernel, stride, height, strips):
    generator = torch.Generator().manual_seed(kernel)
    x = torch.randint(-500, 500, (6, height, 5), generator=generator).double()
    weight = torch.randint(-3000, 3000, (4, 6, kernel, kernel), generator=generator).double()
    bias = torch.randint(-9000, 9000, (4,), generator=generator).double()
    reference = F.conv2d(x[None], weight, bias, stride=stride, padding=kernel // 2)[0]
    assert np.array_equal(Conv(weight.numpy(), bias.numpy(), stride)(x.numpy()), reference.numpy())


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("shape", [(3, 1, 1), (5, 2, 9), (7, 9, 2), (2, 4, 4)])
def test_a_stride_1_convolution_over_flat_views_equals_shifted_copies_and_torch(kernel, shape, strips):
    generator = torch.Generator().manual_seed(sum(shape) + kernel)
    x = torch.randint(0, 1 << 14, shape, generator=generator).double()  # activations as the exact path holds them
    weight = torch.randint(-4096, 4096, (4, shape[0], kernel, kernel), generator=generator).double()
    bias = torch.randint(-9000, 9000, (4,), generator=generator).double()
    conv = Conv(weight.numpy(), bias.numpy())
    flat = conv(x.numpy())
    columns = ops._shifted(x.numpy(), kernel)  # the shifted copies (im2col) that stride 1 used before 0.8.0
    assert np.array_equal(flat, (conv.matrix @ columns).reshape(flat.shape) + conv.bias)
    assert np.array_equal(flat, F.conv2d(x[None], weight, bias, padding=kernel // 2)[0].numpy())


def test_inverse_gdn_equals_the_models(strips):
    from aec.layers import GDN as TorchGDN

    torch.manual_seed(0)
    layer = TorchGDN(8, inverse=True)
    with torch.no_grad():
        layer.gamma.uniform_(0.0, 0.5)
    x = torch.randn(1, 8, 5, 6)
    gamma = layer.gamma.detach().clamp(min=2**-9) ** 2 - 2**-18
    beta = layer.beta.detach().clamp(min=(1e-6 + 2**-18) ** 0.5) ** 2 - 2**-18
    ours = GDN(gamma.numpy(), beta.numpy(), inverse=True)(x[0].numpy())
    assert np.allclose(ours, layer(x)[0].detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("at_floor", [False, True])
def test_gdn_from_stored_parameters_equals_the_models_floor_or_none(strips, inverse, at_floor):
    from aec.layers import GDN as TorchGDN

    torch.manual_seed(1)
    layer = TorchGDN(8, inverse=inverse)
    with torch.no_grad():
        layer.gamma.uniform_(0.0, 0.5)
        layer.beta.uniform_(0.5, 1.5)
        if at_floor:  # betas trained to the lower bound, as some of the shipped models' are
            layer.beta[::3] = 0.0
            layer.gamma[::3] = 0.0  # and these channels' norm is then beta alone: the floor decides it
    x = torch.randn(1, 8, 5, 6)
    ours = GDN.from_stored(layer.gamma.detach().numpy(), layer.beta.detach().numpy(), inverse=inverse)
    assert ours.floor == at_floor  # the floor's pass only where a beta lies under 1e-6
    assert np.allclose(ours(x[0].numpy()), layer(x)[0].detach().numpy(), rtol=1e-5, atol=1e-7)
    negative = ours.gamma.copy()
    negative[0, 1] = -0.5  # given directly, a negative gamma could take the sum under beta: the floor stays
    assert GDN(negative, ours.beta[:, 0], inverse).floor


def test_decoder_gives_the_encoders_symbols_and_torchs_pixels_within_a_level(model):
    x = torch.from_numpy(smooth_image(192, 256, 3)).permute(2, 0, 1)[None].float() / 255
    for quality in (1.0, 2.4, 3.0):
        coded = model.compress(x, quality)
        torch_pixels = model.decompress(coded.z_payload, coded.y_payload, quality, 192, 256, coded.checksum)[0]
        # The checksum of the decoded symbols is checked inside: a different symbol would raise FormatError.
        numpy_pixels = model.decoder().decode(coded.z_payload, coded.y_payload, quality, 192, 256, coded.checksum)
        assert numpy_pixels.shape == (3, 192, 256) and numpy_pixels.dtype == np.float32
        levels = np.abs(np.round(numpy_pixels * 255) - np.round(torch_pixels.numpy() * 255))
        assert levels.max() <= 1 and (levels > 0).mean() < 1e-3


@pytest.mark.parametrize("tile", [4, 48])  # synthesis tiles of 4 latent pixels, or the image in one
def test_the_picture_decoded_tile_by_tile_is_the_float_decode_rounded(model, monkeypatch, tile):
    import aec.channel_slice as channel_slice

    x = torch.from_numpy(smooth_image(192, 320, 4)).permute(2, 0, 1)[None].float() / 255
    coded = model.compress(x, 2.0)
    decoder = model.decoder()
    monkeypatch.setattr(channel_slice, "SYNTHESIS_TILE", tile)
    pixels = decoder.decode(coded.z_payload, coded.y_payload, 2.0, 192, 320, coded.checksum)
    rgb = decoder.decode_rgb(coded.z_payload, coded.y_payload, 2.0, 192, 320, coded.checksum)
    assert rgb.shape == (192, 320, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert np.array_equal(rgb, np.round(pixels * 255).astype(np.uint8).transpose(1, 2, 0))
    assert rgb.std() > 1  # a picture, not a constant


def test_to_uint8_rounds_half_to_even_and_clamps():
    x = np.array([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255, 1.0, 1.5], np.float32)
    assert ops.to_uint8(x.copy()).tolist() == [0, 0, 0, 2, 2, 254, 255, 255]


def test_decoder_reports_a_checksum_mismatch(model):
    x = torch.from_numpy(smooth_image(64, 64, 1)).permute(2, 0, 1)[None].float() / 255
    coded = model.compress(x, 2.0)
    with pytest.raises(FormatError, match="checksum"):
        model.decoder().decode(coded.z_payload, coded.y_payload, 2.0, 64, 64, coded.checksum ^ 1)


def test_a_model_file_of_another_architecture_is_refused_by_name(tmp_path, model):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(1, np.float32)}, str(path),
              metadata={"model_id": "x", "architecture": "aec-other-v9", "config": "{}"})
    with pytest.raises(ModelMismatchError, match="unknown architecture 'aec-other-v9'"):
        decoder_from_file(path)


def default_model_vector() -> Path:
    """The default model's 64x48 RGB golden vector: format 1's where it has one, else format 2's (models released
    since format 2 have that alone)."""
    from aec.manifest import read_manifest

    default = read_manifest()["default"]
    vector = VECTORS / f"{default}_rgb_64x48.aec"
    return vector if vector.is_file() else VECTORS / f"{default}_rgb_64x48_f2.aec"


def test_the_default_model_has_a_golden_vector_to_code_with():
    assert default_model_vector().is_file()


def test_coding_with_a_shipped_model_at_effort_0_imports_no_torch():
    vector = default_model_vector()
    script = ("import sys, aec; array = aec.decompress_array(sys.argv[1]); "
              "assert array.shape == (48, 64, 3), array.shape; "
              "assert aec.decompress_array(aec.compress(array)).shape == (48, 64, 3); "
              "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", script, str(vector)], check=True, timeout=120)


def test_without_torch_installed_aec_codes_at_effort_0_and_a_higher_effort_says_what_is_missing(tmp_path):
    vector = default_model_vector()
    run = ("import sys; sys.modules['torch'] = None; sys.argv = ['aec', *sys.argv[1:]]; "  # as if torch were absent
           "from aec.cli import main; main()")

    def aec(*arguments):
        return subprocess.run([sys.executable, "-c", run, *arguments], capture_output=True, text=True, timeout=120)

    decoded = aec("decompress", str(vector), "-o", str(tmp_path / "out.png"))
    assert decoded.returncode == 0, decoded.stderr
    assert (tmp_path / "out.png").is_file()
    coded = aec("compress", str(tmp_path / "out.png"), "-o", str(tmp_path / "again.aec"))
    assert coded.returncode == 0, coded.stderr
    assert aec("decompress", str(tmp_path / "again.aec"), "-o", str(tmp_path / "again.png")).returncode == 0
    refused = aec("compress", "-e", "1", str(tmp_path / "out.png"), "-o", str(tmp_path / "refined.aec"))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "aec: error: cannot load the model: encoding with effort above 0 (or on a device) needs PyTorch, which is not "
        'installed here: pip install "aec-codec[torch]" (effort 0 and decoding do not)']
    assert not (tmp_path / "refined.aec").exists()


def test_one_and_two_blas_threads_give_the_same_symbols_and_pixels_within_a_level(model):
    import threadpoolctl

    x = torch.from_numpy(smooth_image(192, 256, 4)).permute(2, 0, 1)[None].float() / 255
    coded = model.compress(x, 2.0)
    decoder = model.decoder()
    decoded = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads):  # the checksum of the symbols is checked each time
            decoded.append(decoder.decode(coded.z_payload, coded.y_payload, 2.0, 192, 256, coded.checksum))
    levels = np.abs(np.round(decoded[0] * 255) - np.round(decoded[1] * 255))
    assert levels.max() <= 1 and (levels > 0).mean() < 1e-3


def test_a_file_of_the_decoder_side_alone_decodes_as_the_whole_model_file(tiny_weights, tiny_codec, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from aec.channel_slice import DECODER_NAMES, DECODER_PREFIXES
    from aec.decoder import decoder_from_file, decoder_side_bytes

    with safe_open(str(tiny_weights), framework="numpy") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(tiny_weights))
    side = {name: value for name, value in tensors.items() if name.startswith(DECODER_PREFIXES) or name in DECODER_NAMES}
    save_file(side, str(tmp_path / "decoder.safetensors"), metadata=metadata)
    assert decoder_side_bytes(tiny_weights) == sum(value.nbytes for value in side.values()) < sum(
        value.nbytes for value in tensors.values())
    from aec.bitstream import parse

    header, sections = parse(tiny_codec.compress(smooth_image(40, 70), 50))
    payloads = {section.kind: section.payload for section in sections}
    arguments = (payloads["ZHYP"], payloads["YLAT"], header.quality, 64, 128, header.symbol_checksum)
    alone = decoder_from_file(tmp_path / "decoder.safetensors")[0].decode(*arguments)
    assert np.array_equal(alone, decoder_from_file(tiny_weights)[0].decode(*arguments))


def test_workers_decode_the_same_symbols_and_pixels_as_one_thread(model, monkeypatch):
    """aec.ops.workers shares the layers out to threads: the same symbols (the checksum is checked inside) and the
    very same pixels, since every layer splits its work into the same ranges for any number of workers (in small
    strips here, so that every layer is split)."""
    x = torch.from_numpy(smooth_image(192, 256, 3)).permute(2, 0, 1)[None].float() / 255
    coded = model.compress(x, 2.0)
    decoder = model.decoder()
    monkeypatch.setattr(ops, "STRIP_BYTES", 4096)
    with ops.one_thread_blas():
        alone = decoder.decode(coded.z_payload, coded.y_payload, 2.0, 192, 256, coded.checksum)
    for jobs in (2, 3, 4):
        with ops.workers(jobs):
            shared = decoder.decode(coded.z_payload, coded.y_payload, 2.0, 192, 256, coded.checksum)
        assert np.array_equal(shared, alone), jobs


def test_the_ranges_of_a_layer_do_not_depend_on_the_number_of_workers():
    for total, size in ((7, 100), (32, 12), (256, 72), (1000, 1)):
        split = ops._ranges(total, size)
        for jobs in (2, 3, 16):
            with ops.workers(jobs):
                assert ops._ranges(total, size) == split
        assert split[0][0] == 0 and split[-1][1] == total
        assert all(a[1] == b[0] for a, b in zip(split, split[1:]))  # contiguous, no overlap
        assert len(split) >= min(total, ops.PIECES)


def test_a_codec_decodes_the_same_pixels_with_any_number_of_threads(tiny_weights):
    import aec

    data = aec.Codec(weights=tiny_weights).compress(smooth_image(100, 140, 5), model_quality=2)
    pixels = [aec.Codec(weights=tiny_weights, threads=threads).decompress_array(data) for threads in (1, 2, 3, 5)]
    assert all(np.array_equal(pixels[0], other) for other in pixels[1:])


def test_an_error_in_a_worker_reaches_the_caller_after_every_range_has_stopped():
    """A range that fails (an interrupt, no memory) fails the layer in the caller's thread, the ranges not yet begun
    are cancelled, and none runs after the call has returned."""
    import time

    ran: list[int] = []

    def work(start: int, stop: int) -> None:
        time.sleep(0.01)
        if start == 2:
            raise MemoryError("no room")
        ran.append(start)

    with ops.workers(2), pytest.raises(MemoryError, match="no room"):
        ops._each(work, [(i, i + 1) for i in range(40)])
    count = len(ran)
    time.sleep(0.1)
    assert len(ran) == count and count <= 6


def test_workers_are_capped_so_that_their_strips_stay_bounded():
    with ops.workers(1000):
        assert ops._JOBS.get() == ops.MAX_WORKERS
        assert len(ops._ranges(10_000, 1 << 30)) == ops.PIECES  # as for one worker
    assert ops._JOBS.get() == 1
