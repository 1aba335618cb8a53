"""focalcls: LoRA fine-tuning of LLMs as text classifiers for imbalanced data, with focal loss."""

__version__ = "0.1.0"
