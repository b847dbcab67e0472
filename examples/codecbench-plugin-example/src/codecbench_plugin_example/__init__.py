"""Example codecbench plugin distribution."""
