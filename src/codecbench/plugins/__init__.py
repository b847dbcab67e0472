"""Built-in codec plugins, each registered through the ``codecbench`` entry-point group."""
