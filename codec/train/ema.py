"""An exponential moving average (EMA) of the model's weights, the weights that are validated and exported."""

from __future__ import annotations

import copy

import torch


class EMA:
    """After every optimizer step, average <- decay * average + (1 - decay) * weights, for every parameter.

    Buffers (integer twins, coding tables) are not averaged: they are copied from the model whenever the average
    is used (validation, checkpoint), which costs nothing per step. The average lives on the model's device.
    """

    def __init__(self, model: torch.nn.Module, decay: float, state: dict | None = None):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an EMA decay is between 0 and 1, not {decay}")
        self.decay = decay
        self.source = model
        self.average = copy.deepcopy(model).eval().requires_grad_(False)
        if state is not None:  # a resumed average; without one it starts from the model's current weights
            self.average.load_state_dict(state)

    @torch.no_grad()
    def update(self) -> None:
        """Average the trained parameters; frozen ones (--train-only) stay bit for bit as they are."""
        pairs = [(a, p) for a, p in zip(self.average.parameters(), self.source.parameters()) if p.requires_grad]
        torch._foreach_lerp_([a for a, _ in pairs], [p.detach() for _, p in pairs], 1.0 - self.decay)

    @torch.no_grad()
    def module(self) -> torch.nn.Module:
        """The averaged model (eval mode), its buffers brought up to date from the model."""
        for average, current in zip(self.average.buffers(), self.source.buffers()):
            average.copy_(current)
        return self.average

    def state_dict(self) -> dict:
        return self.module().state_dict()
