"""Built-in metric plugins (framework-free; the perceptual networks live in :mod:`codecbench.metrics.torch`)."""
