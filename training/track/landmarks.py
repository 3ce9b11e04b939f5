"""Face landmarks (468 + 10 iris points) and person masks from the models inside the mediapipe
0.10.14 wheel, on the CPU. Nothing is downloaded: the legacy FaceMesh / SelfieSegmentation graphs
read the .tflite files under mediapipe/modules/, and we check they are there before starting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LOG = logging.getLogger("training")

NUM_LANDMARKS = 478  # 468 face mesh points + 5 per iris (centre first: 468 and 473)
MODEL_FILES = (
    "face_detection/face_detection_short_range.tflite",
    "face_landmark/face_landmark_with_attention.tflite",
    "selfie_segmentation/selfie_segmentation.tflite",
)
MAX_FACES = 4  # we look for several faces to warn and keep the largest


class LandmarkModelMissingError(RuntimeError):
    pass


def model_folder() -> Path:
    """mediapipe/modules of the installed wheel, checked to hold the three models."""
    try:
        import mediapipe
    except ImportError as exc:
        raise LandmarkModelMissingError(
            "mediapipe is not installed in the trainer Python (pip install mediapipe==0.10.14)"
        ) from exc
    folder = Path(mediapipe.__file__).parent / "modules"
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise LandmarkModelMissingError(
            f"mediapipe {getattr(mediapipe, '__version__', '?')} lacks {', '.join(missing)} "
            "(install mediapipe==0.10.14, whose wheel ships them)"
        )
    return folder


@dataclass
class FaceObservation:
    """Landmarks of the chosen face in one image: pixels with centres at integers."""

    points: np.ndarray  # (478,2) float64
    box_area: float  # of the landmarks' bounding box, pixels^2
    faces_found: int  # how many faces the detector saw (the largest is kept)


class FaceLandmarker:
    """mediapipe FaceMesh with irises on still images (detection runs on every frame)."""

    def __init__(self, max_faces: int = MAX_FACES, min_confidence: float = 0.5) -> None:
        model_folder()
        from mediapipe.python.solutions import face_mesh

        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )

    def __call__(self, image: np.ndarray) -> FaceObservation | None:
        """(H,W,3) uint8 RGB -> the largest face's landmarks, or None when no face is found."""
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image[..., :3]))
        faces = result.multi_face_landmarks or []
        best: FaceObservation | None = None
        for face in faces:
            xy = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float64)
            # mediapipe's normalised coordinates put pixel edges at integers; ours put centres there.
            points = xy * np.array([w, h]) - 0.5
            span = points.max(axis=0) - points.min(axis=0)
            area = float(span[0] * span[1])
            if best is None or area > best.box_area:
                best = FaceObservation(points=points, box_area=area, faces_found=len(faces))
        return best

    def close(self) -> None:
        self._mesh.close()


class PersonSegmenter:
    """mediapipe SelfieSegmentation (general model): a foreground mask per image."""

    def __init__(self) -> None:
        model_folder()
        from mediapipe.python.solutions import selfie_segmentation

        self._seg = selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(H,W,3) uint8 RGB -> (H,W) float32 in [0,1]."""
        mask = self._seg.process(np.ascontiguousarray(image[..., :3])).segmentation_mask
        return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        self._seg.close()
