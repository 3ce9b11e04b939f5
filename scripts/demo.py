"""The main job (README command 1): build the extension, install it into bpy, render with GAVATAR.

    python -m scripts.demo [--out out/demo]

Blender's user folder for the demo lives under the output folder, so the demo never touches the
user's own Blender configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _stage(name: str):
    class _Timer:
        def __enter__(self) -> None:
            self.start = time.perf_counter()
            print(f"[demo] {name} ...", file=sys.stderr, flush=True)

        def __exit__(self, *exc: object) -> None:
            if exc[0] is None:
                seconds = time.perf_counter() - self.start
                print(f"[demo] {name}: done in {seconds:.1f} s", file=sys.stderr, flush=True)

    return _Timer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["BLENDER_USER_RESOURCES"] = str(out / "blender-user")

    from scripts import extension_build

    with _stage("build the extension zip"):
        zip_path = extension_build.build(ROOT / "build")

    with _stage("install the extension into bpy"):
        import bpy

        result = bpy.ops.extensions.package_install_files(
            filepath=str(zip_path), repo="user_default", enable_on_install=True
        )
        if result != {"FINISHED"}:
            raise SystemExit(f"demo: installing {zip_path} failed: {result}")

    with _stage("render a frame with the GAVATAR engine"):
        bpy.ops.wm.read_homefile(use_empty=True)
        scene = bpy.context.scene
        camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
        scene.collection.objects.link(camera)
        scene.camera = camera
        camera.location = (0.0, -2.0, 0.0)
        camera.rotation_euler = (1.5708, 0.0, 0.0)
        scene.render.engine = "GAVATAR"
        scene.render.resolution_x, scene.render.resolution_y = 320, 240
        scene.render.filepath = str(out / "frame_0001.png")
        bpy.ops.render.render(write_still=True)

    print(f"[demo] extension: {zip_path}", file=sys.stderr)
    print(f"[demo] frame: {scene.render.filepath}", file=sys.stderr)


if __name__ == "__main__":
    main()
