"""An exponential moving average of the weights during training (``train.ema`` in the config).

The average of the last thousand or so steps' weights usually scores a little higher than the
weights of the last step, and it is nearly free: one ``lerp`` per tensor per step. The training
loop validates both and keeps the average beside the checkpoint (``last.ema.pt``), so one run
shows whether it helps, and ``export --ema`` ships it if so.

Config: ``"ema": {"decay": 0.999, "from_step": N}``. The average starts as a copy of the weights
at step ``from_step`` (0 by default), so a schedule extended later can start it where the new
part begins and still be reproduced from scratch. The first updates use a smaller decay,
``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early weights do not linger.
"""

from __future__ import annotations

import copy
from typing import Any

import torch


class WeightAverage:
    """The running average of a model's floating-point weights and buffers, in float32."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"train.ema.decay must be between 0 and 1, got {decay!r}")
        self.decay = decay
        self.updates = 0
        self.params = {k: v.detach().float().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards the model's current weights (call after each optimizer step)."""
        self.updates += 1
        weight = 1 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        state = model.state_dict()
        # one multi-tensor kernel on a GPU instead of one launch per weight, the same arithmetic
        torch._foreach_lerp_(list(self.params.values()), [state[k].float() for k in self.params], weight)

    def model(self, like: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``like`` holding the averaged weights (for validation)."""
        return self.load_into(copy.deepcopy(like))

    def load_into(self, model: torch.nn.Module) -> torch.nn.Module:
        """Put the averaged weights into ``model`` (for export) and return it."""
        model.load_state_dict({**model.state_dict(), **self.params})
        return model

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates,
                "params": {k: v.contiguous() for k, v in self.params.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["params"].keys() != self.params.keys():
            raise ValueError("the saved weight average is of a different architecture")
        self.updates = state["updates"]
        # into the tensors made from the model: its device and layout (a channels-last run's
        # average saved contiguous would otherwise put each update on PyTorch's per-tensor path)
        for k, v in state["params"].items():
            self.params[k].copy_(v)
