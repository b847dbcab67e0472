"""TensorFlow twins of the recurrent family (weights converted from PyTorch)."""
