"""Encodes PNG frames into an H.264 MP4 with Blender's own FFmpeg (the sequencer, no render engine).

python -m scripts.demo.encode_video --out demo.mp4 --fps 24 frame_0001.png ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def encode(frames: list[Path], out: Path, fps: int) -> Path:
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    with_size = bpy.data.images.load(str(frames[0]))
    width, height = with_size.size
    bpy.data.images.remove(with_size)
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    strip = strips.new_image("frames", str(frames[0]), channel=1, frame_start=1)
    for path in frames[1:]:
        strip.elements.append(path.name)
    strip.directory = str(frames[0].parent) + os.sep
    scene.frame_start, scene.frame_end = 1, len(frames)
    scene.render.fps = fps
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0 moved movies behind media_type
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    scene.render.ffmpeg.format = "MPEG4"
    scene.render.ffmpeg.codec = "H264"
    scene.render.ffmpeg.constant_rate_factor = "HIGH"
    tmp = out.with_name(out.stem + ".partial.mp4")
    scene.render.filepath = str(tmp)
    scene.render.use_file_extension = False
    scene.render.use_sequencer = True
    bpy.ops.render.render(animation=True)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise RuntimeError(f"Blender's FFmpeg wrote no video at {tmp}")
    os.replace(tmp, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("frames", type=Path, nargs="+")
    args = parser.parse_args()
    try:
        encode(args.frames, args.out, args.fps)
    except (RuntimeError, OSError) as ex:
        print(f"encode_video: {ex}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
