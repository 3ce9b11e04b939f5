"""The fidelity options of issue 25 that the lead owns: the 3D smoothing filter (its defining
property, that it keeps each Gaussian's integral, and the export that bakes it), gsplat's
antialiased mode carried in the avatar, and the view-dependent colour regulariser."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.trainer import tiny_head
from training.cli import main
from training.model.smoothing import finest_footprint, smooth_3d


def test_smoothing_keeps_each_gaussians_integral_and_widens_thin_ones():
    scales = torch.tensor([[1e-4, 0.02, 0.03], [0.05, 0.05, 0.05]], dtype=torch.float64)
    opacities = torch.tensor([0.9, 0.4], dtype=torch.float64)
    sigma = 0.002
    wide, faded = smooth_3d(scales, opacities, sigma)
    # integral of o * exp(-x^T S^-1 x / 2) is o * (2 pi)^1.5 * s1 s2 s3: unchanged
    assert torch.allclose(faded * wide.prod(-1), opacities * scales.prod(-1), rtol=1e-12)
    assert wide[0, 0] >= sigma and wide[0, 0] == pytest.approx(math.hypot(1e-4, sigma))
    assert faded[1] == pytest.approx(0.4 * (0.05**2 / (0.05**2 + sigma**2)) ** 1.5)
    same_scales, same_opacities = smooth_3d(scales, opacities, 0.0)
    assert same_scales is scales and same_opacities is opacities


def test_finest_footprint_is_the_nearest_cameras_pixel_at_the_subject():
    viewmats = torch.eye(4).repeat(3, 1, 1)
    viewmats[:, 2, 3] = torch.tensor([2.0, 1.0, -5.0])  # the last camera has the subject behind it
    ks = torch.eye(3).repeat(3, 1, 1)
    ks[:, 0, 0] = ks[:, 1, 1] = torch.tensor([500.0, 1000.0, 2000.0])
    assert finest_footprint(viewmats, ks, torch.zeros(3)) == pytest.approx(min(2 / 500, 1 / 1000))
    with pytest.raises(ValueError, match="in front"):
        finest_footprint(viewmats[2:], ks[2:], torch.zeros(3))


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_head(tmp_path_factory.mktemp("head"))


def _fit(head: tuple[Path, Path], out: Path, *sets: str) -> dict:
    model, data = head
    argv = ["fit", "--data", str(data), "--rig", "flame", "--model", str(model), "--out", str(out),
            "--device", "cpu", "--preset", "tiny", "--iterations", "12",
            "--set", "max_gaussians=300"]  # fmt: skip
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    with zipfile.ZipFile(out / "avatar.gavatar") as zf:
        return json.loads(zf.read("header.json"))


def test_a_filtered_antialiased_avatar_records_how_to_render_it_and_bakes_the_filter(head, tmp_path, capsys):
    from core.avatar.avatar_file import read_avatar_file

    header = _fit(head, tmp_path / "filtered", "filter_3d=2.0", "antialiased=true", "lambda_sh_rest=0.1")
    capsys.readouterr()
    settings = header["rasterization"]
    assert settings["antialiased"] is True and settings["filter_3d_std"] > 0
    avatar = read_avatar_file(tmp_path / "filtered" / "avatar.gavatar")
    # Baked: no Gaussian of the rest pose is thinner than the filter.
    assert np.exp(avatar.gaussians.log_scales).min() >= settings["filter_3d_std"] * (1 - 1e-4)

    plain = _fit(head, tmp_path / "plain")
    capsys.readouterr()
    assert plain["rasterization"] == {"antialiased": False, "filter_3d_std": 0.0}

    # eval renders it the way it was trained (antialiased) and scores it
    model, data = head
    code = main(["eval", "--avatar", str(tmp_path / "filtered" / "avatar.gavatar"), "--data", str(data),
                 "--model", str(model), "--device", "cpu", "--split", "val",
                 "--max-images", "2"])  # fmt: skip
    assert code == 0
    scored = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"eval"' in line]
    assert scored and scored[-1]["psnr"] > 5
