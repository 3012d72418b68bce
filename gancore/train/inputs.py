"""What the trainer hands G and D besides noise and images: positional conditions and named inputs.

    G(*noise, *args, **named)        D(x, *args, **named)

Unconditional and class-conditional models take positional conditions, ``G(z, labels)``;
translation models take named inputs and no noise, ``G(content=c, exemplar=e)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class ModelInputs:
    """Positional conditions ``args`` and named inputs ``named``, each (N, ...) with one row per image."""

    args: tuple[Tensor, ...] = ()
    named: dict[str, Tensor] = field(default_factory=dict)

    @classmethod
    def checked(cls, condition: Sequence[Tensor], inputs: Mapping[str, Tensor] | None,
                n: int) -> "ModelInputs":
        """``condition`` and ``inputs`` together; a named input must be a tensor with ``n`` rows
        under a name that can be a keyword argument."""
        if any(len(c) != n for c in condition):
            raise ValueError("every condition tensor needs one entry per real image")
        named = dict(inputs or {})
        for name, x in named.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"input names become keyword arguments of G and D, so each must be a "
                                 f"Python identifier; got {name!r}")
            if not isinstance(x, Tensor):
                raise TypeError(f"input {name!r} must be a tensor (N, ...), got {type(x).__name__}")
            if len(x) != n:
                raise ValueError(f"input {name!r} has {len(x)} entries for {n} real images; "
                                 "pass one entry per real image")
        return cls(tuple(condition), named)

    def rows(self, index: Tensor | slice, device: torch.device | None = None) -> "ModelInputs":
        """Rows ``index`` of every input, moved to ``device`` when one is given."""
        def take(x: Tensor) -> Tensor:
            return x[index] if device is None else x[index].to(device, non_blocking=True)
        return ModelInputs(tuple(take(c) for c in self.args), {k: take(v) for k, v in self.named.items()})

    def call(self, net: nn.Module, *leading: Tensor) -> Tensor:
        """``net(*leading, *args, **named)``: ``leading`` is the noise for G, the image for D."""
        return net(*leading, *self.args, **self.named)
