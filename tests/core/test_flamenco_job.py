"""The Flamenco job: the job document (SubmittedJob JSON) and the job type script, executed in a
real JavaScript engine (QuickJS, the ``quickjs`` package) with stand-ins for the Manager's globals
(``author``, ``frameChunker``). Flamenco itself cannot be installed here; the command each task
runs is run for real in tests/workflows/test_render_farm.py."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from core.farm import commands, flamenco
from core.farm.frames import FrameSpecError, frame_list, parse_frames

quickjs = pytest.importorskip("quickjs")

# Stand-ins for what Flamenco Manager's goja VM provides a job compiler: author.Task/Command,
# job.addTask, and frameChunker as Flamenco documents it (explode the ranges, sort, cut every
# chunk_size frames, write each chunk back as 'a-b' runs of three or more, else single frames).
MANAGER_GLOBALS = r"""
var __tasks = [];
var author = {
    Task: function (name, type) {
        return { name: name, type: type, commands: [], addCommand: function (c) { this.commands.push(c); } };
    },
    Command: function (name, parameters) { return { name: name, parameters: parameters }; },
};
function print() {}
function frameChunker(text, size) {
    var frames = {};
    text.replace(/\.\./g, "-").split(",").forEach(function (part) {
        var ends = part.split("-").map(function (s) { return parseInt(s.trim(), 10); });
        if (ends.some(isNaN) || ends.length > 2) { throw "invalid range " + part; }
        for (var f = ends[0]; f <= ends[ends.length - 1]; f++) { frames[f] = true; }
    });
    var list = Object.keys(frames).map(Number).sort(function (a, b) { return a - b; });
    var chunks = [];
    for (var i = 0; i < list.length; i += size) {
        var part = list.slice(i, i + size), out = [], start = part[0];
        for (var k = 1; k <= part.length; k++) {
            if (k < part.length && part[k] === part[k - 1] + 1) { continue; }
            var end = part[k - 1];
            if (end - start >= 2) { out.push(start + "-" + end); }
            else { for (var g = start; g <= end; g++) { out.push(String(g)); } }
            start = part[k];
        }
        chunks.push(out.join(","));
    }
    return chunks;
}
"""


def compile_job(document: dict) -> list[dict]:
    """Runs the shipped job type's compileJob on document; the tasks it authored."""
    context = quickjs.Context()
    context.eval(MANAGER_GLOBALS)
    context.eval(flamenco.JOB_TYPE_SCRIPT.read_text(encoding="utf-8"))
    context.eval(f"var job = {json.dumps(document)}; job.addTask = function (t) {{ __tasks.push(t); }};")
    context.eval("compileJob(job)")
    tasks = json.loads(context.eval("JSON.stringify(__tasks)"))
    return [
        {"name": t["name"], "type": t["type"], "command": t["commands"][0]["name"],
         "parameters": t["commands"][0]["parameters"]}
        for t in tasks
    ]  # fmt: skip


def _job(**overrides) -> flamenco.FlamencoJob:  # type: ignore[no-untyped-def]
    values = dict(name="shot010", blendfile="/farm/jobs/shot010.flamenco.blend", frames=frame_list(1, 71, 10),
                  output="/farm/renders/shot010/f_####", chunk_size=3, scene="Scene")  # fmt: skip
    values.update(overrides)
    return flamenco.FlamencoJob(**values)  # type: ignore[arg-type]


def test_job_document_is_a_submitted_job() -> None:
    document = json.loads(json.dumps(flamenco.job_document(_job(metadata={"project": "demo"}))))
    assert {"name", "type", "priority", "submitter_platform", "settings"} <= set(document)
    assert document["type"] == flamenco.JOB_TYPE == "gaussian-avatar-render"
    assert document["submitter_platform"] in ("linux", "windows", "darwin")
    settings = document["settings"]
    assert settings["frames"] == "1,11,21,31,41,51,61,71"
    assert settings["render_output_path"] == "/farm/renders/shot010/f_####"
    assert settings["chunk_size"] == 3 and settings["engine"] == "GAVATAR" and settings["overwrite"] is False
    assert all(isinstance(v, str) for v in document["metadata"].values())
    with pytest.raises(FrameSpecError, match="negative"):
        flamenco.job_document(_job(frames=[-2, -1, 0]))
    with pytest.raises(ValueError, match="absolute"):
        flamenco.job_document(_job(output="//renders/f_"))


def test_job_type_declares_its_settings() -> None:
    context = quickjs.Context()
    context.eval(MANAGER_GLOBALS)
    context.eval(flamenco.JOB_TYPE_SCRIPT.read_text(encoding="utf-8"))
    job_type = json.loads(context.eval("JSON.stringify(JOB_TYPE)"))
    keys = {s["key"]: s for s in job_type["settings"]}
    expected = {"frames", "chunk_size", "render_output_path", "blendfile", "scene", "engine", "overwrite"}
    assert expected <= set(keys)
    assert keys["frames"]["required"] and keys["render_output_path"]["required"]
    assert {s["type"] for s in job_type["settings"]} <= {"string", "int32", "bool", "float"}
    for setting in job_type["settings"]:  # Flamenco's add-on evaluates these in Python
        if "eval" in setting:
            compile(setting["eval"], setting["key"], "eval")


def test_the_extension_zip_ships_the_job_type(tmp_path: Path) -> None:
    from scripts import extension_build

    names = zipfile.ZipFile(extension_build.build(tmp_path)).namelist()
    assert "core/farm/gaussian_avatar_render.js" in names  # the export operator copies it out


@pytest.mark.parametrize(
    "frames, chunk_size", [(frame_list(1, 71, 10), 3), (frame_list(1, 250), 8), ([1, 2, 5, 6, 7, 20], 4)]
)
def test_compiled_tasks_cover_the_frames_once_with_the_local_worker_command(
    frames: list[int], chunk_size: int
) -> None:
    document = flamenco.job_document(_job(frames=frames, chunk_size=chunk_size, overwrite=True))
    tasks = compile_job(document)
    assert tasks == flamenco.flamenco_tasks(document)  # the JS and its Python twin agree exactly
    chunks = [parse_frames(t["name"].removeprefix("render-")) for t in tasks]
    covered = [f for chunk in chunks for f in chunk]
    assert sorted(covered) == sorted(frames) and len(covered) == len(set(covered))
    assert all(len(c) <= chunk_size for c in chunks)
    for task in tasks:
        params = task["parameters"]
        assert task["type"] == "blender" and task["command"] == "blender-render"
        assert params["exe"] == "{blender}" and params["exeArgs"] == "{blenderArgs}"
        assert params["blendfile"] == document["settings"]["blendfile"]
        chunk = task["name"].removeprefix("render-")
        expected = commands.blender_args(
            commands.WorkerArgs(chunk, "/farm/renders/shot010/f_####", "GAVATAR", "Scene", overwrite=True)
        )
        assert params["args"] == expected  # the same worker a local distributed render runs


def test_job_type_refuses_a_job_without_output() -> None:
    document = flamenco.job_document(_job())
    document["settings"]["render_output_path"] = ""
    with pytest.raises(quickjs.JSException, match="render_output_path"):
        compile_job(document)


def test_job_files_are_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "jobs" / "job.json"
    flamenco.write_json(target, flamenco.job_document(_job()))
    assert json.loads(target.read_text())["name"] == "shot010"
    with pytest.raises(TypeError):
        flamenco.write_json(target, {"bad": object()})
    assert json.loads(target.read_text())["name"] == "shot010"  # the old file is intact
    assert [p.name for p in target.parent.iterdir()] == ["job.json"]  # no temp file left
    script = flamenco.install_job_type(tmp_path / "manager" / "scripts")
    assert script.read_text() == flamenco.JOB_TYPE_SCRIPT.read_text()
