"""Tensors and graphs: entanglement of data tensors, tree tensor networks, feature rearrangement,
locality, walk indices and graph neural networks."""
