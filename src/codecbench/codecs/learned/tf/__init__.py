"""What every TensorFlow learned codec shares: the plugin and index coding with tensorflow-compression's range coder."""
