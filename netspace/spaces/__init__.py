"""Design spaces: parameters -> specs, and constrained sampling.

``get_space(name, resolution=..., in_channels=..., num_classes=...)`` gives
one of the paper's spaces (AnyNetX_A..E, RegNet, RegNetX, RegNetY), a NAS
space (MnasNet, NASNet with the paper's 13 ops and add/concat, NASNet-reduced, NASNet-add) or a YAML
space; ``space.sample(n, seed=0, flops="360M:400M")`` draws distinct networks
inside complexity windows; ``space.to_spec(params)`` rebuilds a stored
sample's spec; ``space.describe()`` states the space for reports;
``sample_population(name, n, ...)`` gives plain records (``netspace sample``).
``space.tokens()``, ``params_from_tokens`` and ``tokens_from_params`` give
every space as a sequence of categorical decisions for search strategies.

A new space is a module here (a function of the input :class:`Frame`
returning a ``DesignSpace``) and one ``SPACES.register`` line below.
"""

from functools import partial

from netspace.spaces.anynet import ANYNET_NAMES, ANYNET_VARIANTS, anynet_space
from netspace.spaces.batch import StageBatch, batch_complexity
from netspace.spaces.frame import VARIANTS, Frame, pick_variant
from netspace.spaces.regnet import RegNetParams, adjust_block_compatibility, quantized_widths, regnet_spec
from netspace.spaces.regnet_space import REGNET_NAMES, RegNetSpace, regnet_space
from netspace.spaces.mnasnet import MnasNetSpace
from netspace.spaces.nasnet import NASNetSpace, nasnet_add_space, nasnet_reduced_space
from netspace.spaces.population import flat_record, sample_population
from netspace.spaces.registry import SPACES, UnknownSpaceError, get_space, space_names
from netspace.spaces.samplers import SAMPLER_KINDS, Sampler, SpaceError
from netspace.spaces.space import DesignSpace, Sample, SampleResult, SamplingError, VectorizedSpace
from netspace.spaces.stagewise import StageParam, StagewiseSpace
from netspace.spaces.tokens import TokenSpace
from netspace.spaces.window import Window, as_window, parse_window
from netspace.spaces.yaml_space import load_space, space_from_dict, space_from_yaml

# The paper's eight spaces in its order, then the NAS spaces, then variants of the paper's.
for _name in ANYNET_NAMES:
    SPACES.register(_name, partial(anynet_space, _name))
for _name in REGNET_NAMES:
    SPACES.register(_name, partial(regnet_space, _name))
SPACES.register("MnasNet", MnasNetSpace)
SPACES.register("NASNet", NASNetSpace)
SPACES.register("NASNet-reduced", nasnet_reduced_space)
SPACES.register("NASNet-add", nasnet_add_space)
for _name in ANYNET_VARIANTS:
    SPACES.register(_name, partial(anynet_space, _name))
del _name

SPACE_NAMES = ANYNET_NAMES + REGNET_NAMES
# The search spaces of the NAS methods the paper compares with (token spaces, netspace.spaces.tokens).
NAS_SPACE_NAMES = ("MnasNet", "NASNet", "NASNet-reduced", "NASNet-add")

__all__ = [
    "ANYNET_NAMES", "NAS_SPACE_NAMES", "REGNET_NAMES", "SAMPLER_KINDS", "SPACES", "SPACE_NAMES", "VARIANTS",
    "DesignSpace", "Frame", "MnasNetSpace", "NASNetSpace", "RegNetParams", "RegNetSpace", "Sample", "SampleResult",
    "Sampler", "SamplingError", "SpaceError", "StageBatch", "StageParam", "StagewiseSpace", "TokenSpace",
    "UnknownSpaceError", "VectorizedSpace", "Window",
    "adjust_block_compatibility", "anynet_space", "as_window", "batch_complexity", "get_space", "load_space",
    "flat_record", "parse_window", "pick_variant", "sample_population", "quantized_widths", "regnet_space", "regnet_spec", "space_from_dict",
    "space_from_yaml", "space_names",
]
