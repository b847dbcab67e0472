"""codecbench: a plugin-based evaluation framework for image codecs.

Public API for plugin authors::

    from codecbench import hookimpl, Codec, Dataset, Metric
"""

from codecbench.api.codec import Codec, Family
from codecbench.api.dataset import Dataset
from codecbench.api.hookspecs import hookimpl
from codecbench.api.metric import Metric

__version__ = "0.1.0"

__all__ = ["Codec", "Dataset", "Family", "Metric", "hookimpl", "__version__"]
