"""Planted bugs for the chapter 'Can a reparametrization regularize?' (weight-compander).

Each bug replaces a function of `theorylab.nets.compander` by a plausible wrong version, reruns the
chapter's cells (fast profile, base seed 0) and prints which claims catch it. Run:

    PYTHONPATH=src .venv/bin/python scripts/planted_bugs/weight-compander.py [--only SUBSTRING]

Every bug runs under a wall-clock limit (``--timeout``, default 300 s per run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner  # noqa: E402

SLUG = "weight-compander"
ONE_STEP = dict(stop_after='ledger.close("gap_slope"')     # Experiment 1 and its claims (no training)
PENALTY = dict(stop_after='ledger.at_most("penalty_fixed_point_err"')   # up to Experiment 1b (no training)


def _mod():
    from theorylab.nets import compander
    return compander


def _subclass(**methods):
    """Replace the module's Compander by a subclass with ``methods`` (the runner restores module attributes)."""
    def patch():
        cp = _mod()
        cp.Compander = type("Compander", (cp.Compander,), dict(methods))
    return patch


def _rate_not_squared():                                  # P(w) = k^2 (1 - w^2/a^2): the square of the sech^2 forgotten
    return _subclass(rate=lambda self, w: self.slope ** 2 * (1 - (w / self.bound) ** 2))


def _preconditioner_not_squared():
    def patch():                                          # preconditioned step with c'(v) instead of c'(v)^2
        cp = _mod()
        cp.step_preconditioned = lambda comp, v, g, lr: -lr * comp.derivative(v) * g
    return patch


def _second_order_missing_half():
    def patch():                                          # Taylor term without the 1/2
        cp = _mod()
        cp.step_second_order = lambda comp, v, g, lr: lr ** 2 * comp.second_derivative(v) * comp.derivative(v) ** 2 * g ** 2
    return patch


def _second_derivative_sign():                            # c'' with the wrong sign (tanh: + instead of -)
    from theorylab.nets.compander import Compander
    return _subclass(second_derivative=lambda self, v: -Compander.second_derivative(self, v))


def _derivative_scale_a():                                # c'(v) = sech^2(kv/a) without the factor k
    from theorylab.nets.compander import Compander
    return _subclass(derivative=lambda self, v: Compander.derivative(self, v) / self.slope)


def _inverse_missing_scale():                             # c^{-1}(w) = artanh(w/a) (the a/k forgotten)
    def wrong(self, w):
        if self.kind == "tanh":
            return torch.atanh(w / self.bound)
        return torch.tan(w * self._s / self.slope) / self._s
    return _subclass(inverse=wrong)


def _weight_decay_on_w():
    def patch():                                          # weight decay applied to w = c(v) instead of v
        cp = _mod()

        def train(model, x, y, *, lr, steps):
            wd = model.arms.weight_decay.view(-1, 1, 1).to(x.dtype)
            step = lr * model.arms.lr_scale.to(x.dtype).view(-1, 1, 1)
            for _ in range(steps):
                loss = cp.cross_entropy(model.forward(x), y)
                grads = torch.autograd.grad(loss, model.parameters())
                ws = [w.detach() for w in model.weights()]
                with torch.no_grad():
                    for v, g, w in zip(model.v, grads[:len(model.v)], ws):
                        v -= step * (g + wd * w)
                    for b, g in zip(model.b, grads[len(model.v):]):
                        b -= step * g
        cp.train = train
    return patch


def _penalty_times_derivative():                          # rho = c^{-1}(w) c'(v) instead of c^{-1}(w) / c'(v)
    def wrong(self, w):
        v = self.inverse(w)
        return v * self.derivative(v)
    return _subclass(penalty_gradient=wrong)


def _no_chain_rule_in_step():
    def patch():                                          # step on v with dL/dw instead of dL/dv = c'(v) dL/dw
        cp = _mod()
        cp.step_via_v = lambda comp, v, g, lr: comp(v - lr * g) - comp(v)
    return patch


def _one_step_too_many():
    def patch():                                          # the training loop runs steps + 1 updates
        cp = _mod()
        train = cp.train
        cp.train = lambda model, x, y, *, lr, steps: train(model, x, y, lr=lr, steps=steps + 1)
    return patch


BUGS = {
    "rate P(w) not squared": (_rate_not_squared(), ONE_STEP),
    "preconditioner c'(v) instead of c'(v)^2": (_preconditioner_not_squared(), ONE_STEP),
    "second-order term without the 1/2": (_second_order_missing_half(), ONE_STEP),
    "c'' with the wrong sign": (_second_derivative_sign(), ONE_STEP),
    "c' without the factor k": (_derivative_scale_a(), ONE_STEP),
    "inverse without the scale a/k": (_inverse_missing_scale(), {}),
    "weight decay on w instead of v": (_weight_decay_on_w(), {}),
    # added by the referee
    "penalty gradient c^-1(w) c' instead of c^-1(w) / c'": (_penalty_times_derivative(), PENALTY),
    "step on v without the chain-rule factor c'(v)": (_no_chain_rule_in_step(), ONE_STEP),
    "training loop one step too many": (_one_step_too_many(), {}),
}



if __name__ == "__main__":
    raise SystemExit(_runner.main(SLUG, BUGS))
