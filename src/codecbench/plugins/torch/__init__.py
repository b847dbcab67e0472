"""PyTorch learned codecs. torch is imported only inside these modules, and only when used."""
