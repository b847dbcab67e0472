"""The PyTorch networks behind the perceptual and distribution metrics (imports torch)."""
