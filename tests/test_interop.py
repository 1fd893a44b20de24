"""Weights in and out against the real pycls: its models built from its own config, converted by role,
give the same logits; its checkpoint format is read as it saves it; every refusal names the keys."""

from __future__ import annotations

import pytest
import torch

from netspace import zoo
from netspace.interop import InteropError, convert, create_model, expected_shapes, load_weights
from netspace.interop.weights import read_checkpoint, to_netspace

pycls_config = pytest.importorskip("pycls.core.config", reason="pycls (pip install --no-deps pycls yacs)")
import pycls.core.builders as pycls_builders  # noqa: E402

# pycls's own config keys for each model (its configs/dds_baselines and the paper's tables)
PYCLS_CONFIGS = {
    "RegNetX-200MF": ["MODEL.TYPE", "regnet", "REGNET.DEPTH", 13, "REGNET.W0", 24, "REGNET.WA", 36.44,
                      "REGNET.WM", 2.49, "REGNET.GROUP_W", 8],
    "RegNetY-400MF": ["MODEL.TYPE", "regnet", "REGNET.DEPTH", 16, "REGNET.W0", 48, "REGNET.WA", 27.89,
                      "REGNET.WM", 2.09, "REGNET.GROUP_W", 8, "REGNET.SE_ON", True],
    "ResNet-50": ["MODEL.TYPE", "resnet", "MODEL.DEPTH", 50, "RESNET.TRANS_FUN", "bottleneck_transform",
                  "RESNET.STRIDE_1X1", False, "TRAIN.DATASET", "imagenet", "TEST.DATASET", "imagenet"],
    "ResNeXt-50": ["MODEL.TYPE", "resnet", "MODEL.DEPTH", 50, "RESNET.TRANS_FUN", "bottleneck_transform",
                   "RESNET.STRIDE_1X1", False, "RESNET.NUM_GROUPS", 32, "RESNET.WIDTH_PER_GROUP", 4,
                   "TRAIN.DATASET", "imagenet", "TEST.DATASET", "imagenet"],
    "EfficientNet-B0": ["MODEL.TYPE", "effnet", "EN.STEM_W", 32, "EN.DEPTHS", [1, 2, 2, 3, 3, 4, 1],
                        "EN.WIDTHS", [16, 24, 40, 80, 112, 192, 320], "EN.EXP_RATIOS", [1, 6, 6, 6, 6, 6, 6],
                        "EN.KERNELS", [3, 3, 5, 3, 5, 5, 3], "EN.STRIDES", [1, 2, 2, 2, 1, 2, 1],
                        "EN.HEAD_W", 1280, "EN.SE_R", 0.25],
}


def pycls_model(name: str, num_classes: int = 1000) -> torch.nn.Module:
    """pycls's own model for ``name``, built from its yacs config, with every weight and BN statistic random."""
    cfg = pycls_config.cfg
    pycls_config.reset_cfg()
    cfg.merge_from_list(["MODEL.NUM_CLASSES", num_classes, *PYCLS_CONFIGS[name]])
    torch.manual_seed(0)
    model = pycls_builders.build_model()
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif key.endswith("running_mean") or key.endswith("bias"):
                t.normal_(0.0, 0.1)
            elif t.dim() == 1:  # BN gamma
                t.uniform_(0.5, 1.2)
            elif t.dim() == 2:  # the classifier
                t.normal_(0.0, t.shape[1] ** -0.5)
    return model.eval()


def _logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("ResNe") else n
                                  for n in PYCLS_CONFIGS])
def test_pycls_model_converts_to_the_same_logits(name, tmp_path):
    theirs = pycls_model(name)
    # the key/shape map netspace derives equals the real model's state dict
    assert expected_shapes(zoo.get(name), "pycls") == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    # saved as pycls saves a checkpoint (pycls.core.checkpoint.save_checkpoint)
    path = tmp_path / "model_epoch_0001.pyth"
    torch.save({"epoch": 0, "model_state": theirs.state_dict(), "optimizer_state": {},
                "cfg": pycls_config.cfg.dump()}, path)
    ours = create_model(name, weights=path)
    assert torch.allclose(_logits(ours, X), _logits(theirs, X), atol=1e-5, rtol=0)
    # and back: netspace -> pycls's naming loads strictly into pycls and gives the same logits
    out = tmp_path / "ours.pt"
    torch.save(ours.state_dict(), tmp_path / "ns.pt")
    convert(tmp_path / "ns.pt", out, model=zoo.get(name), source="netspace", target="pycls")
    again = pycls_model(name)
    again.load_state_dict(torch.load(out, weights_only=True)["model_state"])
    assert torch.allclose(_logits(again, X), _logits(theirs, X), atol=1e-6, rtol=0)


def test_same_shaped_layers_map_by_role_not_position():
    # RegNetY-400MF's first block: its 1x1 conv "a" and its projection are both (48, 32, 1, 1)
    theirs = pycls_model("RegNetY-400MF").state_dict()
    assert theirs["s1.b1.f.a.weight"].shape == theirs["s1.b1.proj.weight"].shape == (48, 32, 1, 1)
    ours = to_netspace(theirs, zoo.get("RegNetY-400MF"), "pycls")
    assert torch.equal(ours["s1.0.f.0.weight"], theirs["s1.b1.f.a.weight"])
    assert torch.equal(ours["s1.0.proj.0.weight"], theirs["s1.b1.proj.weight"])
    assert not torch.equal(ours["s1.0.f.0.weight"], ours["s1.0.proj.0.weight"])


def test_refusals_name_the_keys(tmp_path):
    spec = zoo.get("RegNetX-200MF")
    state = pycls_model("RegNetX-200MF").state_dict()
    extra = {**state, "s9.b1.f.a.weight": torch.zeros(1)}
    with pytest.raises(InteropError, match=r"left over s9\.b1\.f\.a\.weight"):
        to_netspace(extra, spec, "pycls")
    missing = {k: v for k, v in state.items() if k != "s2.b1.proj.weight"}
    with pytest.raises(InteropError, match=r"missing s2\.b1\.proj\.weight"):
        to_netspace(missing, spec, "pycls")
    wrong = {**state, "s1.b1.f.b.weight": torch.zeros(24, 4, 3, 3)}
    with pytest.raises(InteropError, match=r"s1\.b1\.f\.b\.weight \(24, 4, 3, 3\) \(expected \(24, 8, 3, 3\)\)"):
        to_netspace(wrong, spec, "pycls")
    # a RegNetX-400MF checkpoint is not a RegNetX-200MF: refused, never loaded into the other size
    path = tmp_path / "x400.pyth"
    torch.save({"epoch": 0, "model_state": pycls_model("RegNetY-400MF").state_dict()}, path)
    with pytest.raises(InteropError, match="not RegNetX-200MF"):
        create_model("RegNetX-200MF", weights=path)
    # both a model state and a timm-style state dict: which one is meant is not guessed
    torch.save({"model_state": state, "state_dict": state}, path)
    with pytest.raises(InteropError, match="both model_state and state_dict"):
        read_checkpoint(path)


def test_new_classes_and_channels_adapt_and_say_so(tmp_path, capsys):
    theirs = pycls_model("RegNetX-200MF")
    path = tmp_path / "ck.pyth"
    torch.save({"epoch": 0, "model_state": theirs.state_dict()}, path)
    model = create_model("regnetx_002", num_classes=10, in_chans=1, weights=path)
    err = capsys.readouterr().err
    assert "classifier re-initialised: the weights have 1000 classes, the model 10" in err
    assert "stem adapted from 3 input channels to 1" in err
    stem = theirs.state_dict()["stem.conv.weight"]
    assert torch.allclose(model.state_dict()["stem.0.weight"], stem.sum(1, keepdim=True))
    assert torch.equal(model.state_dict()["s4.0.f.2.weight"], theirs.state_dict()["s4.b1.f.b.weight"])
    # a grey image gives what RGB's (x, x, x) gave, up to the classifier
    grey = X[:, :1]
    with torch.no_grad():
        assert torch.allclose(model.eval().forward_features(grey), theirs.s4(theirs.s3(theirs.s2(theirs.s1(
            theirs.stem(grey.expand(-1, 3, -1, -1)))))), atol=1e-5)


def test_create_model_features_and_strides():
    model = create_model("regnet_y_1_6gf")
    assert model.spec.name == "RegNetY-1.6GF"
    assert [f["width"] for f in model.feature_info] == [48, 120, 336, 888]
    assert [f["stride"] for f in model.feature_info] == [4, 8, 16, 32]
    with torch.no_grad():
        feats = model.eval().forward_features(torch.randn(1, 3, 64, 64))
    assert feats.shape == (1, 888, 2, 2)
    en = create_model("efficientnet_b0", num_classes=5)
    with torch.no_grad():
        assert en.eval().forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 1280, 2, 2)
        assert en(torch.randn(1, 3, 64, 64)).shape == (1, 5)


def test_netspace_weights_file_round_trip(tmp_path):
    model = create_model("RegNetX-200MF", num_classes=7)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(InteropError, match="--model"):
        convert(tmp_path / "sd.pt", tmp_path / "w.pt")
    info = convert(tmp_path / "sd.pt", tmp_path / "w.pt", model=zoo.get("RegNetX-200MF"))
    assert info["source"] == "netspace" and info["num_classes"] == 7
    again = create_model("RegNetX-200MF", num_classes=7, weights=tmp_path / "w.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert load_weights(again, tmp_path / "w.pt") == []


# -- the command line ------------------------------------------------------------------------------------
TINY = "d=4,w0=16,wa=8,wm=2,g=8"  # a four-block RegNet: fast to build on both sides
TINY_PYCLS = ["MODEL.TYPE", "regnet", "REGNET.DEPTH", 4, "REGNET.W0", 16, "REGNET.WA", 8.0, "REGNET.WM", 2.0,
              "REGNET.GROUP_W", 8]


def _cli(*args: str, capsys) -> tuple[int, str, str]:
    """``netspace ARGS`` in this process: (exit status, stdout, stderr)."""
    from netspace.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_pycls(tmp_path):
    PYCLS_CONFIGS["tiny"] = TINY_PYCLS
    try:
        model = pycls_model("tiny")
    finally:
        del PYCLS_CONFIGS["tiny"]
    path = tmp_path / "tiny.pyth"
    torch.save({"epoch": 9, "model_state": model.state_dict(), "optimizer_state": {}, "cfg": ""}, path)
    return model, path


def test_cli_convert_both_ways_and_refusals(tiny_pycls, tmp_path, capsys):
    model, path = tiny_pycls
    code, out, err = _cli("convert", str(path), "--from", "pycls", "--model", TINY, "--out", str(tmp_path / "w.pt"),
                          capsys=capsys)
    assert code == 0, err
    assert "pycls -> netspace" in out and "1000 classes" in out
    code, out, err = _cli("convert", str(tmp_path / "w.pt"), "--to", "torchvision", "--out", str(tmp_path / "tv.pt"),
                          capsys=capsys)
    assert code == 0, err
    tv = torch.load(tmp_path / "tv.pt", weights_only=True)
    assert torch.equal(tv["trunk_output.block1.block1-0.f.a.0.weight"], model.state_dict()["s1.b1.f.a.weight"])
    # found from its keys without --from, back to pycls, loadable into pycls strictly
    code, out, err = _cli("convert", str(tmp_path / "tv.pt"), "--model", TINY, "--to", "pycls", "--out",
                          str(tmp_path / "p.pyth"), capsys=capsys)
    assert code == 0 and "torchvision -> pycls" in out, err
    model.load_state_dict(torch.load(tmp_path / "p.pyth", weights_only=True)["model_state"])
    for args, needle in [
        (["--model", "RegNetX-200MF", "--out", str(tmp_path / "x.pt")], "not RegNetX-200MF in no naming fits"),
        (["--model", TINY, "--from", "timm", "--out", str(tmp_path / "x.pt")], "not the model in timm's naming"),
        (["--model", TINY, "--out", str(path)], "is the source file"),
        (["--model", "regnet_x_4gf", "--out", str(tmp_path / "x.pt")], "did you mean"),
    ]:
        code, out, err = _cli("convert", str(path), *args, capsys=capsys)
        assert code == 2 and needle in err, (args, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pt").exists()


def test_train_init_from_a_pycls_checkpoint(tiny_pycls, tmp_path, capsys):
    from netspace.train import train_trial, trial_config

    model, path = tiny_pycls
    code, out, err = _cli("train", TINY, "--init-from", str(path), "--data", "fashion-mnist", "--limit-train", "256",
                          "--limit-test", "128", "--epochs", "1", "--batch-size", "64", "--precision", "fp32",
                          "--out", str(tmp_path / "run"), capsys=capsys)
    assert code == 0, err
    said = out + err
    assert "classifier re-initialised: the weights have 1000 classes, the model 10" in said
    assert "stem adapted from 3 input channels to 1" in said
    # the initial weights are part of the run's settings: the same --out from another file is refused
    other = tmp_path / "other.pt"
    other.write_bytes(path.read_bytes() + b"\0")
    code, out, err = _cli("train", TINY, "--init-from", str(other), "--data", "fashion-mnist", "--limit-train", "256",
                          "--limit-test", "128", "--epochs", "1", "--batch-size", "64", "--precision", "fp32",
                          "--out", str(tmp_path / "run"), capsys=capsys)
    assert code == 2 and "other settings (init_from" in err, err
    # the run starts from these weights: with a vanishing learning rate they are still the file's
    trial = trial_config(data="fashion-mnist", limit_train=128, limit_test=64, epochs=1, batch_size=64, lr=1e-12,
                         precision="fp32", weight_decay=0.0)
    result = train_trial(zoo.resolve(TINY), trial, init_from=str(path), progress=False)
    ours = result.model.state_dict()
    assert torch.allclose(ours["s2.0.f.2.weight"], model.state_dict()["s2.b1.f.b.weight"], atol=1e-6)
    with pytest.raises(InteropError, match="not RegNetX-200MF"):
        train_trial(zoo.get("RegNetX-200MF"), trial, init_from=str(path), progress=False)
