"""Other tools' files and data as they come: ImageFolder at its images' size, pycls/NDS results in
``netspace analyze``, pycls model configs in ``netspace info``/``train``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netspace import schema
from netspace.cli import build_parser, main
from netspace.complexity import complexity
from netspace.data import load_data
from netspace.errors import NetspaceError
from netspace.inputs import load_inputs
from netspace.run.config import SweepConfig, sweep_config, upgrade
from netspace.run.store import Store
from netspace.run.sweep import open_checked
from netspace.spaces.regnet import RegNetParams, regnet_spec
from netspace.spec import NetSpec, Stage, Stem

Image = pytest.importorskip("PIL.Image")

# -- ImageFolder at the images' own size ---------------------------------------------------------------


def write_folder(root: Path, classes: int = 10, per_class: int = 6, odd: int = 3, size=(32, 32),
                 odd_size=(40, 48)) -> Path:
    """``classes`` x ``per_class`` PNGs of ``size`` in train/ (``odd`` of them ``odd_size``), 2 per class in val/."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", 2)):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                w, h = odd_size if (split == "train" and i == 0 and c < odd) else size
                pixels = np.full((h, w, 3), 20 * c, dtype=np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def test_imagefolder_resolution_is_the_images_median_shorter_side(tmp_path):
    root = write_folder(tmp_path)
    data = load_data("imagefolder", data_dir=root, num_workers=0)
    assert data.info.resolution == 32 and data.info.pad == 4
    assert data.info.note == ("imagefolder: images are 32 px (median shorter side of 60 files); training at 32 px; "
                              "--resolution to change")
    images, _ = next(data.train.batches(60, shuffle=False))
    assert images.shape == (60, 3, 32, 32)  # the 40x48 images are resized to it
    # An explicit resolution wins, and nothing is said.
    told = load_data("imagefolder", data_dir=root, resolution=24, num_workers=0)
    assert told.info.resolution == 24 and told.info.note == ""
    assert next(told.test.batches(4, shuffle=False))[0].shape == (4, 3, 24, 24)


def test_imagefolder_resolution_reads_headers_of_a_bounded_fixed_sample(tmp_path, monkeypatch):
    from netspace.data import imagefolder

    root = write_folder(tmp_path, classes=2, per_class=6, odd=0, size=(300, 260))
    # A file cut after its header: its size is known, its pixels are not (decoding it fails).
    cut = root / "train" / "class0" / "1.png"
    cut.write_bytes(cut.read_bytes()[:64])
    monkeypatch.setattr(imagefolder, "SIZE_SAMPLE", 5)
    first = load_data("imagefolder", data_dir=root, num_workers=0).info
    again = load_data("imagefolder", data_dir=root, seed=7, num_workers=0).info
    assert first.resolution == again.resolution == 224  # capped; the run's seed does not move it
    assert first.note == ("imagefolder: images are 260 px (median shorter side of 5 files); training at 224 px "
                          "(at most 224); --resolution to change")
    with pytest.raises(OSError, match="truncated"):
        imagefolder.decode(str(cut), 224)


def test_imagefolder_unreadable_header_is_one_line(tmp_path):
    root = write_folder(tmp_path, classes=2, per_class=2, odd=0)
    bad = root / "train" / "class1" / "0.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(NetspaceError) as error:
        load_data("imagefolder", data_dir=root, num_workers=0)
    assert "\n" not in str(error.value) and f"cannot read image {bad}" in str(error.value)


TINY = NetSpec(stem=Stem("simple", 8, 1), stages=(Stage("res_basic", 1, 16, 1), Stage("res_basic", 1, 16, 2)),
               num_classes=10, in_channels=3, resolution=32, name="tiny")


def test_train_cli_uses_the_images_size_unless_told(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETSPACE_TUNE", "0")
    monkeypatch.setenv("NETSPACE_FUSED", "0")
    root = write_folder(tmp_path / "images")
    spec = tmp_path / "tiny.json"
    spec.write_text(TINY.to_json())
    common = ["train", str(spec), "--data", "imagefolder", "--data-dir", str(root), "--epochs", "1",
              "--batch-size", "30", "--precision", "fp32"]
    assert main([*common, "--out", str(tmp_path / "native")]) == 0
    err = capsys.readouterr().err
    assert err.count("imagefolder: images are 32 px (median shorter side of 60 files); training at 32 px") == 1
    result = json.loads((tmp_path / "native" / "result.json").read_text())
    assert result["data"]["resolution"] == 32 and result["spec"]["resolution"] == 32
    assert main([*common, "--resolution", "16", "--out", str(tmp_path / "told")]) == 0
    assert "imagefolder: images are" not in capsys.readouterr().err
    result = json.loads((tmp_path / "told" / "result.json").read_text())
    assert result["data"]["resolution"] == 16 and result["spec"]["resolution"] == 16


def test_stores_without_a_resolution_read_as_what_they_trained_at(tmp_path):
    nested = sweep_config("RegNetX", 4, data="imagefolder", data_dir=str(tmp_path)).to_dict()
    del nested["trial"]["data"]["resolution"]  # as written before the data config had one
    assert upgrade(nested)["trial"]["data"]["resolution"] == 224  # imagefolder then ran at 224
    fmnist = sweep_config("RegNetX", 4).to_dict()
    del fmnist["trial"]["data"]["resolution"]
    assert upgrade(fmnist)["trial"]["data"]["resolution"] is None  # the others at their own size
    flat = {"space": "RegNetX", "samples": 4, "data": "imagefolder", "data_dir": str(tmp_path), "epochs": 1}
    assert SweepConfig.from_dict(flat).trial.data.resolution == 224
    assert sweep_config("RegNetX", 4).trial.data.resolution is None  # unset stays unset


def test_rerun_compares_the_resolution_an_unset_one_resolves_to(tmp_path):
    root = write_folder(tmp_path / "images", classes=2, per_class=2, odd=0)

    def stored(resolution):
        config = sweep_config("RegNetX", 4, data="imagefolder", data_dir=str(root)).to_dict()
        if resolution == "absent":
            del config["trial"]["data"]["resolution"]
        else:
            config["trial"]["data"]["resolution"] = resolution
        out = tmp_path / f"sweep-{resolution}"
        with Store(out, create=True) as store:
            store.put_settings({"config": config})
        return out

    rerun = sweep_config("RegNetX", 4, data="imagefolder", data_dir=str(root)).to_dict()  # no --resolution
    store, new = open_checked(stored(32), rerun)  # stored 32 px; the images are 32 px: the same run
    store.close()
    assert not new
    with pytest.raises(NetspaceError) as error:
        open_checked(stored("absent"), rerun)  # an old store trained at 224 px
    assert "trial.data.resolution: 224 -> 32" in str(error.value) and "\n" not in str(error.value)


# -- pycls and NDS results in netspace analyze -----------------------------------------------------------

REGNETS = [(13, 24, 36.44, 2.49, 8), (22, 24, 24.48, 2.54, 16), (16, 48, 36.97, 2.24, 24), (16, 56, 35.73, 2.28, 16),
           (18, 80, 34.01, 2.25, 24), (14, 56, 38.84, 2.4, 16)]


def pycls_job(i: int, params: tuple, curve: list[float], max_ep: int = 3) -> dict:
    """One job of pycls's ``sweep.json`` (``sweep_collect``: a job's json_stats grouped by _type, per-epoch
    types as per-metric lists sorted by epoch with epoch_ind/epoch_max split out), its complexity exact."""
    d, w0, wa, wm, g = params
    cx = complexity(regnet_spec(RegNetParams(d, w0, wa, wm, g)))
    n = len(curve)
    epochs = [f"{e + 1}/{max_ep}" for e in range(n)]
    return {
        "cfg": {"MODEL": {"TYPE": "regnet", "NUM_CLASSES": 1000},
                "REGNET": {"DEPTH": d, "W0": w0, "WA": wa, "WM": wm, "GROUP_W": g, "BOT_MUL": 1.0, "SE_ON": False},
                "OPTIM": {"BASE_LR": 0.1, "WEIGHT_DECAY": 5e-5, "MAX_EPOCH": max_ep}},
        "complexity": {**cx, "h": 7, "w": 7},
        "train_epoch": {"epoch": epochs, "epoch_ind": list(range(1, n + 1)), "epoch_max": [max_ep] * n,
                        "loss": [3.0 - e for e in range(n)], "lr": [0.1] * n, "time_epoch": [20.0] * n,
                        "top1_err": [60.0] * n, "top5_err": [30.0] * n},
        "test_epoch": {"epoch": epochs, "epoch_ind": list(range(1, n + 1)), "epoch_max": [max_ep] * n,
                       "top1_err": curve, "top5_err": [c / 2 for c in curve],
                       "min_top1_err": [min(curve[: k + 1]) for k in range(n)], "time_epoch": [2.0] * n},
        "log_file": f"/sweeps/regnet/logs/{i:05d}/stdout.log", "err_file": f"/sweeps/regnet/logs/{i:05d}/stderr.log",
        "err": "",
    }


def nds_record(i: int, ds: list[int], ws: list[int], num_gs: list[int], curve: list[float]) -> dict:
    """One model of an NDS design-space file (facebookresearch/nds data/<space>.json)."""
    return {"job_id": f"job{i}", "rng_seed": 1, "flops": 1e8 + 1e7 * i, "params": 1e6 + 1e5 * i,
            "net": {"block_type": "res_bottleneck_block", "ds": ds, "ws": ws, "ss": [1, 2, 2],
                    "bot_muls": [0.5, 0.5, 0.5], "num_gs": num_gs},
            "optim": {"base_lr": 0.1, "wd": 5e-4, "max_ep": len(curve)},
            "train_ep_loss": [2.0] * len(curve), "train_ep_top1": [30.0] * len(curve), "test_ep_top1": curve,
            "min_test_top1": min(curve), "iter_time": 0.05, "prec_time": 0.01, "act_mem": 1.0, "exp_mem": 1.0,
            "train_it_loss": [], "train_it_top1": []}


def own_sweep(directory: Path, n: int = 6) -> Path:
    """A netspace sweep store of n finished RegNetX trials."""
    with Store(directory, create=True) as store:
        rows = []
        for i, (d, w0, wa, wm, g) in enumerate(REGNETS[:n]):
            spec = regnet_spec(RegNetParams(d, w0, wa, wm, g))
            cx = complexity(spec)
            rows.append((i, {"depth": d, "w0": w0, "wa": wa, "wm": wm, "group_width": g}, spec.to_dict(),
                         {"flops": cx["flops"], "params": cx["params"], "acts": cx["acts"]}))
        store.add_trials(rows, settings={"config": {"space": "RegNetX", "eval_split": "test"}})
        for i in range(n):
            store.record_result(i, {"status": "done", "error": 30.0 + i, "best_error": 29.0 + i, "epochs": 1,
                                    "wall_seconds": 5.0, "images_per_second": 100.0},
                                [{"epoch": 1, "test_error": 30.0 + i}])
    return directory


def write_externals(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "regnet_pycls"
    folder.mkdir()
    pycls = folder / "sweep.json"
    pycls.write_text(json.dumps([pycls_job(i, p, [60.0 - i, 45.0 - i, 40.0 - i]) for i, p in enumerate(REGNETS)],
                                sort_keys=True))
    nds = tmp_path / "ResNeXt-A.json"
    records = [nds_record(i, [1 + i % 3, 2, 1 + i], [32, 64, 128], [1 + i % 2, 2, 4], [20.0 - i, 9.0 - i, 9.5 - i])
               for i in range(6)]
    nds.write_text(json.dumps({"top": records[:3], "mid": records[3:]}))
    return pycls, nds


def test_external_files_load_beside_a_sweep_directory(tmp_path):
    sweep = own_sweep(tmp_path / "RegNetX")
    pycls, nds = write_externals(tmp_path)
    frame = load_inputs([sweep, f"pycls={pycls}", nds])
    assert frame.groupby("sweep", sort=False).size().to_dict() == {"RegNetX": 6, "pycls": 6, "ResNeXt-A": 6}
    rows = frame.set_index(["sweep", "trial"])
    # pycls: the last epoch's error; the RegNet parameters under netspace's own names, as its sweep has them
    assert rows.loc[("pycls", 1), "error"] == 39.0 and rows.loc[("pycls", 1), "w0"] == 24
    assert rows.loc[("pycls", 1), "flops"] == 397678568  # RegNetX-400MF's parameters
    assert rows.loc[("pycls", 1), "wall_seconds"] == 66.0  # 3 train + 3 test epochs
    # NDS: the minimum test error by default; nds_error="last" takes the last epoch's
    assert rows.loc[("ResNeXt-A", 0), "error"] == 9.0
    assert load_inputs([nds], nds_error="last").loc[0, "error"] == 9.5
    # num_gs is a group count, not a group width: both columns, each named for what it is
    assert rows.loc[("ResNeXt-A", 1), "groups1"] == 2 and rows.loc[("ResNeXt-A", 1), "group_width1"] == 8
    assert schema.role("groups1") == schema.role("group_width1") == "design"
    # an unlabelled sweep.json is named by its folder, an NDS file by its stem
    assert load_inputs([pycls, nds])["sweep"].unique().tolist() == ["regnet_pycls", "ResNeXt-A"]
    assert build_parser().parse_args(["analyze", str(nds)]).nds_error == "min"


@pytest.mark.slow
def test_analyze_cli_reports_pycls_and_nds_files_beside_a_sweep_directory(tmp_path, capsys):
    sweep = own_sweep(tmp_path / "RegNetX")
    pycls, nds = write_externals(tmp_path)
    out = tmp_path / "report.html"
    assert main(["analyze", str(sweep), f"pycls={pycls}", str(nds), "--nds-error", "last", "--metrics", "depth",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    page = out.read_text()
    for label in ("RegNetX", "pycls", "ResNeXt-A"):
        assert f"<td>{label}</td>" in page
    edf = pd.read_csv(tmp_path / "report_plots" / "edf.csv")
    errors = {name: sorted(group["error"].tolist()) for name, group in edf.groupby("sweep")}
    assert errors == {"RegNetX": [30.0, 31.0, 32.0, 33.0, 34.0, 35.0], "pycls": [35.0, 36.0, 37.0, 38.0, 39.0, 40.0],
                      "ResNeXt-A": [4.5, 5.5, 6.5, 7.5, 8.5, 9.5]}  # --nds-error last: the last epoch's


@pytest.mark.parametrize("content, found", [
    ('[{"model": "x", "acc": 0.9}]', "a JSON list whose first record has keys acc, model"),
    ('{"results": []}', "a JSON object with keys results"),
    ("[1, 2]", "a JSON list of ints"),
])
def test_analyze_refuses_an_unknown_json_format_in_one_line(tmp_path, capsys, content, found):
    path = tmp_path / "other.json"
    path.write_text(content)
    assert main(["analyze", f"x={path}", "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: unknown format ({found})" in err
    assert "expected a pycls sweep.json" in err and not (tmp_path / "r.html").exists()


# -- pycls model configs in netspace info / train -----------------------------------------------------------

# pycls configs/dds_baselines/regnetx/RegNetX-400MF_dds_8gpu.yaml and regnety/RegNetY-800MF_dds_8gpu.yaml
REGNETX_400MF = """\
MODEL:
  TYPE: regnet
  NUM_CLASSES: 1000
REGNET:
  DEPTH: 22
  W0: 24
  WA: 24.48
  WM: 2.54
  GROUP_W: 16
OPTIM:
  LR_POLICY: cos
  BASE_LR: 0.8
  MAX_EPOCH: 100
  MOMENTUM: 0.9
  WEIGHT_DECAY: 5e-5
  WARMUP_EPOCHS: 5
TRAIN:
  DATASET: imagenet
  IM_SIZE: 224
  BATCH_SIZE: 1024
TEST:
  DATASET: imagenet
  IM_SIZE: 256
  BATCH_SIZE: 800
NUM_GPUS: 8
OUT_DIR: .
"""
REGNETY_800MF = REGNETX_400MF.replace("""REGNET:
  DEPTH: 22
  W0: 24
  WA: 24.48
  WM: 2.54
  GROUP_W: 16""", """REGNET:
  SE_ON: True
  DEPTH: 14
  W0: 56
  WA: 38.84
  WM: 2.4
  GROUP_W: 16""")
# pycls configs/dds_baselines/resnet/R-50-1x64d_dds_8gpu.yaml (model sections) and effnet/EN-B0_dds_8gpu.yaml
RESNET_50 = """\
MODEL:
  TYPE: anynet
  NUM_CLASSES: 1000
ANYNET:
  STEM_TYPE: res_stem_in
  STEM_W: 64
  BLOCK_TYPE: res_bottleneck_block
  STRIDES: [1, 2, 2, 2]
  DEPTHS: [3, 4, 6, 3]
  WIDTHS: [256, 512, 1024, 2048]
  BOT_MULS: [0.25, 0.25, 0.25, 0.25]
  GROUP_WS: [64, 128, 256, 512]
"""
EFFNET_B0 = """\
MODEL:
  TYPE: effnet
  NUM_CLASSES: 1000
  ACTIVATION_FUN: silu
EN:
  STEM_W: 32
  STRIDES: [1, 2, 2, 2, 1, 2, 1]
  DEPTHS: [1, 2, 2, 3, 3, 4, 1]
  WIDTHS: [16, 24, 40, 80, 112, 192, 320]
  EXP_RATIOS: [1, 6, 6, 6, 6, 6, 6]
  KERNELS: [3, 3, 5, 3, 5, 5, 3]
  HEAD_W: 1280
"""
# pycls's model zoo (dev/model_complexity.json): flops (multiply-adds), params, acts.
PUBLISHED = {
    "RegNetX-400MF": (REGNETX_400MF, 397678568, 5157512, 3143272),
    "RegNetY-800MF": (REGNETY_800MF, 797183328, 6263168, 5249888),
    "R-50-1x64d": (RESNET_50, 4089185256, 25557032, 11315688),
    "EN-B0": (EFFNET_B0, 385825092, 5288548, 6748036),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_pycls_configs_give_the_published_complexity(tmp_path, capsys, name):
    text, flops, params, acts = PUBLISHED[name]
    path = tmp_path / f"{name}_dds_8gpu.yaml"
    path.write_text(text)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["flops"], info["params"], info["acts"]) == (flops, params, acts)
    assert info["name"] == f"{name}_dds_8gpu" and info["num_classes"] == 1000 and info["resolution"] == 224
    assert main(["info", str(path)]) == 0
    assert f"params {params / 1e6:.2f}M ({params:,})" in capsys.readouterr().out


def test_pycls_regnet_config_is_the_zoo_model(tmp_path):
    from netspace import zoo

    path = tmp_path / "x.yaml"
    path.write_text(REGNETY_800MF)
    assert zoo.resolve(str(path)) == zoo.get("RegNetY-800MF")  # same stages, stem, head (names aside)


@pytest.mark.parametrize("resnet, zoo_name", [
    ({"TRANS_FUN": "bottleneck_transform", "STRIDE_1X1": False}, "ResNet-50"),
    ({"TRANS_FUN": "bottleneck_transform", "STRIDE_1X1": False, "NUM_GROUPS": 32, "WIDTH_PER_GROUP": 4},
     "ResNeXt-50"),
])
def test_pycls_imagenet_resnet_configs(resnet, zoo_name):
    from netspace import zoo
    from netspace.pycls_config import spec_from_pycls

    assert spec_from_pycls({"MODEL": {"TYPE": "resnet", "DEPTH": 50, "NUM_CLASSES": 1000},
                            "RESNET": resnet}) == zoo.get(zoo_name)
    with pytest.raises(NetspaceError, match="RESNET.STRIDE_1X1 True"):  # pycls's default: stride in the 1x1 conv
        spec_from_pycls({"MODEL": {"TYPE": "resnet", "DEPTH": 50}, "RESNET": {"TRANS_FUN": "bottleneck_transform"}})


def test_pycls_cifar_resnet_config(tmp_path):
    from netspace import zoo

    path = tmp_path / "R-56_nds_1gpu.yaml"
    path.write_text("MODEL:\n  TYPE: resnet\n  DEPTH: 56\n  NUM_CLASSES: 10\nRESNET:\n  TRANS_FUN: basic_transform\n"
                    "BN:\n  USE_PRECISE_STATS: True\nTRAIN:\n  DATASET: cifar10\n  IM_SIZE: 32\n")
    assert zoo.resolve(str(path)) == zoo.get("ResNet-56")
    assert complexity(zoo.resolve(str(path)))["params"] == 855770


@pytest.mark.parametrize("change, message", [
    (("GROUP_W: 16", "GROUP_W: 16\n  GROUP_SIZE: 4"), "unknown key REGNET.GROUP_SIZE; REGNET has"),
    (("OUT_DIR: .", "OUT_DIR: .\nMYSECTION:\n  A: 1"), "unknown key 'MYSECTION'"),
    (("TYPE: regnet", "TYPE: vit"), "MODEL.TYPE 'vit' is not supported; use one of regnet, anynet, resnet, effnet"),
    (("WM: 2.54", "WM: two"), "REGNET.WM must be a number, got 'two'"),
    (("GROUP_W: 16", "GROUP_W: 16\n  BLOCK_TYPE: res_bottleneck_linear_block"), "REGNET.BLOCK_TYPE"),
])
def test_pycls_config_errors_name_the_key(tmp_path, capsys, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(REGNETX_400MF.replace(*change))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(path) in err


def test_train_accepts_a_pycls_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETSPACE_TUNE", "0")
    monkeypatch.setenv("NETSPACE_FUSED", "0")
    path = tmp_path / "tiny_anynet.yaml"
    path.write_text("MODEL:\n  TYPE: anynet\n  NUM_CLASSES: 10\nANYNET:\n  STEM_W: 8\n  BLOCK_TYPE: res_basic_block\n"
                    "  DEPTHS: [1, 1]\n  WIDTHS: [16, 32]\n  STRIDES: [1, 2]\n")
    root = write_folder(tmp_path / "images", classes=10, per_class=2, odd=0, size=(16, 16))
    out = tmp_path / "run"
    assert main(["train", str(path), "--data", "imagefolder", "--data-dir", str(root), "--epochs", "1",
                 "--batch-size", "20", "--precision", "fp32", "--quiet", "--out", str(out)]) == 0
    spec = json.loads((out / "result.json").read_text())["spec"]
    assert [s["width"] for s in spec["stages"]] == [16, 32] and spec["stem"]["width"] == 8
    assert spec["resolution"] == 16 and spec["stem"]["stride"] == 1  # adapted to the data (for_input)
