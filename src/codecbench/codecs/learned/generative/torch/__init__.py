"""PyTorch network, codec and training of GC."""
