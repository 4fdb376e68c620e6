"""The trainer's precision: the faster of bf16 autocast and float32 on this machine, unless asked."""

import pytest
import torch

from aec.config import TINY
from aec.model import AECModel
from aec.train.precision import TRIALS, choose_bf16, time_pass


def _timer(bf16_seconds, float32_seconds, calls):
    def timer(model, bf16, device):
        calls.append(bf16)
        return bf16_seconds if bf16 else float32_seconds
    return timer


@pytest.mark.parametrize("bf16_seconds, float32_seconds, chosen", [(0.5, 1.0, True), (7.0, 1.0, False)])
def test_the_faster_precision_is_chosen_on_the_cpu(bf16_seconds, float32_seconds, chosen):
    calls = []
    bf16, why = choose_bf16(None, None, torch.device("cpu"), _timer(bf16_seconds, float32_seconds, calls))
    assert bf16 is chosen
    assert f"{bf16_seconds * 1000:.0f} ms with bf16" in why and f"{float32_seconds * 1000:.0f} ms in float32" in why
    assert calls.count(True) == calls.count(False) == TRIALS + 1  # a warm-up pass, then the timed ones


@pytest.mark.parametrize("requested", [True, False])
def test_a_requested_precision_is_kept_without_a_measurement(requested):
    calls = []
    assert choose_bf16(requested, None, torch.device("cpu"), _timer(1.0, 1.0, calls)) == (requested, "as asked")
    assert calls == []


def test_a_timed_pass_leaves_no_gradients_and_the_random_state_as_it_was():
    model = AECModel(TINY).train()
    state = torch.random.get_rng_state()
    assert time_pass(model, False, torch.device("cpu")) > 0
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.random.get_rng_state(), state)
