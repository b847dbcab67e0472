"""Classical codecs (Pillow, pillow-heif, imagecodecs)."""
