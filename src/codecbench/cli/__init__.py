"""The ``codecbench`` command line; every built-in command is registered through ``register_commands`` like a plugin's."""
