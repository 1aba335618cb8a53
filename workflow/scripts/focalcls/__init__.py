"""focalcls: LoRA fine-tuning of LLMs as text classifiers for imbalanced data, with focal loss.

For your own code: `from focalcls import focal_loss, load_trained_classifier, load_config`. These load
on first use, so the workflow's light scripts never import torch just by importing the package."""

from importlib import import_module

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "focal_loss": "train.losses",
    "resolve_preset": "train.presets",
    "load_trained_classifier": "train.model",
    "predict_probs": "evaluate.inference",
    "load_config": "config.loading",
    "complete": "config.loading",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'focalcls' has no attribute {name!r}")
