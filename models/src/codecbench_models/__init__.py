"""The weights codecbench ships for its learned codecs, with their model cards.

Nothing to import: codecbench looks this package up
(``codecbench.codecs.learned.weights_locator``) and reads ``weights/`` — one
``<model>-q<quality>.safetensors`` per rate point (or ``<model>.safetensors`` for a
network of every rate point), ``<model>.md`` (the model card) and
``<model>.training.json`` (the ``codecbench train`` record) — checking each file
against ``weights/SHA256SUMS`` when a codec loads it.
"""
