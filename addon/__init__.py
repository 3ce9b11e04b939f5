"""Blender shell of the extension: preferences, properties, panels, menus, registration."""
