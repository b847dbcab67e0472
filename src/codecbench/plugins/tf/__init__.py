"""TensorFlow learned codecs. tensorflow is imported only inside these modules, and only when used."""
