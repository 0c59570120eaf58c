"""nnparity: prove that a Python program and an R program compute the same thing, step by step."""

__version__ = "0.1.0"
