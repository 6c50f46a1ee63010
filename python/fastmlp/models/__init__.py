"""Models: `Sequential` and `load_model` (Keras's ``keras.models``)."""

from fastmlp.models.sequential import Sequential
from fastmlp.saving import load_model

__all__ = ["Sequential", "load_model"]
