"""Neural networks used across chapters: batched replicas of small MLPs and CNNs."""
