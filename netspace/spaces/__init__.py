"""Design spaces: parameters -> specs, and constrained sampling."""

from netspace.spaces.regnet import RegNetParams, adjust_block_compatibility, quantized_widths, regnet_spec

__all__ = ["RegNetParams", "adjust_block_compatibility", "quantized_widths", "regnet_spec"]
