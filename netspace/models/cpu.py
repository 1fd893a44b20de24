"""What this CPU is and which dtypes it runs natively: the facts every speed decision starts from.

Machines differ: on a Xeon with AMX/AVX512-BF16, bf16 + channels_last is
the fast training path; on an AVX2-only CPU (e.g. AMD EPYC Zen 3) oneDNN
emulates bf16 and a RegNetX-200MF step runs about 7x *slower* than in fp32.
Nothing here assumes a CPU: the model name and ISA come from the OS and
from PyTorch, and a dtype counts as native only where oneDNN says so *and*
the CPU flags carry the instructions.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

# CPU flags (as /proc/cpuinfo spells them) that make bf16 matmuls and convs native.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# Flags worth naming next to a figure (vector width and the dtype extensions).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "asimd", "sve", "bf16")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU at hand: ``model`` (as the OS names it), ``isa`` (the relevant flags it has),
    ``capability`` (PyTorch's dispatch level, e.g. AVX2 or AVX512), and whether bf16 is native."""

    model: str
    isa: tuple[str, ...]
    capability: str
    native_bf16: bool
    cores: int

    def describe(self) -> str:
        """One line for logs and benchmark headers, e.g. ``AMD EPYC (AVX2; avx2 fma; bf16 emulated)``."""
        bf16 = "bf16 native" if self.native_bf16 else "bf16 emulated"
        return f"{self.model} ({self.capability}; {' '.join(self.isa) or 'no vector extensions listed'}; {bf16})"


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def _field(lines: list[str], *names: str) -> str:
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in names:
            return value.strip()
    return ""


def onednn_bf16_supported() -> bool:
    """oneDNN's own answer: True only where it has native bf16 kernels for this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@functools.lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """Detect the CPU once per process (cheap: reads /proc/cpuinfo and asks PyTorch)."""
    lines = _cpuinfo_lines()
    model = _field(lines, "model name", "Model", "Hardware", "cpu model") or platform.processor() or platform.machine()
    flags = set(_field(lines, "flags", "Features").split())
    isa = tuple(f for f in ISA_FLAGS if f in flags)
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        capability = "unknown"
    has_flags = any(f in flags for f in BF16_FLAGS) if flags else True  # no flags listed: trust oneDNN
    native = onednn_bf16_supported() and has_flags
    return CpuInfo(model=model, isa=isa, capability=capability, native_bf16=native, cores=os.cpu_count() or 1)
