"""Key/shape manifests of timm's and torchvision's models, from the real libraries.

netspace's tests cannot import timm or torchvision beside its own torch, so
the libraries' state-dict layouts are recorded here once, in a separate
environment that has them, and committed:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision timm
    /tmp/tv/bin/python scripts/make_manifests.py            # writes netspace/interop/manifests/*.json
    PYTHONPATH=. /tmp/tv/bin/python scripts/make_manifests.py --compare   # logits vs netspace's conversion

Each manifest holds, per library, the library's version, the parameter
count of every name in ``netspace.zoo.LIBRARY_NAMES`` (built on the meta
device), the BN epsilon of the models that use another than 1e-5, and the
state-dict keys and shapes of the few models the tests check key by key.
``--compare`` builds each of those with random weights and random BN
statistics, converts its state dict with netspace, and prints the largest
absolute logit difference (this needs netspace importable: PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "netspace" / "interop" / "manifests"
sys.path.insert(0, str(ROOT))

# the models whose every key and shape is recorded (one per layout the converter knows)
KEYED = {
    "timm": ["regnetx_002", "regnety_004", "regnetx_004_tv", "resnet18", "resnext50_32x4d", "efficientnet_b0"],
    "torchvision": ["regnet_x_400mf", "regnet_y_400mf", "resnet18", "resnext50_32x4d", "wide_resnet50_2",
                    "efficientnet_b0"],
}


def _library_names() -> dict[str, dict[str, str]]:
    from netspace.zoo import LIBRARY_NAMES  # stdlib + numpy only: importable beside any torch

    return LIBRARY_NAMES


def builder(library: str):
    if library == "timm":
        import timm

        return lambda name: timm.create_model(name, pretrained=False), timm.__version__
    import torchvision

    return lambda name: torchvision.models.get_model(name, weights=None), torchvision.__version__


class _NoInit:
    """Skips weight initialisation while a model is built for its shapes only (torchvision's RegNet
    computes its widths with tensors, so it cannot be built on the meta device)."""

    NAMES = ("normal_", "kaiming_normal_", "kaiming_uniform_", "uniform_", "trunc_normal_", "zeros_", "ones_",
             "constant_", "xavier_uniform_")

    def __enter__(self):
        self.saved = {n: getattr(torch.nn.init, n) for n in self.NAMES}
        for n in self.NAMES:
            setattr(torch.nn.init, n, lambda t, *a, **k: t)

    def __exit__(self, *exc):
        for n, f in self.saved.items():
            setattr(torch.nn.init, n, f)


def _shapes_only(library: str, make, name: str) -> torch.nn.Module:
    if library == "timm":
        with torch.device("meta"):
            return make(name)
    with _NoInit():
        return make(name)


def manifest(library: str) -> dict:
    make, version = builder(library)
    params, eps = {}, {}
    for name in sorted(_library_names()[library]):
        model = _shapes_only(library, make, name)
        params[name] = sum(p.numel() for p in model.parameters())
        found = {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
        if found != {1e-5}:
            eps[name] = sorted(found)
    keys = {}
    for name in KEYED[library]:
        model = _shapes_only(library, make, name)
        keys[name] = {k: list(v.shape) for k, v in model.state_dict().items()}
    return {"library": library, "version": version, "params": params, "bn_eps": eps, "state_dicts": keys}


def _randomize(model: torch.nn.Module) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif key.endswith("running_mean") or key.endswith("bias"):
                t.normal_(0.0, 0.1)
            elif t.dim() == 1 and t.is_floating_point():
                t.uniform_(0.5, 1.2)
            elif t.dim() == 2:
                t.normal_(0.0, t.shape[1] ** -0.5)


def compare() -> float:
    from netspace import zoo
    from netspace.interop.weights import to_netspace
    from netspace.models import build

    worst = 0.0
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    for library, names in KEYED.items():
        make, _ = builder(library)
        for name in [*names, *(["efficientnet_b5"] if library == "torchvision" else [])]:
            theirs = make(name).eval()
            _randomize(theirs)
            spec = zoo.get(name)
            ours = build(spec).eval()
            ours.load_state_dict(to_netspace(theirs.state_dict(), spec, library))
            with torch.no_grad():
                diff = (ours(x) - theirs(x)).abs().max().item()
            worst = max(worst, diff)
            print(f"{library:12s} {name:20s} max |logit difference| {diff:.2e}")
    print(f"largest: {worst:.2e}")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="compare logits of converted models instead")
    args = parser.parse_args()
    if args.compare:
        return 0 if compare() < 1e-4 else 1
    OUT.mkdir(parents=True, exist_ok=True)
    for library in KEYED:
        data = manifest(library)
        path = OUT / f"{library}.json"
        path.write_text(json.dumps(data, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
        print(f"wrote {path} ({len(data['params'])} models, {len(data['state_dicts'])} with keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
