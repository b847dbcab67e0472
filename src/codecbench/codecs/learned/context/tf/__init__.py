"""TensorFlow twin of Mentzer et al. 2018 (weights converted from PyTorch)."""
