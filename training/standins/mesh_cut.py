"""Cutting a region out of a closed triangle mesh, keeping it a clean surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeshCut:
    vertex_index: np.ndarray  # (V',) indices of the kept vertices in the source mesh, ascending
    faces: np.ndarray  # (F',3) faces re-indexed to the kept vertices
    face_index: np.ndarray  # (F',) indices of the kept faces in the source mesh
    boundary_loops: int


def _edges(faces: np.ndarray) -> np.ndarray:
    return np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    unique, counts = np.unique(_edges(faces), axis=0, return_counts=True)
    return unique[counts == 1]


def count_loops(edges: np.ndarray) -> int:
    """Connected components of a set of edges (union-find)."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        parent[find(int(a))] = find(int(b))
    return len({find(v) for v in parent})


def cut_region(faces: np.ndarray, keep_vertex: np.ndarray) -> MeshCut:
    """Faces whose three vertices are kept, cleaned so the cut edge is a simple boundary:
    faces hanging by one edge (two boundary edges, 'ears') and faces meeting the rest at one
    vertex only are removed until none is left."""
    face_ok = keep_vertex[faces].all(axis=1)
    while True:
        kept = np.flatnonzero(face_ok)
        sub = faces[kept]
        edges = _edges(sub)
        unique, inverse, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
        on_boundary = (counts[inverse] == 1).reshape(3, -1).T  # per face, per edge
        ears = on_boundary.sum(axis=1) >= 2
        # Non-manifold vertices: more than two boundary edges meet there.
        bverts = unique[counts == 1].ravel()
        vcount = np.bincount(bverts, minlength=keep_vertex.size)
        pinched = (vcount[sub] > 2).any(axis=1) & on_boundary.any(axis=1)
        bad = ears | pinched
        if not bad.any():
            break
        face_ok[kept[bad]] = False
    kept = np.flatnonzero(face_ok)
    sub = faces[kept]
    used = np.unique(sub)
    remap = np.full(keep_vertex.size, -1)
    remap[used] = np.arange(used.size)
    return MeshCut(
        vertex_index=used,
        faces=remap[sub],
        face_index=kept,
        boundary_loops=count_loops(boundary_edges(sub)),
    )
