"""The article's one-hidden-layer sigmoid network in numpy, step by step.

A reader can put this package beside ``r_impl/`` and map line to line:
``activations.py`` <-> ``activations.R``, ``steps.py`` <-> ``steps.R``,
``train.py`` <-> ``train.R``.
"""

from . import steps
from .activations import derivatives_sigmoid, sigmoid
from .train import one_epoch, train

__all__ = ["derivatives_sigmoid", "one_epoch", "sigmoid", "steps", "train"]
