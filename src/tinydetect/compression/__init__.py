"""Smaller models from a trained one: structured pruning and PyTorch INT8."""
