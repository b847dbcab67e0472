"""PyTorch networks, codecs and training of the recurrent family."""
