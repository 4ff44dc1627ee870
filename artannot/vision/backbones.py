"""Feature backbones by name: ImageNet CNNs whose last feature map RoIAlign pools.

Each backbone returns its stride-32 feature map and can classify a pooled vector (used to
check that imported weights really are what they claim).  Parameter names equal those of
the checkpoints they load, so a state dict loads with ``strict=True`` and no renaming.
Weights come from the model manager via :mod:`artannot.vision.loader`; modules here never
touch files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from artannot.core.errors import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The TF EfficientNet-Lite checkpoints expect (x - 127) / 128 on 0..255 input.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True, slots=True)
class BackboneSpec:
    name: str
    builder: Callable[[], nn.Module]
    dim: int  # channels of the feature map = region feature dimension
    stride: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(name: str, *, dim: int, stride: int = 32, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Decorator: add a builder to the plain-dict registry (like torchvision's register_model)."""

    def wrap(fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        BACKBONES[name] = BackboneSpec(name, fn, dim, stride, tuple(mean), tuple(std))
        return fn

    return wrap


def list_backbones() -> list[str]:
    return sorted(BACKBONES)


def get_backbone_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ModelError(f"unknown backbone {name!r}; known: {', '.join(list_backbones())}") from None


def build_backbone(name: str) -> nn.Module:
    """A randomly initialised backbone; load weights with ``load_state_dict``."""
    return get_backbone_spec(name).builder()


# (conv, bn) attribute pairs per module class, folded by ``fuse_for_inference``.
_FUSE_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "EfficientNetLite": (("_conv_stem", "_bn0"), ("_conv_head", "_bn1")),
    "MBConv": (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")),
    "ResNetBackbone": (("conv1", "bn1"),),
    "Bottleneck": (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
    "BasicBlock": (("conv1", "bn1"), ("conv2", "bn2")),
    "Sequential": (("0", "1"),),  # ResNet downsample: conv then bn
}


@torch.no_grad()
def fuse_for_inference(model: nn.Module) -> nn.Module:
    """Fold eval-mode BatchNorm into the preceding conv (~15-25% faster on a CPU).

    Call after loading weights; the result can no longer load a state dict or train.
    """
    model.eval()
    for module in list(model.modules()):
        for conv_name, bn_name in _FUSE_PAIRS.get(type(module).__name__, ()):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    return model


# -- EfficientNet-Lite0/1/2 -------------------------------------------------------------------
class SameConv2d(nn.Conv2d):
    """Conv with TensorFlow 'SAME' padding (asymmetric on even sizes), as the weights expect."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.stride == (1, 1):  # odd kernel, stride 1: SAME is symmetric, let conv pad
            self.padding = (self.kernel_size[0] // 2, self.kernel_size[1] // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return super().forward(x)
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation, ReLU6 (the 'Lite' variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)), inplace=True)
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


# (kernel, stride, expand, out, repeats) for Lite0 = B0 layout with width/depth 1.0
_LITE0_STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                 (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel scaling: ``filters * width`` to a multiple of 8, >= 90%."""
    f = filters * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * f else new)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0..2 with lukemelas-style names (``_conv_stem``, ``_blocks.N``, ``_fc``).

    Lite1/2 scale Lite0's stages as the Lite family does: the stem (32) and head (1280) stay
    fixed, as do the first and last stage's repeats; other repeats grow by ``depth``.
    """

    def __init__(self, num_classes: int = 1000, *, width: float = 1.0, depth: float = 1.0) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        cin = 32
        last = len(_LITE0_STAGES) - 1
        for s, (kernel, stride, expand, cout, repeats) in enumerate(_LITE0_STAGES):
            cout = _round_filters(cout, width)
            repeats = repeats if s in (0, last) else math.ceil(repeats * depth)
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map [B, 1280, H/32, W/32] (after the head conv, before pooling)."""
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)), inplace=True)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        return self._fc(pooled)


# Input side each Lite net was trained at (whole-image features use it; regions use the
# detection size).
LITE_RESOLUTION = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


@register_backbone("efficientnet_lite0", dim=1280, mean=LITE_MEAN, std=LITE_STD)
def efficientnet_lite0() -> nn.Module:
    return EfficientNetLite()


@register_backbone("efficientnet_lite1", dim=1280, mean=LITE_MEAN, std=LITE_STD)
def efficientnet_lite1() -> nn.Module:
    return EfficientNetLite(width=1.0, depth=1.1)


@register_backbone("efficientnet_lite2", dim=1280, mean=LITE_MEAN, std=LITE_STD)
def efficientnet_lite2() -> nn.Module:
    return EfficientNetLite(width=1.1, depth=1.2)


# -- ResNets (torchvision layout, so torchvision checkpoints load as they are) -------------
class ResNetBackbone(ResNet):
    """torchvision ResNet returning the layer4 map; ``fc`` kept for the sanity check."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc(pooled)


@register_backbone("resnet18", dim=512)
def resnet18() -> nn.Module:
    return ResNetBackbone(BasicBlock, [2, 2, 2, 2])


@register_backbone("resnet50", dim=2048)
def resnet50() -> nn.Module:
    return ResNetBackbone(Bottleneck, [3, 4, 6, 3])


@register_backbone("resnet101", dim=2048)
def resnet101() -> nn.Module:
    return ResNetBackbone(Bottleneck, [3, 4, 23, 3])


# -- CLIP (artannot.vision.clip) --------------------------------------------------------
CLIP_BACKBONE = "clip"


@register_backbone(CLIP_BACKBONE, dim=0, stride=0)
def clip() -> nn.Module:
    """The image tower of an imported CLIP folder: a region's feature is the unit CLIP image
    embedding of its crop, ``projection_dim``-d (hence ``dim=0`` here: it depends on the
    model), preprocessed as the folder's ``preprocessor_config.json`` says. It is built from
    the folder by :func:`artannot.vision.clip.load_clip`, never from a state dict."""
    raise ModelError("the clip backbone is built from an installed CLIP model folder: use "
                     "--backbone with its name (`artannot models import-dir FOLDER`, "
                     "`artannot models list`)")
