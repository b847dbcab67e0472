"""The TensorFlow twin of the code-space predictor family."""
