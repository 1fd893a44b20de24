"""Where each library keeps each layer: ``(place, role)`` -> its state-dict prefix.

A netspace network names every conv, BN, SE and FC layer by place and role
(``Network.layer_roles``: place "stem", "head" or the 1-based ``(stage,
block)``; roles ``a``, ``a_bn``, ``b``, ``b_bn``, ``se_reduce``,
``se_expand``, ``c``, ``c_bn``, ``proj``, ``proj_bn`` in residual blocks,
``exp``, ``exp_bn``, ``dw``, ``dw_bn``, ``pw``, ``pw_bn`` in MBConv). A
:class:`Layout` says, for one library, the prefix of that layer in the
library's own state dict, for the families of networks it builds (RegNet,
ResNet, EfficientNet, pycls's AnyNet). Parameter names below the prefix
(``weight``, ``bias``, ``running_mean`` ...) are PyTorch's in every library.

The prefixes were read off the libraries' models and are checked against
key/shape manifests generated from the real libraries
(``netspace/interop/manifests/``, ``scripts/make_manifests.py``) and, for
pycls, against pycls itself (``tests/test_interop.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Tuple, Union

from netspace.errors import NetspaceError
from netspace.registry import Registry
from netspace.spec import NetSpec

Place = Union[Tuple[int, int], str]  # "stem", "head" or the 1-based (stage, block)

BN_EPS = 1e-5  # PyTorch's default, netspace's BN


class InteropError(NetspaceError):
    """Weights that cannot be converted: an unknown layout, a missing, left-over or mis-shaped key."""


def family(spec: NetSpec) -> str:
    """The family of networks ``spec`` belongs to, as the libraries organise their code.

    "regnet": simple stem, bottleneck (X/Y) blocks, no head conv; "resnet":
    the 7x7 + max-pool stem with basic or bottleneck blocks; "efficientnet":
    simple stem, MBConv blocks, a head conv; anything else of vanilla, basic
    and bottleneck blocks is "anynet" (which only pycls builds).
    """
    kinds = {st.block for st in spec.stages}
    if kinds == {"mbconv"} and spec.stem.kind == "simple" and spec.head_width:
        return "efficientnet"
    if kinds <= {"vanilla", "res_basic", "res_bottleneck"} and not spec.head_width:
        if spec.stem.kind == "simple" and kinds == {"res_bottleneck"}:
            return "regnet"
        if spec.stem.kind == "resnet" and len(kinds) == 1 and "vanilla" not in kinds:
            return "resnet"
        return "anynet"
    return "other"


class Layout(ABC):
    """One library's state-dict naming."""

    families: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, spec: NetSpec) -> str:
        """The spec's family, or InteropError if this library builds no such network."""
        fam = family(spec)
        if fam not in self.families:
            blocks = ", ".join(sorted({st.block for st in spec.stages}))
            raise InteropError(f"{self.name} has no model of this shape ({spec.stem.kind} stem, {blocks} blocks"
                               f"{', head conv' if spec.head_width else ''}); it builds "
                               f"{', '.join(self.families)} networks")
        return fam

    @abstractmethod
    def prefix(self, fam: str, spec: NetSpec, place: Place, role: str) -> str:
        """The state-dict prefix (without the trailing dot) of the layer at ``place`` with ``role``."""

    def bn_eps(self, spec: NetSpec) -> float:
        """The epsilon of this library's BN layers for ``spec`` (folded into running_var on conversion)."""
        return BN_EPS


class Pycls(Layout):
    """pycls: ``stem.conv``, ``s1.b1.f.a`` ..., ``head.fc`` (AnyNet, RegNet, ResNet, EffNet share it)."""

    families = ("regnet", "resnet", "anynet", "efficientnet")
    _BLOCK = {"a": "f.a", "a_bn": "f.a_bn", "b": "f.b", "b_bn": "f.b_bn", "c": "f.c", "c_bn": "f.c_bn",
              "se_reduce": "f.se.f_ex.0", "se_expand": "f.se.f_ex.2", "proj": "proj", "proj_bn": "bn",
              "exp": "exp", "exp_bn": "exp_bn", "dw": "dwise", "dw_bn": "dwise_bn", "pw": "lin_proj",
              "pw_bn": "lin_proj_bn"}
    _MBCONV_SE = {"se_reduce": "se.f_ex.0", "se_expand": "se.f_ex.2"}
    _HEAD = {"conv": "head.conv", "bn": "head.conv_bn", "fc": "head.fc"}

    def prefix(self, fam: str, spec: NetSpec, place: Place, role: str) -> str:
        if place == "stem":
            return f"stem.{role}"
        if place == "head":
            return self._HEAD[role]
        i, j = place
        block = spec.stages[i - 1].block
        if block == "vanilla":  # pycls's vanilla block has no "f"
            return f"s{i}.b{j}.{role}"
        name = self._MBCONV_SE[role] if block == "mbconv" and role in self._MBCONV_SE else self._BLOCK[role]
        return f"s{i}.b{j}.{name}"


_RESNET = {"a": "conv1", "a_bn": "bn1", "b": "conv2", "b_bn": "bn2", "c": "conv3", "c_bn": "bn3",
           "proj": "downsample.0", "proj_bn": "downsample.1"}


def _resnet(place: Place, role: str) -> str:
    """timm's and torchvision's ResNet: ``conv1``/``bn1``, ``layer1.0.conv1`` ..., ``fc``."""
    if place == "stem":
        return {"conv": "conv1", "bn": "bn1"}[role]
    if place == "head":
        return "fc"
    i, j = place
    return f"layer{i}.{j - 1}.{_RESNET[role]}"


class Timm(Layout):
    """timm: ``regnet.py`` (``s1.b1.conv1.conv``), ``resnet.py``, ``efficientnet.py`` (``blocks.0.0.conv_dw``)."""

    families = ("regnet", "resnet", "efficientnet")
    _REGNET = {"a": "conv1.conv", "a_bn": "conv1.bn", "b": "conv2.conv", "b_bn": "conv2.bn",
               "se_reduce": "se.fc1", "se_expand": "se.fc2", "c": "conv3.conv", "c_bn": "conv3.bn",
               "proj": "downsample.conv", "proj_bn": "downsample.bn"}
    # an expanding block (InvertedResidual) and a non-expanding one (DepthwiseSeparableConv)
    _IR = {"exp": "conv_pw", "exp_bn": "bn1", "dw": "conv_dw", "dw_bn": "bn2", "se_reduce": "se.conv_reduce",
           "se_expand": "se.conv_expand", "pw": "conv_pwl", "pw_bn": "bn3"}
    _DS = {"dw": "conv_dw", "dw_bn": "bn1", "se_reduce": "se.conv_reduce", "se_expand": "se.conv_expand",
           "pw": "conv_pw", "pw_bn": "bn2"}

    def prefix(self, fam: str, spec: NetSpec, place: Place, role: str) -> str:
        if fam == "resnet":
            return _resnet(place, role)
        if fam == "regnet":
            if place == "stem":
                return f"stem.{role}"
            if place == "head":
                return "head.fc"
            i, j = place
            return f"s{i}.b{j}.{self._REGNET[role]}"
        if place == "stem":
            return {"conv": "conv_stem", "bn": "bn1"}[role]
        if place == "head":
            return {"conv": "conv_head", "bn": "bn2", "fc": "classifier"}[role]
        i, j = place
        table = self._IR if spec.stages[i - 1].expansion != 1 else self._DS
        return f"blocks.{i - 1}.{j - 1}.{table[role]}"


class Torchvision(Layout):
    """torchvision: ``regnet.py`` (``trunk_output.block1.block1-0.f.a.0``), ``resnet.py``,
    ``efficientnet.py`` (``features.1.0.block.0.0``)."""

    families = ("regnet", "resnet", "efficientnet")
    _REGNET = {"a": "f.a.0", "a_bn": "f.a.1", "b": "f.b.0", "b_bn": "f.b.1", "se_reduce": "f.se.fc1",
               "se_expand": "f.se.fc2", "c": "f.c.0", "c_bn": "f.c.1", "proj": "proj.0", "proj_bn": "proj.1"}
    _MBCONV = ("exp", "dw", "se", "pw")  # the order of an MBConv's ``block`` children

    def prefix(self, fam: str, spec: NetSpec, place: Place, role: str) -> str:
        if fam == "resnet":
            return _resnet(place, role)
        if fam == "regnet":
            if place == "stem":
                return {"conv": "stem.0", "bn": "stem.1"}[role]
            if place == "head":
                return "fc"
            i, j = place
            return f"trunk_output.block{i}.block{i}-{j - 1}.{self._REGNET[role]}"
        if place == "stem":
            return {"conv": "features.0.0", "bn": "features.0.1"}[role]
        if place == "head":
            n = len(spec.stages) + 1
            return {"conv": f"features.{n}.0", "bn": f"features.{n}.1", "fc": "classifier.1"}[role]
        i, j = place
        parts = self._MBCONV if spec.stages[i - 1].expansion != 1 else self._MBCONV[1:]
        layer, _, kind = role.partition("_")
        if layer == "se":
            return f"features.{i}.{j - 1}.block.{parts.index('se')}.{'fc1' if kind == 'reduce' else 'fc2'}"
        return f"features.{i}.{j - 1}.block.{parts.index(layer)}.{'1' if kind == 'bn' else '0'}"

    def bn_eps(self, spec: NetSpec) -> float:
        # torchvision builds efficientnet_b5..b7 with BN eps 1e-3 (their weights come from TensorFlow), B0-B4 1e-5
        if family(spec) == "efficientnet" and _efficientnet_index(spec) in (5, 6, 7):
            return 1e-3
        return BN_EPS


def _efficientnet_index(spec: NetSpec) -> int | None:
    """Which EfficientNet-B0..B7 ``spec``'s body is (input size and classes aside), if any."""
    from netspace import zoo  # the zoo imports spaces; only this question needs it

    for b in range(8):
        ref = zoo.get(f"EfficientNet-B{b}")
        if (ref.stages, ref.head_width, ref.stem.width) == (spec.stages, spec.head_width, spec.stem.width):
            return b
    return None


LAYOUTS: Registry[Layout] = Registry("library", InteropError, normalize=str.lower)
for _layout in (Pycls("pycls"), Timm("timm"), Torchvision("torchvision")):
    LAYOUTS.register(_layout.name, _layout)
