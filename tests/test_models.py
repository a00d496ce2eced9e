"""theorylab.nets.models: replicas are independent, the MLP is blind to feature order, bad inputs."""

import pytest
import torch

from theorylab import rng
from theorylab.nets import models


def test_replicas_train_independently():
    """Training two replicas together gives the same weights as training the first alone."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, 16, generator=gen)
    y = torch.where(x[:, :, 3] > 0, 1.0, -1.0)
    both = models.LocalCNN(2, gen=rng.torch(0, "m"), width=4, depth=2, kernel=3)
    one = models.LocalCNN(1, gen=rng.torch(1, "m"), width=4, depth=2, kernel=3)
    with torch.no_grad():  # copy replica 0 of `both` into `one`
        for p1, p2 in zip(one.parameters(), both.parameters()):
            p1.copy_(p2[: p1.shape[0]])  # replica 0 owns the first rows of every parameter
    models.train_binary(both, x, y, gen=torch.Generator().manual_seed(1), epochs=3, batch_size=16)
    models.train_binary(one, x[:, :1], y[:, :1], gen=torch.Generator().manual_seed(1), epochs=3,
                        batch_size=16)
    assert torch.allclose(one(x[:, :1])[:, 0], both(x)[:, 0], atol=1e-5)


def test_mlp_is_order_blind_given_the_matching_initialisation():
    """An MLP on permuted features with permuted first-layer rows is the same function."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 12, generator=gen)
    y = torch.where(x[:, :, 0] + x[:, :, 5] > 0, 1.0, -1.0)
    perm = torch.randperm(12, generator=gen)
    xx = torch.cat([x, x[:, :, perm]], dim=1)
    yy = torch.cat([y, y], dim=1)
    mlp = models.MLP(2, 12, gen=rng.torch(0, "mlp"), hidden=(16,))
    with torch.no_grad():
        mlp.weights[0][1] = mlp.weights[0][0][perm]
        mlp.biases[0][1] = mlp.biases[0][0]
        mlp.weights[1][1] = mlp.weights[1][0]
        mlp.biases[1][1] = mlp.biases[1][0]
    models.train_binary(mlp, xx, yy, gen=torch.Generator().manual_seed(2), epochs=5, batch_size=32)
    out = mlp(xx)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-4)


def test_cnn_learns_a_local_rule_and_2d_shapes():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 1, 16, generator=gen)
    y = torch.where((x[:, :, 1:] * x[:, :, :-1]).amax(dim=2) > 2.0, 1.0, -1.0)
    cnn = models.LocalCNN(1, gen=rng.torch(0, "cnn"), width=8, depth=2, kernel=3)
    models.train_binary(cnn, x, y, gen=gen, epochs=30, batch_size=64, lr=1e-2)
    assert models.accuracy(cnn, x, y).item() > 0.85
    img = models.LocalCNN(3, gen=rng.torch(0, "img"), dims=2)
    assert img(torch.randn(5, 3, 8, 8)).shape == (5, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="dims"):
        models.LocalCNN(1, gen=rng.torch(0, "x"), dims=3)
    with pytest.raises(ValueError, match="width"):
        models.LocalCNN(1, gen=rng.torch(0, "x"), width=0)
    m = models.MLP(1, 4, gen=rng.torch(0, "x"), hidden=(4,))
    with pytest.raises(ValueError, match="y"):
        models.train_binary(m, torch.zeros(3, 1, 4), torch.zeros(3, 1), gen=torch.Generator())
    with pytest.raises(ValueError, match="epochs"):
        models.train_binary(m, torch.zeros(3, 1, 4), torch.ones(3, 1), gen=torch.Generator(), epochs=0)
