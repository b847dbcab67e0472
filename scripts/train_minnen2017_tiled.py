"""The recipe of the shipped ``torch/minnen2017-tiled`` weights, in one command.

Trains the context network and residual coder jointly on the training split of the
photos (``codecbench train torch/minnen2017-tiled``, the options below), single-threaded
on the CPU, with a safety ``--time-limit``; a run stopped by it is continued and exported
at the step it reached (``--steps`` may change on resume). Then copies the weights and
the training record into ``--weights-out`` as ``minnen2017-tiled.safetensors`` and
``minnen2017-tiled.training.json``.

Usage (what the model card records)::

    OMP_NUM_THREADS=1 python scripts/train_minnen2017_tiled.py \\
        --data TRAIN_PHOTOS --out RUN_FOLDER --weights-out models/src/codecbench_models/weights
"""

from __future__ import annotations

from one_network_recipe import main

OPTIONS = ["--batch-size", "16", "--patch-size", "96", "--lr", "1e-3", "--checkpoint-every", "100",
           "--log-every", "25", "--half-kernels"]
"""``codecbench train torch/minnen2017-tiled`` options besides ``--data``, ``--split train``, ``--out``,
``--steps`` and ``--time-limit`` (:mod:`one_network_recipe`)."""

if __name__ == "__main__":
    main("torch/minnen2017-tiled", OPTIONS, steps=1800, minutes=42.0,
         description=__doc__.splitlines()[0])
