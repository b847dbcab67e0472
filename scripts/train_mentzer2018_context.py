"""The recipe of the shipped ``mentzer2018-context`` weights (Mentzer et al. 2018).

One ``codecbench train torch/mentzer2018-context`` run on the training split of the
training photos, on the CPU, stopped by ``--minutes`` (a time limit, so the run always
ends); a run stopped by the limit is then exported at the step it reached (the same
command with ``--steps`` lowered to that step, which the scaffold's resume allows).
The weights (float16 kernels) and ``training.json`` are copied to ``--weights-out`` as
``mentzer2018-context.safetensors`` and ``mentzer2018-context.training.json``.

Usage (what the model card records)::

    OMP_NUM_THREADS=1 python scripts/train_mentzer2018_context.py \\
        --data /path/to/train-photos --out runs/context --minutes 42 \\
        --weights-out models/src/codecbench_models/weights
"""

from __future__ import annotations

from one_network_recipe import main

OPTIONS = ["--batch-size", "8", "--patch-size", "128", "--lr", "5e-4", "--seed", "0",
           "--checkpoint-every", "100", "--log-every", "25", "--half-kernels"]
"""``codecbench train torch/mentzer2018-context`` options besides ``--data``, ``--split train``, ``--out``,
``--steps`` and ``--time-limit`` (:mod:`one_network_recipe`)."""

if __name__ == "__main__":
    main("torch/mentzer2018-context", OPTIONS, steps=4000, minutes=42.0,
         description=__doc__.splitlines()[0])
