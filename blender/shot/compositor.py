"""Merging the avatar layer into the shot in Blender's compositor (5.0 node groups).

For every Render Layers node of the shot, the avatar layer's Render Layers node is put beside it
and the two are merged by depth (Z Combine with alpha, antialiased mask): the avatar's
premultiplied colour goes over the scene where the avatar is nearer, the scene's stays where
it is nearer. The links that left the shot's Render Layers node now leave the merged sockets, so
the user's own compositing works on the merged image. Without a compositor tree of the user, a
temporary one (Render Layers -> merge -> Group Output) is used. ``undo`` puts everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
from bpy.types import Node, NodeSocket, NodeTree, Scene

from .restore import Ledger

NODE_PREFIX = "GAVATAR "
# The shot's passes with an avatar counterpart are merged (Image, Alpha, Depth, and Normal, Mist
# and the object index when enabled); any other linked pass is reported as not merged (it keeps
# the scene's values).
BACKGROUND_DEPTH = 1.0e10  # the Depth pass where nothing was drawn


@dataclass
class MergeReport:
    unmerged_passes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _new(tree: NodeTree, idname: str, name: str, location: tuple[float, float]) -> Node:
    node = tree.nodes.new(idname)
    node.name = node.label = NODE_PREFIX + name
    node.location = location
    return node


def _output(node: Node, name: str) -> NodeSocket:
    return next(s for s in node.outputs if s.name == name and s.enabled)


def _find_output(node: Node, *names: str) -> NodeSocket | None:
    return next((s for s in node.outputs if s.name in names and s.enabled), None)


def _mix(
    tree: NodeTree,
    data_type: str,
    factor: NodeSocket,
    a: NodeSocket,
    b: NodeSocket,
    name: str,
    at: tuple[float, float],
) -> NodeSocket:
    """mix(a, b, factor) of two float or vector sockets."""
    node = _new(tree, "ShaderNodeMix", name, at)
    node.data_type = data_type  # type: ignore[attr-defined]
    slots = {"FLOAT": (2, 3, 0), "VECTOR": (4, 5, 1)}[data_type]
    tree.links.new(factor, node.inputs[0])
    tree.links.new(a, node.inputs[slots[0]])
    tree.links.new(b, node.inputs[slots[1]])
    return node.outputs[slots[2]]


def _switch(
    tree: NodeTree, condition: NodeSocket, a: NodeSocket, b: NodeSocket, name: str, at: tuple[float, float]
) -> NodeSocket:
    """b where condition is 1, else a, all four channels kept (a Z Combine without antialiasing
    on depths 1 - condition against 0.5; the Mix node would drop the fourth)."""
    depth = _math(tree, "SUBTRACT", name + " depth", (at[0] - 200, at[1]))
    depth.inputs[0].default_value = 1.0  # type: ignore[attr-defined]
    tree.links.new(condition, depth.inputs[1])
    node = _new(tree, "CompositorNodeZcombine", name, at)
    tree.links.new(b, node.inputs["A"])
    tree.links.new(depth.outputs[0], node.inputs["Depth A"])
    tree.links.new(a, node.inputs["B"])
    node.inputs["Depth B"].default_value = 0.5  # type: ignore[attr-defined]
    node.inputs["Use Alpha"].default_value = False  # type: ignore[attr-defined]
    node.inputs["Anti-Alias"].default_value = False  # type: ignore[attr-defined]
    return node.outputs["Result"]


def _merge_data_passes(
    tree: NodeTree, avatar: Node, shot_layer: Node, mask: NodeSocket, solid: NodeSocket, tag: str
) -> dict[str, NodeSocket]:
    """Normal and Mist mixed by the avatar's weight (mask x alpha; exact where it is 0 or 1,
    blended at soft edges), the object index and Vector switched where the avatar is solid and
    nearer."""
    x, y = float(shot_layer.location[0]), float(shot_layer.location[1])
    merged: dict[str, NodeSocket] = {}
    a_alpha = _output(avatar, "Alpha")
    weight = _math(tree, "MULTIPLY", f"avatar weight {tag}", (x + 1050, y + 700))
    tree.links.new(mask, weight.inputs[0])
    tree.links.new(a_alpha, weight.inputs[1])
    for name, data_type in (("Normal", "VECTOR"), ("Mist", "FLOAT")):
        a_pass, b_pass = _find_output(avatar, name), _find_output(shot_layer, name)
        if a_pass is not None and b_pass is not None:
            merged[name] = _mix(
                tree,
                data_type,
                weight.outputs[0],
                b_pass,
                a_pass,
                f"merged {name} {tag}",
                (x + 1250, y + 700),
            )
    a_index = _find_output(avatar, "IndexOB", "Object Index")
    b_index = _find_output(shot_layer, "Object Index", "IndexOB")
    if a_index is not None and b_index is not None:
        covered = _math(tree, "MULTIPLY", f"avatar covers {tag}", (x + 1050, y + 900))
        tree.links.new(mask, covered.inputs[0])
        tree.links.new(solid, covered.inputs[1])
        switch = _math(tree, "GREATER_THAN", f"avatar index switch {tag}", (x + 1250, y + 900))
        tree.links.new(covered.outputs[0], switch.inputs[0])
        switch.inputs[1].default_value = 0.5  # type: ignore[attr-defined]
        switched = switch.outputs[0]
        merged[b_index.name] = _mix(
            tree, "FLOAT", switched, b_index, a_index, f"merged index {tag}", (x + 1450, y + 900)
        )
        a_vector, b_vector = _find_output(avatar, "Vector"), _find_output(shot_layer, "Vector")
        if a_vector is not None and b_vector is not None:  # motion is switched, not blended
            merged["Vector"] = _switch(
                tree, switched, b_vector, a_vector, f"merged vector {tag}", (x + 1450, y + 1100)
            )
    return merged


def _math(tree: NodeTree, operation: str, name: str, location: tuple[float, float]) -> Node:
    node = _new(tree, "ShaderNodeMath", name, location)
    node.operation = operation  # type: ignore[attr-defined]
    return node


def build_merge(tree: NodeTree, shot_layer: Node, layer_scene: Scene, tag: str) -> dict[str, NodeSocket]:
    """Adds the avatar layer's Render Layers node and the merge for shot_layer; returns the merged
    sockets by pass name.

    The mask says where the avatar is nearer than the scene. Pixels the avatar does not touch
    count as nearer (their avatar colour and alpha are 0, so "over" leaves the scene as it is):
    the mask's only edges are then the scene's occluders in front of the avatar, and Z Combine's
    antialiasing softens exactly those, never the avatar's own soft silhouette. The avatar goes
    over the scene premultiplied (Alpha Over, the mask as factor): scene + mask (avatar - a scene).
    """
    x, y = float(shot_layer.location[0]), float(shot_layer.location[1])
    links = tree.links
    avatar = _new(tree, "CompositorNodeRLayers", f"avatar layer {tag}", (x, y + 400))
    avatar.scene = layer_scene  # type: ignore[attr-defined]
    a_image, a_alpha, a_depth = (_output(avatar, n) for n in ("Image", "Alpha", "Depth"))
    b_image, b_depth = _output(shot_layer, "Image"), _output(shot_layer, "Depth")

    drawn = _math(tree, "GREATER_THAN", f"avatar drawn {tag}", (x + 250, y + 500))
    links.new(a_alpha, drawn.inputs[0])
    drawn.inputs[1].default_value = 0.0  # type: ignore[attr-defined]
    mask_depth = _math(tree, "MULTIPLY", f"mask depth {tag}", (x + 450, y + 500))
    links.new(a_depth, mask_depth.inputs[0])
    links.new(drawn.outputs[0], mask_depth.inputs[1])
    mask = _new(tree, "CompositorNodeZcombine", f"depth mask {tag}", (x + 650, y + 450))
    mask.inputs["A"].default_value = (1.0, 1.0, 1.0, 1.0)  # type: ignore[attr-defined]
    mask.inputs["B"].default_value = (0.0, 0.0, 0.0, 0.0)  # type: ignore[attr-defined]
    links.new(mask_depth.outputs[0], mask.inputs["Depth A"])
    links.new(b_depth, mask.inputs["Depth B"])
    mask.inputs["Use Alpha"].default_value = False  # type: ignore[attr-defined]
    mask.inputs["Anti-Alias"].default_value = True  # type: ignore[attr-defined]
    mask_value = _new(tree, "CompositorNodeSeparateColor", f"mask value {tag}", (x + 850, y + 450))
    links.new(mask.outputs["Result"], mask_value.inputs["Image"])

    over = _new(tree, "CompositorNodeAlphaOver", f"avatar over scene {tag}", (x + 1050, y + 250))
    links.new(b_image, over.inputs["Background"])
    links.new(a_image, over.inputs["Foreground"])
    links.new(mask_value.outputs["Red"], over.inputs["Factor"])
    over.inputs["Straight Alpha"].default_value = False  # type: ignore[attr-defined]
    merged_alpha = _new(tree, "CompositorNodeSeparateColor", f"merged alpha {tag}", (x + 1250, y + 250))
    links.new(over.outputs["Image"], merged_alpha.inputs["Image"])

    # Depth: the avatar's where it is at least half opaque and nearer, else the scene's.
    solid = _math(tree, "GREATER_THAN", f"avatar solid {tag}", (x + 250, y + 700))
    links.new(a_alpha, solid.inputs[0])
    solid.inputs[1].default_value = 0.5  # type: ignore[attr-defined]
    solid_depth = _new(tree, "ShaderNodeMix", f"avatar solid depth {tag}", (x + 450, y + 700))
    links.new(solid.outputs[0], solid_depth.inputs[0])
    solid_depth.inputs[2].default_value = BACKGROUND_DEPTH  # type: ignore[attr-defined]  # A (float)
    links.new(a_depth, solid_depth.inputs[3])  # B (float)
    merged_depth = _math(tree, "MINIMUM", f"merged depth {tag}", (x + 650, y + 700))
    links.new(solid_depth.outputs[0], merged_depth.inputs[0])
    links.new(b_depth, merged_depth.inputs[1])
    merged = {
        "Image": over.outputs["Image"],
        "Alpha": merged_alpha.outputs["Alpha"],
        "Depth": merged_depth.outputs[0],
    }
    merged.update(
        _merge_data_passes(tree, avatar, shot_layer, mask_value.outputs["Red"], solid.outputs[0], tag)
    )
    return merged


def _shot_layer_nodes(tree: NodeTree, scene: Scene) -> list[Node]:
    return [
        node
        for node in tree.nodes
        if node.bl_idname == "CompositorNodeRLayers"
        and not node.name.startswith(NODE_PREFIX)
        and not node.mute
        and node.scene in (None, scene)  # type: ignore[attr-defined]
    ]


def _temporary_tree(scene: Scene, ledger: Ledger) -> NodeTree:
    """A compositor tree of our own (the shot had none, or compositing was off)."""
    tree = bpy.data.node_groups.new(NODE_PREFIX + "shot", "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    layer = tree.nodes.new("CompositorNodeRLayers")
    layer.scene = scene  # type: ignore[attr-defined]
    layer.layer = scene.view_layers[0].name  # type: ignore[attr-defined]
    tree.nodes.new("NodeGroupOutput").location = (900, 0)
    ledger.on_undo(lambda: bpy.data.node_groups.remove(tree))
    ledger.set(scene, "compositing_node_group", tree)
    return tree


def _link_output(tree: NodeTree, merged: dict[str, NodeSocket]) -> None:
    output = next(node for node in tree.nodes if node.bl_idname == "NodeGroupOutput")
    tree.links.new(merged["Image"], output.inputs[0])


def install(scene: Scene, layer_scene: Scene, ledger: Ledger) -> MergeReport:
    """Makes the compositor of scene merge the avatar layer into every render layer it uses."""
    report = MergeReport()
    user_tree = scene.compositing_node_group if scene.render.use_compositing else None
    ledger.set(scene.render, "use_compositing", True)
    for view_layer in scene.view_layers:
        ledger.set(view_layer, "use_pass_z", True)  # the depth the merge compares
    if user_tree is None:
        tree = _temporary_tree(scene, ledger)
        (shot_layer,) = _shot_layer_nodes(tree, scene)
        _link_output(tree, build_merge(tree, shot_layer, layer_scene, "0"))
        return report
    tree = user_tree
    added_before = set(tree.nodes.keys())
    shot_layers = _shot_layer_nodes(tree, scene)
    if not shot_layers:
        report.problems.append(
            "the compositor does not use this scene's render layers: the avatars are not merged"
        )
    for index, shot_layer in enumerate(shot_layers):
        merged = build_merge(tree, shot_layer, layer_scene, str(index))
        for link in list(tree.links):
            if link.from_node != shot_layer or link.to_node.name.startswith(NODE_PREFIX):
                continue
            name = link.from_socket.name
            if name not in merged:
                report.unmerged_passes.append(name)
                continue
            _relink(tree, link, merged[name], ledger)
    added = [name for name in tree.nodes.keys() if name not in added_before]
    ledger.on_undo(lambda: _remove_nodes(tree, added))
    return report


def _relink(tree: NodeTree, link: bpy.types.NodeLink, source: NodeSocket, ledger: Ledger) -> None:
    """Moves link's start to source; the ledger puts the original link back."""
    original = (link.from_node.name, link.from_socket.identifier)
    target = (link.to_node.name, link.to_socket.identifier)
    tree.links.remove(link)
    tree.links.new(source, _socket(tree, *target, outputs=False))

    def restore() -> None:
        tree.links.new(_socket(tree, *original, outputs=True), _socket(tree, *target, outputs=False))

    ledger.on_undo(restore)


def _socket(tree: NodeTree, node_name: str, identifier: str, *, outputs: bool) -> NodeSocket:
    node = tree.nodes[node_name]
    sockets = node.outputs if outputs else node.inputs
    return next(s for s in sockets if s.identifier == identifier)


def _remove_nodes(tree: NodeTree, names: list[str]) -> None:
    for name in names:
        node = tree.nodes.get(name)
        if node is not None:
            tree.nodes.remove(node)
