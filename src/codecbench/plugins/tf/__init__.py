"""TensorFlow learned codecs. tensorflow is imported only inside these modules, and only when used.

TensorFlow's C++ start-up messages (oneDNN, CUDA probing) are silenced unless the user set
``TF_CPP_MIN_LOG_LEVEL`` themselves; warnings and errors still show.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
