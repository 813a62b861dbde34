"""Every variant the pipeline makes, where it lives, and one scoring interface over all of them."""
