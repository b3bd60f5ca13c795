"""Framework integrations: ``lrsweep.integrations.transformers`` (the Hugging Face Trainer)."""
