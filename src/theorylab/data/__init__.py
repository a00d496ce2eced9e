"""Data and tasks: synthetic distributions (Zipf tails, generations of synthetic data) and the
models that memorize them."""
