"""Optimization: algorithms and the dynamics chapters study (steepest descent, margins, SGD)."""
