"""TensorFlow twin of WaveOne (weights converted from PyTorch)."""
