"""File > Import / Export entries, filled from ``ops.IMPORT_ENTRIES`` / ``ops.EXPORT_ENTRIES``."""

from __future__ import annotations

import bpy
from bpy.types import Context, Menu

from .. import ops
from ..engine.registrar import class_registrar


def _draw_entries(menu: Menu, entries: list[tuple[str, str]]) -> None:
    for idname, label in entries:
        menu.layout.operator(idname, text=label)


class GAVATAR_MT_import(Menu):
    bl_idname = "GAVATAR_MT_import"
    bl_label = "Gaussian Avatar"

    def draw(self, _context: Context) -> None:
        _draw_entries(self, ops.IMPORT_ENTRIES)


class GAVATAR_MT_export(Menu):
    bl_idname = "GAVATAR_MT_export"
    bl_label = "Gaussian Avatar"

    def draw(self, _context: Context) -> None:
        _draw_entries(self, ops.EXPORT_ENTRIES)


def _import_menu(self: Menu, _context: Context) -> None:
    self.layout.menu(GAVATAR_MT_import.bl_idname)


def _export_menu(self: Menu, _context: Context) -> None:
    self.layout.menu(GAVATAR_MT_export.bl_idname)


def _object_menu(self: Menu, _context: Context) -> None:
    """Object > Delete Avatar: every part of the active object's avatar at once."""
    self.layout.operator("gavatar.delete_avatar", icon="TRASH")


_register_classes, _unregister_classes = class_registrar((GAVATAR_MT_import, GAVATAR_MT_export))


def register() -> None:
    _register_classes()
    bpy.types.TOPBAR_MT_file_import.append(_import_menu)
    bpy.types.TOPBAR_MT_file_export.append(_export_menu)
    bpy.types.VIEW3D_MT_object.append(_object_menu)


def unregister() -> None:
    bpy.types.VIEW3D_MT_object.remove(_object_menu)
    bpy.types.TOPBAR_MT_file_export.remove(_export_menu)
    bpy.types.TOPBAR_MT_file_import.remove(_import_menu)
    _unregister_classes()
