"""Interoperation with pycls, timm and torchvision: their model names, their weights, one constructor.

- :func:`create_model` builds any zoo model by any library's name
  (``netspace.zoo.LIBRARY_NAMES``), optionally with weights from a
  checkpoint in any of the formats below.
- :mod:`netspace.interop.weights`: state dicts converted by layer role, both
  ways (``netspace convert``), strict about keys and shapes.
- :mod:`netspace.interop.layouts`: where each library keeps each layer.

This package imports the zoo and the models; nothing below it imports it.
"""

from netspace.interop.create import create_model
from netspace.interop.layouts import LAYOUTS, InteropError, family
from netspace.interop.weights import (LIBRARIES, convert, expected_shapes, from_netspace, load_weights,
                                      read_checkpoint, to_netspace)

__all__ = ["LAYOUTS", "LIBRARIES", "InteropError", "convert", "create_model", "expected_shapes", "family",
           "from_netspace", "load_weights", "read_checkpoint", "to_netspace"]
