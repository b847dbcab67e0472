"""Agustsson et al. 2019 global generative compression (GC)."""
