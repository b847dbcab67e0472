"""TensorFlow twin of the tiled codec (Minnen et al. 2017; weights converted from PyTorch)."""
