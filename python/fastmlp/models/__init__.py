"""Models: `Sequential`, `clone_model` and the loaders (Keras's ``keras.models``)."""

from fastmlp.models.cloning import clone_model
from fastmlp.models.sequential import Sequential
from fastmlp.saving import load_model, model_from_json, save_model

__all__ = ["Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
