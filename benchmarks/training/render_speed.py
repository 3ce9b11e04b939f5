"""Render speed of a trained avatar on the GPU, rig deformation included (issue 5's aim: 1000 frames
per second for a 100k-Gaussian avatar at 512x512).

Each frame is rig LBS + binding + dynamics + SH colour + gsplat, from the dataset's first val (else
train) camera, cycling through the dataset's tracked frames. Measured for the avatar as trained and
tiled to 100k Gaussians, in the same run, one frame at a time:

- ``eager``: ``render_avatar`` (every op launched from Python, gsplat's ``rasterization()``);
- ``posing graph``: the rig eagerly, binding + dynamics as one CUDA graph, then ``rasterization()``
  (the previous best, training/loop/steps.GraphedPosing);
- ``frame graph``: rig, binding, dynamics, SH colour and projection as one CUDA graph, then gsplat's
  intersection and rasterization kernels called directly (training/render/frame_graph.py, what
  ``python -m training render`` uses);

and in batches of frames (B frames posed at once and rasterized in one gsplat call). Each faster
path's image is compared with the eager one (max abs difference over the frame).

    python benchmarks/training/render_speed.py --avatar FILE --data DIR --model PATH [--rig flame] [--out DIR]

Prints the figures and writes OUT/render_speed.json and OUT/render_profile.txt. Run it on purpose
(through the device tool); it is not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


@dataclass
class RenderSetup:
    avatar: Any
    poser: Any
    renderer: Any
    frames: list  # FrameInputs
    viewmat: torch.Tensor  # (4,4)
    K: torch.Tensor  # (3,3)
    width: int
    height: int


def load_setup(avatar_path: str, data: str, model: str, rig: str, num_frames: int) -> RenderSetup:
    from training.data.scene import load_dataset, split_data
    from training.files.avatar_read import avatar_rig, load_avatar
    from training.model.posing import RigPoser
    from training.model.tracking import TrackedSequence
    from training.render.renderer import Renderer
    from training.rigs import identity_inputs, rig_inputs

    device = torch.device("cuda")
    avatar = load_avatar(avatar_path, device)
    rig_model = avatar_rig(avatar, model)
    dataset = load_dataset(data, rig, rig_model=rig_model)
    split = "val" if dataset.split("val") else "train"
    view = split_data(dataset, split, 1.0, device, avatar.background, load_images=False, limit=1)
    steps = sorted(dataset.rig_params)[:num_frames]
    tracking = TrackedSequence(steps, *rig_inputs(dataset, steps, rig_model), device=device)
    poser = RigPoser(rig_model, *identity_inputs(rig_model, avatar.identity), device)
    renderer = Renderer("gsplat", avatar.background, device)
    width, height = view.sizes[0]
    frames = [tracking.inputs(t, refined=False) for t in steps]
    return RenderSetup(avatar, poser, renderer, frames, view.viewmats[0], view.ks[0], width, height)


def tiled(gaussians: Any, target: int) -> Any:
    """The avatar's Gaussians repeated (and their offsets jittered) up to ``target`` of them."""
    from training.model.face_gaussians import GaussianSet

    state = gaussians.export_state()
    reps = math.ceil(target / state["offset"].shape[0])
    device = state["offset"].device
    gen = torch.Generator(device=device).manual_seed(0)
    out = {}
    for k, v in state.items():
        out[k] = v if k == "dyn_mix" else v.repeat((reps,) + (1,) * (v.dim() - 1))[:target]
    out["offset"] = out["offset"] + 0.05 * torch.randn(out["offset"].shape, device=device, generator=gen)
    big = GaussianSet.from_state(out, gaussians.num_faces, device)
    big.requires_grad_(False)
    return big


def eager_frames(s: RenderSetup, gaussians: Any) -> Callable[[int], torch.Tensor]:
    from training.render.renderer import render_avatar

    a = s.avatar

    def eager(i: int) -> torch.Tensor:
        return render_avatar(
            s.poser, gaussians, a.num_dyn_expression, s.renderer, s.frames[i % len(s.frames)],
            s.viewmat[None], s.K[None], s.width, s.height, a.sh_degree,
        )[1][0]  # fmt: skip

    return eager


class Ways(dict):
    """Name -> function rendering frame i; ``compile_seconds``: the compiled way's one-off cost."""

    compile_seconds: float | None = None


def frame_functions(s: RenderSetup, gaussians: Any, compiled: bool = False) -> Ways:
    """Each way of rendering frame i -> its (H,W,3) image (``compiled``: also the frame graph with
    torch.compile'd posing)."""
    from training.loop.steps import GraphedPosing
    from training.model.posing import WorldGaussians
    from training.render.frame_graph import GraphedFrames

    a = s.avatar
    vm, ks = s.viewmat[None], s.K[None]
    posing = GraphedPosing(s.poser, gaussians, a.num_dyn_expression, a.sh_degree)

    def posing_graph(i: int) -> torch.Tensor:
        out = posing(s.frames[i % len(s.frames)])
        world = WorldGaussians(*out[:5], a.sh_degree, None)
        return s.renderer.render(world, vm, ks, s.width, s.height)[0][0]

    graphed = GraphedFrames(
        s.poser, gaussians, a.num_dyn_expression, a.sh_degree, s.width, s.height, a.background
    )

    def frame_graph(i: int) -> torch.Tensor:
        return graphed(s.frames[i % len(s.frames)], s.viewmat, s.K)[0]

    ways = Ways(eager=eager_frames(s, gaussians), posing_graph=posing_graph, frame_graph=frame_graph)
    if compiled:
        start = time.perf_counter()
        fused = GraphedFrames(
            s.poser, gaussians, a.num_dyn_expression, a.sh_degree, s.width, s.height, a.background,
            compile_posing=True,
        )  # fmt: skip
        ways.compile_seconds = time.perf_counter() - start
        ways["frame_graph_compiled"] = lambda i: fused(s.frames[i % len(s.frames)], s.viewmat, s.K)[0]
    return ways


def frames_per_second(fn: Callable[[int], Any], repeats: int) -> float:
    with torch.no_grad():
        for i in range(20):
            fn(i)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(repeats):
            fn(i)
        torch.cuda.synchronize()
    return repeats / (time.perf_counter() - start)


def batched_fps(s: RenderSetup, gaussians: Any, batch: int, repeats: int) -> tuple[float, float]:
    """B frames posed at once (the rig and the binding take a leading frame axis) and rasterized in
    one gsplat call with a leading batch axis, with the project's camera conventions (+0.5 on the
    principal point for gsplat's pixel-corner sampling). -> (fps, max abs difference of the first
    frame against the eager single-frame render)."""
    from gsplat import rasterization

    from training.model.posing import bind_world
    from training.twins.lbs import axis_angle_to_matrix

    a, device, frames = s.avatar, s.K.device, s.frames
    expr = torch.stack([f.expression for f in frames])
    pose = torch.stack([f.pose for f in frames])
    transl = torch.stack([f.transl for f in frames])
    ks = s.K[None].clone()
    ks[:, :2, 2] += 0.5
    bg = s.renderer.background

    def chunk(start: int) -> torch.Tensor:
        idx = torch.arange(start, start + batch, device=device) % len(frames)
        out = s.poser.rig(
            betas=s.poser.betas, expression=expr[idx], pose=pose[idx], transl=transl[idx],
            vertex_offsets=s.poser.vertex_offsets,
        )  # fmt: skip
        eye = torch.eye(3, device=device)
        pose_features = (axis_angle_to_matrix(pose[idx][:, 1:]) - eye).reshape(batch, -1)
        features = None
        if gaussians.has_dynamics:
            features = torch.cat([expr[idx][:, : a.num_dyn_expression], pose_features], dim=-1)
        world = bind_world(gaussians.params, gaussians.parent_face, out.vertices, s.poser.faces, features,
                           a.sh_degree)  # fmt: skip
        images, alphas, _ = rasterization(
            world.means, world.quats, world.scales, world.opacities, world.sh,
            s.viewmat[None].expand(batch, 1, 4, 4), ks.expand(batch, 1, 3, 3), s.width, s.height,
            sh_degree=a.sh_degree,
        )  # fmt: skip
        return images[:, 0] + (1 - alphas[:, 0]) * bg

    with torch.no_grad():
        first = chunk(0)[0].clone()
        single = eager_frames(s, gaussians)(0)
        fps = frames_per_second(lambda i: chunk(i * batch), max(5, repeats // batch)) * batch
    return fps, float((first - single).abs().max())


def render_speed(
    avatar_path: str,
    data: str,
    model: str,
    rig: str = "flame",
    num_frames: int = 50,
    repeats: int = 300,
    compiled: bool = False,
) -> dict[str, Any]:
    """Every figure of the module docstring as one dict (keys: ``fps_{trained,100k}_{way}``,
    ``{way}_vs_eager_max_abs``, ``fps_100k_batch{8,32}``, ``batch{8,32}_vs_single_max_abs``)."""
    s = load_setup(avatar_path, data, model, rig, num_frames)
    result: dict[str, Any] = {
        "resolution": [s.width, s.height],
        "trained_gaussians": s.avatar.gaussians.num_gaussians,
        "device": torch.cuda.get_device_name(0),
    }
    for label, gaussians in (("trained", s.avatar.gaussians), ("100k", tiled(s.avatar.gaussians, 100_000))):
        ways = frame_functions(s, gaussians, compiled)
        if ways.compile_seconds is not None:
            result[f"compile_seconds_{label}"] = ways.compile_seconds
        with torch.no_grad():
            reference = ways["eager"](0).clone()
            for name in [w for w in ways if w != "eager"]:
                result[f"{name}_vs_eager_max_abs_{label}"] = float((ways[name](0) - reference).abs().max())
        for name, fn in ways.items():
            result[f"fps_{label}_{name}"] = frames_per_second(fn, repeats)
        if label == "100k":
            for b in (8, 32):
                fps, diff = batched_fps(s, gaussians, b, repeats)
                result[f"fps_100k_batch{b}"] = fps
                result[f"batch{b}_vs_single_max_abs"] = diff
    return result


def profile_frames(avatar_path: str, data: str, model: str, rig: str, path: Path) -> None:
    """torch.profiler over 50 single-frame renders of the frame graph: where a frame's time goes."""
    from torch.profiler import ProfilerActivity, profile

    s = load_setup(avatar_path, data, model, rig, 4)
    fn = frame_functions(s, s.avatar.gaussians)["frame_graph"]
    with torch.no_grad():
        for i in range(10):
            fn(i)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for i in range(50):
                fn(i)
            torch.cuda.synchronize()
    path.write_text(prof.key_averages().table(sort_by="cpu_time_total", row_limit=45))


def describe(r: dict[str, Any]) -> str:
    """One paragraph of the figures (for summaries)."""
    ways = (("eager", "eager"), ("posing graph", "posing_graph"), ("frame graph", "frame_graph"))
    if "fps_100k_frame_graph_compiled" in r:
        ways += (("frame graph with compiled posing", "frame_graph_compiled"),)
    single = "; ".join(
        f"{label}: {r[f'fps_trained_{key}']:.0f} / {r[f'fps_100k_{key}']:.0f} fps" for label, key in ways
    )
    return (
        f"Render speed at {r['resolution'][0]}x{r['resolution'][1]} on {r.get('device', 'the GPU')}, rig "
        f"deformation included, one frame at a time ({r['trained_gaussians']} Gaussians as trained / "
        f"100k): {single}. Frame graph vs eager image: max abs "
        f"{r['frame_graph_vs_eager_max_abs_100k']:.2e}. Batches of frames (100k Gaussians): "
        f"{r['fps_100k_batch8']:.0f} fps (8 a call), {r['fps_100k_batch32']:.0f} fps (32 a call)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--avatar", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--rig", default="flame")
    parser.add_argument("--out", default=None)
    parser.add_argument("--frames", type=int, default=50, help="tracked frames to cycle through")
    parser.add_argument("--repeats", type=int, default=300, help="frames timed per measurement")
    parser.add_argument("--compiled", action="store_true", help="also torch.compile'd posing (needs Triton)")
    args = parser.parse_args()
    result = render_speed(
        args.avatar, args.data, args.model, args.rig, args.frames, args.repeats, args.compiled
    )
    print(json.dumps(result, indent=1))
    print(describe(result))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "render_speed.json").write_text(json.dumps(result, indent=1))
        profile_frames(args.avatar, args.data, args.model, args.rig, out / "render_profile.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
