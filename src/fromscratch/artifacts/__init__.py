"""Safe, lazy model reading and canonical component naming.

``open_model(location)`` returns a ``Model``: headers are read at once, tensor
values one at a time on request; nothing in a file is ever executed.
"""

from fromscratch.artifacts.base import CanonicalTensor, Component, ModelReader, TensorInfo
from fromscratch.artifacts.model import Model, open_model, resolve_hub_id

__all__ = ["CanonicalTensor", "Component", "Model", "ModelReader", "TensorInfo", "open_model", "resolve_hub_id"]
