"""codecbench: a plugin-based evaluation framework for image codecs.

Public API for plugin authors::

    from codecbench import hookimpl, Codec, Dataset, Metric
"""

from codecbench.core.codec import Codec, Family
from codecbench.core.dataset import Dataset
from codecbench.core.hookspecs import hookimpl
from codecbench.core.metric import Metric

__version__ = "0.1.0"

__all__ = ["Codec", "Dataset", "Family", "Metric", "hookimpl", "__version__"]
