"""TensorFlow twin of GC (weights converted from PyTorch)."""
