"""TensorFlow (tensorflow-compression) twins of the hyperprior family."""
