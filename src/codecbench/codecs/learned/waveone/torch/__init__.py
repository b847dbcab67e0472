"""PyTorch network, codec and training of WaveOne."""
