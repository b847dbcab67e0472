"""What the codecs and metrics need to know about torch and TensorFlow (versions, availability, data-only file loading); the frameworks are imported inside functions only."""
