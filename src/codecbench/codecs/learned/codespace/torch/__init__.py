"""The PyTorch codec of the code-space predictor family."""
