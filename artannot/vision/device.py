"""Choose where models run: CUDA when present (half precision there), else the CPU."""

from __future__ import annotations

import torch

from artannot.core.errors import ModelError


def select_device(preference: str | None = None) -> torch.device:
    """``None``/``"auto"`` picks CUDA if available, else CPU; anything else is honoured or refused.

    Refusing an unavailable device (rather than falling back) keeps ``--device cuda`` honest:
    a user who asked for the GPU should learn it is not there.
    """
    if preference is None or preference.strip().lower() in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference.strip().lower())
    except RuntimeError as exc:
        raise ModelError(f"unknown device {preference!r}: {exc}") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {preference!r} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelError(f"device {preference!r} requested but only "
                             f"{torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ModelError(f"device {preference!r} requested but MPS is not available")
    elif device.type != "cpu":
        raise ModelError(f"unsupported device {preference!r}; use auto, cpu, cuda or cuda:N")
    return device


def use_half(device: torch.device) -> bool:
    """Half precision only on CUDA: CPU fp16 convolutions are slow and less accurate."""
    return device.type == "cuda"
