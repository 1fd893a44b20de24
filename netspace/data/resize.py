"""Resize a whole uint8 image tensor once, at load time, without a float copy of it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from netspace.resources import check_bytes

# Images converted to float per chunk: bounds the temporary float memory to
# about 4 * chunk * C * H * W bytes whatever the dataset size.
_CHUNK = 2048


def resize_uint8(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """``images`` (uint8 [N,C,H,W]) resized to ``resolution`` squared.

    Bilinear with antialias, so downsampling averages instead of aliasing; the
    result is rounded back to uint8 so the dataset keeps its uint8 footprint.
    """
    if images.shape[-2:] == (resolution, resolution):
        return images
    n, c = images.shape[:2]
    check_bytes(n * c * resolution * resolution + min(n, _CHUNK) * c * resolution * resolution * 4,
                f"{n:,} images of {c} channel(s) resized to {resolution}px",
                "use a smaller resolution, or fewer images (--limit-train, --limit-test)")
    out = torch.empty((n, c, resolution, resolution), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        chunk = images[start:start + _CHUNK].float()
        resized = F.interpolate(chunk, size=(resolution, resolution), mode="bilinear",
                                align_corners=False, antialias=True)
        out[start:start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out
