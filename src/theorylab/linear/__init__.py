"""Linear and high-dimensional models: matrix factorization, least squares and ridge in high
dimension (deterministic equivalents), Gaussian mixtures, random projections."""
