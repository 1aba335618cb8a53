"""One preset's LoRA training: the model, the loss, the Trainer, checkpoints, the search's stages."""
