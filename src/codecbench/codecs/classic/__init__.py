"""Classical codecs (Pillow, pillow-heif, imagecodecs, ffmpeg), named by format."""
