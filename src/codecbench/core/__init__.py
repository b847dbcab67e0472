"""Core of codecbench: hook specifications, plugin manager, contracts, results store, CLI."""
