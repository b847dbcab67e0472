"""Bundled sample photos (6 lossless CC0/public-domain photos stored as lossless WebP; see
LICENSES.md here)."""
