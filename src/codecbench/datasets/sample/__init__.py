"""Bundled sample photos (6 lossless CC0/public-domain PNGs; see LICENSES.md here)."""
