"""``python -m codecbench`` runs the command-line interface."""

from codecbench.cli.main import main

if __name__ == "__main__":
    main()
