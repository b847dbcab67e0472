"""The recipe of the shipped ``torch/klopp2018-codespace`` weights, in one command.

Trains the autoencoder, the multiscale code-space predictors and the gain vectors of
every rate point jointly on the training split of the photos, single-threaded on the
CPU, with a safety time limit; a run stopped by it is continued and exported at the step
it reached (the step count may change on resume). It is ``codecbench train
torch/klopp2018-codespace`` with the options of :data:`OPTIONS` (called through the
codec's ``train``, the function the command calls). Then copies the weights and the
training record into ``--weights-out`` as ``klopp2018-codespace.safetensors`` and
``klopp2018-codespace.training.json``.

Usage (what the model card records)::

    OMP_NUM_THREADS=1 python scripts/train_klopp2018_codespace.py \\
        --data TRAIN_PHOTOS --out RUN_FOLDER --weights-out models/src/codecbench_models/weights
"""

from __future__ import annotations

from one_network_recipe import main

OPTIONS = ["--batch-size", "4", "--patch-size", "192", "--lr", "3e-4", "--checkpoint-every", "250",
           "--log-every", "50", "--half-kernels"]
"""``codecbench train torch/klopp2018-codespace`` options besides ``--data``, ``--split train``, ``--out``,
``--steps`` and ``--time-limit`` (:mod:`one_network_recipe`)."""

if __name__ == "__main__":
    main("torch/klopp2018-codespace", OPTIONS, steps=4800, minutes=44.0,
         description=__doc__.splitlines()[0])
