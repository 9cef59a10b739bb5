"""Set VLM pipeline: image patches -> vision tower -> projector -> language model (team-written)."""

import numpy as np


def to_patches(image: np.ndarray, patch: int) -> np.ndarray:
    h, w, c = image.shape
    rows, cols = h // patch, w // patch
    image = image[: rows * patch, : cols * patch]
    grid = image.reshape(rows, patch, cols, patch, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * cols, patch * patch * c)


class Pipeline:
    def __init__(self, vision, projector, language_model, image_token: int):
        self.vision = vision
        self.projector = projector
        self.lm = language_model
        self.image_token = image_token

    def embed(self, image: np.ndarray, ids: list[int]) -> np.ndarray:
        feats = self.projector(self.vision(to_patches(image, self.vision.patch)))
        text = self.lm.embed(ids)
        slots = [i for i, t in enumerate(ids) if t == self.image_token]
        if len(slots) != len(feats):
            raise ValueError("image token count does not match the number of patches")
        text[slots] = feats
        return text

    def caption(self, image: np.ndarray, prompt_ids: list[int], budget: int = 24) -> list[int]:
        hidden = self.embed(image, prompt_ids)
        return self.lm.generate_from_embeddings(hidden, budget)
