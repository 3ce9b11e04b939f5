// SPDX-License-Identifier: GPL-3.0-or-later
//
// Flamenco 3 job type: render a frame range of a scene with the Gaussian Avatar engine (GAVATAR).
//
// Install: copy this file into the `scripts/` folder beside the Flamenco Manager executable and
// restart the Manager. Every render node needs the Gaussian Avatar extension installed and enabled
// in the Blender that Flamenco's `{blender}` variable points to.
//
// Each task renders one chunk of frames through the extension's farm worker, the same command a
// local distributed render (bpy.ops.gavatar.render_distributed) runs per chunk:
//   {blender} {blenderArgs} FILE --python-exit-code 2 --python-expr BOOT --
//       --frames CHUNK --output PATH --engine GAVATAR [--scene NAME] [--overwrite]
// The worker writes the frames with Blender's own animation render into PATH ('#' = frame number)
// and skips frames already there unless `overwrite` is set, so a requeued task only fills gaps.
// Keep WORKER_BOOT and the argument list equal to core/farm/commands.py (a test checks it).

const JOB_TYPE = {
    label: "Gaussian Avatar Render",
    description: "Render frames with the Gaussian Avatar engine, in chunks across workers",
    settings: [
        {
            key: "frames",
            type: "string",
            required: true,
            eval: "f'{C.scene.frame_start}-{C.scene.frame_end}'",
            description: "Frames to render, e.g. '1-250' or '1-10,20,30-40'",
        },
        {
            key: "chunk_size",
            type: "int32",
            default: 8,
            description: "Frames one task renders (each task pays one Blender start-up)",
        },
        {
            key: "render_output_path",
            type: "string",
            subtype: "file_path",
            required: true,
            eval: "str(abspath(C.scene.render.filepath))",
            description: "Output path as the render nodes see it; '#' stands for the frame number",
        },
        { key: "scene", type: "string", eval: "C.scene.name", description: "Scene to render" },
        { key: "engine", type: "string", default: "GAVATAR", visible: "submission" },
        {
            key: "overwrite",
            type: "bool",
            default: false,
            description: "Render frames whose files already exist",
        },
        // Filled in by the submitter (the .blend as the render nodes see it).
        { key: "blendfile", type: "string", required: true, visible: "web" },
    ],
};

const EXTENSION_ID = "gaussian_avatar";
const PYTHON_ERROR_EXIT = "2";
const WORKER_BOOT =
    "import sys, importlib, bpy; " +
    "m = [n for n in bpy.context.preferences.addons.keys() if n.rpartition('.')[2] == '" +
    EXTENSION_ID +
    "']; " +
    "m or sys.exit('Gaussian Avatar farm worker: the " +
    EXTENSION_ID +
    " extension is not enabled in this Blender (install and enable it on every render node)'); " +
    "importlib.import_module(m[0] + '.blender.farm.worker').main()";

function workerArgs(settings, chunk) {
    const args = ["--python-exit-code", PYTHON_ERROR_EXIT, "--python-expr", WORKER_BOOT, "--"];
    args.push("--frames", chunk, "--output", settings.render_output_path);
    if (settings.engine) {
        args.push("--engine", settings.engine);
    }
    if (settings.scene) {
        args.push("--scene", settings.scene);
    }
    if (settings.overwrite) {
        args.push("--overwrite");
    }
    return args;
}

function compileJob(job) {
    const settings = job.settings;
    if (!settings.render_output_path) {
        throw "Gaussian Avatar Render: the job has no render_output_path";
    }
    if (!settings.blendfile) {
        throw "Gaussian Avatar Render: the job has no blendfile";
    }
    const chunkSize = settings.chunk_size > 0 ? settings.chunk_size : 8;
    for (const chunk of frameChunker(settings.frames, chunkSize)) {
        const task = author.Task(`render-${chunk}`, "blender");
        task.addCommand(
            author.Command("blender-render", {
                exe: "{blender}",
                exeArgs: "{blenderArgs}",
                argsBefore: [],
                blendfile: settings.blendfile,
                args: workerArgs(settings, chunk),
            })
        );
        job.addTask(task);
    }
}
