"""``python -m codecbench`` runs the command-line interface."""

from codecbench.core.cli import main

if __name__ == "__main__":
    main()
