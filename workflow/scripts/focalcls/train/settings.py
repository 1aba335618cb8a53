"""One training's settings: the config's train section as training reads it, with one seed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass
class TrainSettings:
    """The config's train section as training reads it. No defaults here: the schema holds them."""

    epochs: float
    batch_size: int
    grad_accum: int
    lr: float
    head_lr: float | None  # None: lr
    weight_decay: float
    warmup_ratio: float
    scheduler: str
    max_grad_norm: float
    seed: int  # one of train.seeds: the train rule gives each run its own
    patience: int
    eval_steps: int | None  # None: once per epoch
    early_stopping_metric: str  # loss (the preset's own loss on val) | macro_f1 | minority_f1
    precision: str  # auto | bf16 | fp16 | fp32
    gradient_checkpointing: bool
    hard_example_sampling: bool
    hard_example_floor: float

    @classmethod
    def from_config(cls, train_section: Mapping, *, seed: int) -> TrainSettings:
        """These fields from the schema-filled `train` section (focalcls.config.loading.complete) and `seed`,
        one of its train.seeds; a missing key is a KeyError, since a complete config has them all and no fallback may
        stand in for the schema."""
        values = {**train_section, "seed": seed}
        return cls(**{field.name: values[field.name] for field in fields(cls)})

    def resume_key(self) -> dict:
        """The fields as a checkpoint's resume key holds them: head_lr only when set, so a training interrupted
        before it existed still resumes."""
        return {k: v for k, v in self.__dict__.items() if k != "head_lr" or v is not None}
