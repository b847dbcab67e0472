"""PyTorch (CompressAI) models of the hyperprior family."""
