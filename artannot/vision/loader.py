"""Build detectors and feature extractors by name, with weights from the model manager.

The one place where files meet modules: a name is either a model name (manifest or custom
entry, e.g. ``resnet50_imagenet_v1``) or an architecture (``efficientnet_lite0``), in which
case the first installed weights for it are used. An imported CLIP folder (role "clip") is a
backbone too: its name, or ``clip`` for the first one installed (:mod:`artannot.vision.clip`).  Random weights are only ever used when a
caller asks for them explicitly (benchmarks), never silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from artannot.core.errors import ModelError
from artannot.models import ModelManager
from artannot.vision.backbones import (
    BACKBONES,
    CLIP_BACKBONE,
    build_backbone,
    fuse_for_inference,
    get_backbone_spec,
)
from artannot.vision.detect import (
    DETECTORS,
    FasterRCNNDetector,
    ProposalDetector,
    get_detector_spec,
)
from artannot.vision.features import RegionFeatureExtractor
from artannot.vision.proposals import ProposalConfig

DEFAULT_DETECTOR = "proposals"
DEFAULT_BACKBONE = "efficientnet_lite0"


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors only (``weights_only``): a checkpoint must never run code when loaded."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a usable checkpoint"
        raise ModelError(f"not a readable PyTorch checkpoint: {exc}", path) from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError("checkpoint does not hold a state dict of tensors", path)
    return obj


def _resolve(name: str, role: str | tuple[str, ...], registry: dict[str, Any],
             manager: ModelManager) -> tuple[str, str | None]:
    """``(architecture, model name or None)`` for a model name or an architecture name;
    ``role``: the role(s) a model may have here (a CLIP model serves as a backbone)."""
    roles = (role,) if isinstance(role, str) else role
    known = {s.name: s for s in manager.list()}
    if name in known:
        status = known[name]
        if status.role not in roles:
            raise ModelError(f"model {name!r} is a {status.role}, not a {roles[0]}")
        return status.architecture, name
    if name not in registry:
        raise ModelError(f"unknown {roles[0]} {name!r}: neither an installed model nor an "
                         f"architecture ({', '.join(sorted(registry))})")
    for status in manager.installed():
        if status.role in roles and status.architecture == name:
            return name, status.name
    return name, None


def _load_weights(module: torch.nn.Module, model_name: str, manager: ModelManager) -> str:
    path = manager.path_for(model_name)  # raises on a hash mismatch
    state = load_state_dict_file(path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"weights of {model_name!r} do not fit its architecture: "
                         f"{str(exc).splitlines()[0]}", path) from exc
    return manager.sha256_for(model_name)


def _weights_or_refuse(module: torch.nn.Module, role: str, arch: str, model_name: str | None,
                       manager: ModelManager, allow_random: bool) -> str | None:
    """Load the installed weights into ``module`` (returns their sha256); random weights only
    when asked for (tests, benchmarks), never silently."""
    if model_name is not None:
        return _load_weights(module, model_name, manager)
    if not allow_random:
        raise ModelError(f"no weights installed for {role} {arch!r}; import some with "
                         "`artannot models import FILE` (see `artannot models list`)")
    return None


def load_extractor(
    backbone: str = DEFAULT_BACKBONE,
    *,
    manager: ModelManager,
    device: torch.device | str = "cpu",
    min_size: int = 600,
    max_size: int = 1000,
    allow_random: bool = False,
) -> RegionFeatureExtractor:
    arch, model_name = _resolve(backbone, ("backbone", "clip"), BACKBONES, manager)
    if arch == CLIP_BACKBONE:  # a CLIP folder, never random weights
        from artannot.vision.clip import load_clip_extractor

        if model_name is None:
            raise ModelError("no CLIP model installed for the clip backbone; import a Hugging "
                             "Face CLIP folder with `artannot models import-dir FOLDER`")
        return load_clip_extractor(model_name, manager=manager, device=device,  # type: ignore[return-value]
                                   min_size=min_size, max_size=max_size)
    module = build_backbone(arch)
    sha = _weights_or_refuse(module, "backbone", arch, model_name, manager, allow_random)
    module = fuse_for_inference(module)
    return RegionFeatureExtractor(module, get_backbone_spec(arch), weights=model_name, sha256=sha,
                                  device=device, min_size=min_size, max_size=max_size)


def load_detector(
    detector: str = DEFAULT_DETECTOR,
    *,
    manager: ModelManager,
    device: torch.device | str = "cpu",
    k: int = 36,
    score_floor: float = 0.05,
    min_size: int = 600,
    max_size: int = 1000,
    allow_random: bool = False,
) -> ProposalDetector | FasterRCNNDetector:
    if detector == "proposals":
        return ProposalDetector(ProposalConfig(k=k))
    arch, model_name = _resolve(detector, "detector", DETECTORS, manager)
    spec = get_detector_spec(arch)
    if spec.builder is None:
        raise ModelError(f"detector {arch!r} has no architecture to load weights into")
    module = spec.builder()
    sha = _weights_or_refuse(module, "detector", arch, model_name, manager, allow_random)
    return FasterRCNNDetector(module, name=arch, weights=model_name, sha256=sha, device=device,
                              k=k, score_floor=score_floor, min_size=min_size, max_size=max_size)


def model_key(detector: Any, extractor: RegionFeatureExtractor) -> str:
    """Folder name for a feature store: which detector and which weights made it."""
    det = detector.identity()
    ext = extractor.identity()
    parts = [det["weights"] or det["detector"]]
    if det.get("sha256"):
        parts[-1] += f"-{det['sha256'][:8]}"
    parts.append((ext["weights"] or ext["backbone"]) + (f"-{ext['sha256'][:8]}" if ext["sha256"] else ""))
    size = ext["params"]
    parts.append(f"k{det['params']['k']}_{size['min_size']}-{size['max_size']}")
    return "__".join(parts)
