"""PyTorch network, codec and training of Mentzer et al. 2018."""
