"""Batched augmentation and normalization on whatever device the batch is on.

One call handles the whole batch with tensor ops (no per-image Python loop),
so it runs on the GPU at a negligible cost next to the model, and the data
loader only has to move uint8 bytes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from netspace.data.info import DataError, DataInfo


class Augment:
    """uint8 [B,C,H,W] -> normalized float32 [B,C,H,W].

    ``train=True``: random crop with ``info.pad`` pixels of zero padding (black,
    padded before normalization as torchvision's RandomCrop does) and, if
    ``info.hflip``, a horizontal flip of each image with probability 1/2.
    ``train=False``: convert and normalize only. Random draws come from
    ``generator`` (on its own device), so a seeded generator makes it repeatable.
    """

    def __init__(self, info: DataInfo, *, train: bool, channels_last: bool = False) -> None:
        if len(info.mean) != info.in_channels or len(info.std) != info.in_channels:
            raise DataError(f"{info.name}: mean/std need {info.in_channels} values each, "
                            f"got {len(info.mean)} and {len(info.std)}")
        self.info = info
        self.train = train
        self.channels_last = channels_last
        # x/255 then (x - mean)/std folded into one multiply-add: x * scale + shift.
        std = torch.tensor(info.std, dtype=torch.float64)
        mean = torch.tensor(info.mean, dtype=torch.float64)
        self._scale = (1.0 / (255.0 * std)).float().view(1, -1, 1, 1)
        self._shift = (-mean / std).float().view(1, -1, 1, 1)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, images_uint8: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = images_uint8
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != self.info.in_channels:
            raise DataError(f"{self.info.name}: Augment expects uint8 [B,{self.info.in_channels},H,W], "
                            f"got {images.dtype} {list(images.shape)}")
        if self.train:
            if self.info.pad > 0:
                images = self._random_crop(images, self.info.pad, generator)
            if self.info.hflip:
                images = self._random_flip(images, generator)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        out = images.to(dtype=torch.float32, memory_format=memory_format)
        scale, shift = self._constants(images.device)
        return out.mul_(scale).add_(shift)

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """scale/shift on ``device``, copied there once rather than every batch."""
        if device not in self._on_device:
            self._on_device[device] = (self._scale.to(device), self._shift.to(device))
        return self._on_device[device]

    @staticmethod
    def _draw(high: int, size: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
        """``size`` integers in [0, high), drawn on the generator's device, moved to ``device``."""
        draw_device = generator.device if generator is not None else torch.device("cpu")
        return torch.randint(0, high, (size,), generator=generator, device=draw_device).to(device)

    def _random_crop(self, images: torch.Tensor, pad: int, generator: torch.Generator | None) -> torch.Tensor:
        """Each image shifted by its own (dy, dx) in [-pad, pad], vacated pixels zero.

        Implemented as a gather from the zero-padded batch: output pixel (y, x)
        of image b reads padded pixel (y + top_b, x + left_b).
        """
        batch, _, height, width = images.shape
        padded = F.pad(images, (pad, pad, pad, pad))
        top = self._draw(2 * pad + 1, batch, generator, images.device)
        left = self._draw(2 * pad + 1, batch, generator, images.device)
        rows = (top[:, None] + torch.arange(height, device=images.device))[:, :, None]   # [B,H,1]
        cols = (left[:, None] + torch.arange(width, device=images.device))[:, None, :]   # [B,1,W]
        index = torch.arange(batch, device=images.device)[:, None, None]                # [B,1,1]
        # Advanced indices around a slice put the indexed dims first: [B,H,W,C].
        return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)

    def _random_flip(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Each image mirrored left-right with probability 1/2."""
        flip = self._draw(2, images.shape[0], generator, images.device).bool()
        return torch.where(flip[:, None, None, None], images.flip(3), images)
