"""theorylab: the helper package of an executable textbook on the theory of deep learning."""

__version__ = "0.1.0"
