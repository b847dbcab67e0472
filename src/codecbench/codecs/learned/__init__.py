"""The learned-codec core (model table, container, weights locator, entropy models, training scaffold) and one folder per model family."""
