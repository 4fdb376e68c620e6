"""The model: the coder's exact path reproduces training's eval pass, and decoding is deterministic."""

import pytest
import torch

from aec.bitstream import FormatError
from aec.config import TINY
from aec.model import AECModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(7)
    m = AECModel(TINY).eval()
    m.freeze()
    return m


def _image(seed=0, h=128, w=192):
    from tests.conftest import smooth_image

    return torch.from_numpy(smooth_image(h, w, seed)).permute(2, 0, 1).unsqueeze(0).float() / 255


def test_training_forward_gives_gradients_for_every_trained_part():
    torch.manual_seed(0)
    m = AECModel(TINY).train()
    with torch.no_grad():  # the tiny untrained h_a gives |z| < 1/2; training grows it quickly
        m.latent_codec.h_a[-1].weight *= 10
    out = m(torch.rand(2, 3, 128, 128), torch.tensor([1, 3]))
    loss = ((out["x_hat"] - 0.5) ** 2).mean() + (out["y_bits"] + out["z_bits"]).mean() * 1e-3
    loss.backward()
    for name in ["g_a.0.weight", "g_s.0.weight", "latent_codec.h_a.0.weight", "latent_codec.h_s.0.weight",
                 "latent_codec.context.params.0.0.weight", "latent_codec.context.residuals.1.0.weight",
                 "latent_codec.prior.matrices.0", "log_gains", "log_inverse_gains"]:
        grad = dict(m.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_decoder_reconstruction_equals_eval_forward(model):
    x = _image()
    coded = model.compress(x, 2.0)
    x_hat = model.decompress(coded.z_payload, coded.y_payload, 2.0, 128, 192, coded.checksum)
    with torch.no_grad():
        reference = model(x, torch.tensor([2.0]))["x_hat"].clamp(0, 1)
    # the decoder synthesizes in float64, training's forward in float32
    assert torch.allclose(x_hat, reference, atol=1e-5)


def test_payload_size_matches_estimated_rate(model):
    x = _image(1, 256, 256)
    coded = model.compress(x, 3.0)
    real = 8 * (len(coded.z_payload) + len(coded.y_payload))
    assert abs(real - coded.estimated_bits) <= 0.03 * coded.estimated_bits + 64


def test_estimated_rate_equals_eval_forward_rate(model):
    x = _image(2)
    coded = model.compress(x, 1.5)
    with torch.no_grad():
        out = model(x, torch.tensor([1.5]))
    assert coded.estimated_bits == pytest.approx(float(out["y_bits"] + out["z_bits"]), rel=1e-4)


def test_higher_quality_spends_more_bits(model):
    x = _image(3)
    sizes = [len(model.compress(x, q).y_payload) for q in (1.0, 2.0, 3.0)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_decoding_is_identical_with_one_and_two_threads(model):
    x = _image(4)
    coded = model.compress(x, 2.5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.decompress(coded.z_payload, coded.y_payload, 2.5, 128, 192, coded.checksum)
        torch.set_num_threads(2)
        two = model.decompress(coded.z_payload, coded.y_payload, 2.5, 128, 192, coded.checksum)
        model.place("cpu")  # channels_last transforms, as a Codec holds them
        again = model.decompress(coded.z_payload, coded.y_payload, 2.5, 128, 192, coded.checksum)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two) and torch.equal(one, again)


def test_wrong_weights_are_caught_as_a_desync(model):
    x = _image(5)
    coded = model.compress(x, 2.0)
    torch.manual_seed(99)
    other = AECModel(TINY).eval()
    other.freeze()
    # Other tables decode other symbols: the stream runs out early, keeps data after its end, or the checksum differs.
    with pytest.raises(FormatError, match="checksum|ends early|data after its last symbol"):
        other.decompress(coded.z_payload, coded.y_payload, 2.0, 128, 192, coded.checksum)


def test_gains_interpolate_between_trained_qualities(model):
    gain, _ = model.gains(torch.tensor([1.0, 1.5, 2.0]))
    expected = torch.sqrt(gain[0] * gain[2])
    assert torch.allclose(gain[1], expected, rtol=1e-5)


def test_model_files_keep_the_first_release_tensor_names_and_both_layouts_load():
    torch.manual_seed(5)
    source = AECModel(TINY)
    file_layout = source.file_state_dict()
    assert "h_a.0.weight" in file_layout and "scale_table" in file_layout and "context.params.0.0.weight" in file_layout
    assert not any(key.startswith("latent_codec.") for key in file_layout)
    for state in (file_layout, source.state_dict()):  # old checkpoints and model files; new checkpoints
        target = AECModel(TINY)
        target.load_state_dict(state)
        for key, value in source.state_dict().items():
            assert torch.equal(target.state_dict()[key], value), key


def test_place_moves_the_float_transforms_and_keeps_the_probability_path_on_the_cpu():
    m = AECModel(TINY).place("meta")
    on_device = {name for name, p in m.named_parameters() if p.device.type == "meta"}
    expected = {name for name, _ in m.named_parameters()
                if name.startswith(("g_a.", "g_s.", "latent_codec.h_a."))}
    assert on_device == expected and m.device.type == "meta"
    for name, tensor in [*m.latent_codec.h_s.named_buffers(), *m.latent_codec.context.named_buffers(),
                         *m.latent_codec.prior.named_buffers(), *m.latent_codec.gaussian.named_buffers()]:
        assert tensor.device.type == "cpu", name
