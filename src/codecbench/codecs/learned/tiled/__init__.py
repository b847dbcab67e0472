"""Minnen et al. 2017, "Spatially adaptive image compression using a tiled deep network": intra-predicted 32×32 tiles, iterative residual codes, per-tile iteration counts for a target quality."""
