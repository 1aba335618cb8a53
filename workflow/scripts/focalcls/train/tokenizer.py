"""The checkpoint's tokenizer, checked, and the config error for a checkpoint that ships its own code: apart
from the model so that the data stage, which counts tokens, starts without importing peft."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from transformers import AutoTokenizer

from focalcls.config.checks import require_tokenizer_files
from focalcls.core.errors import UserError

log = logging.getLogger(__name__)

SAMPLE_TEXT = "Sample text, 样本文本 123"  # any working tokenizer gives it tokens, unknown ones at worst


@contextlib.contextmanager
def refusing_remote_code(checkpoint: str | os.PathLike) -> Iterator[None]:
    """transformers refuses a checkpoint's own code unless trust_remote_code; say so as a config error."""
    try:
        yield
    except ValueError as e:
        if "trust_remote_code" not in str(e):
            raise
        raise UserError(
            f"model.checkpoint {str(checkpoint)!r} ships its own Python code, which was not run; set "
            "model.trust_remote_code: true only if you have read that code and trust it"
        ) from None


def load_tokenizer(checkpoint: str | os.PathLike, *, trust_remote_code: bool = False):
    """The checkpoint's tokenizer, padding on the right; refused when its files are missing or it encodes a
    sample text to nothing (transformers then builds an empty one, and the data stages count 0 tokens)."""
    require_tokenizer_files(Path(checkpoint))
    with refusing_remote_code(checkpoint):
        tokenizer = AutoTokenizer.from_pretrained(str(checkpoint), trust_remote_code=trust_remote_code)
    if not tokenizer(SAMPLE_TEXT, add_special_tokens=False)["input_ids"]:
        raise UserError(
            f"the tokenizer in model.checkpoint {str(checkpoint)!r} encodes {SAMPLE_TEXT!r} to no tokens: its "
            "tokenizer files are broken or belong to another model; copy them again from the model's download"
        )
    if tokenizer.pad_token is None:
        # Without a pad token the classifier cannot find the last real token of a padded row.
        tokenizer.pad_token = tokenizer.eos_token
        log.warning("tokenizer has no pad token; using eos %r", tokenizer.eos_token)
    tokenizer.padding_side = "right"
    return tokenizer
