"""PyTorch network, codec and training of the tiled codec (Minnen et al. 2017)."""
