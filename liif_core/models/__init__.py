"""Model registry: build networks from ``{'name': ..., 'args': {...}}`` specs, as the paper's code does.

Keeping the official registry names and spec layout means a checkpoint written by
github.com/yinboc/liif describes its own architecture and can be rebuilt here unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Class/function decorator that makes ``name`` available to :func:`make`."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = builder
        return builder

    return decorator


def make(spec: dict[str, Any], args: dict[str, Any] | None = None) -> nn.Module:
    """Build the network described by ``spec`` (``args`` override the spec's own arguments)."""
    name = spec.get("name")
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}")
    model_args = copy.deepcopy(spec.get("args") or {})
    if args:
        model_args.update(args)
    return _REGISTRY[name](**model_args)


from liif_core.models import edsr, liif, mlp, rdn  # noqa: E402,F401  (fill the registry)
