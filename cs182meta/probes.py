"""Small kit objects that a test cell builds on the student's side (``student.build``)
to ask for what a handle alone cannot give. None of them holds an exercise's solution:
each only calls the function it is given and rearranges its inputs or output.

* :class:`WithParameters` — call ``fn(network, {name: parameter}, ...)`` as
  ``(network, ...)``: ``student.grad(probe, (network, ...), wrt=(0,))`` then gives the
  gradients with respect to the parameters that ``fn`` receives as a dictionary (``wrt``
  takes a tensor or a network, not a dictionary);
* :class:`Projected` — ``sum_n <fn(...)[n], vectors[n]>`` of a function that returns a
  dictionary of tensors: under ``student.grad`` a vector-Jacobian product, e.g. the
  gradient of a query loss through a student's ``inner_adapt``;
* :class:`Kept` — keeps ``fn``'s output on the student's side, to be read later (after
  other calls may have changed tensors it shares);
* :func:`tensor_flags` — ``requires_grad`` and ``is_leaf`` of every tensor in a value (a
  :class:`Box`'s, say), which a tensor that crosses does not carry;
* :class:`SumLoss` — a closure for ``optimizer.step(closure)``: a fixed linear loss of
  the optimizer's own tensors, backpropagated;
* :func:`linear_problem` and :func:`linear_closed_form` — notebook 03's one-weight MAML
  problem, whose meta-loss and meta-gradient are known by hand.
* :func:`touches_global_rng` — whether a call seeds or draws from torch's global random
  state (notebook 01's ``make_sequence`` must use only the generator it is given).
* :class:`StandInLearner` — a learner's ``predict(episode)`` whose logits do or do not
  depend on the other queries of the episode, for notebook 04's ``transductive_gap``.

Example (notebook 03)::

    probe = student.build("cs182meta.probes.WithParameters", student.maml_outer_loss)
    loss, (grads,) = student.grad(probe, (net, tasks, 1, 0.1), wrt=(0,))
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class WithParameters:
    """``fn(network, dict(network.named_parameters()), *args, **kwargs)``, called as
    ``probe(network, *args, **kwargs)``; ``params`` is the dictionary of the last call,
    as ``fn`` left it."""

    def __init__(self, fn):
        self.fn = fn
        self.params: dict[str, torch.Tensor] = {}

    def __call__(self, network: nn.Module, *args, **kwargs):
        self.params = dict(network.named_parameters())
        return self.fn(network, self.params, *args, **kwargs)


class Projected:
    """``sum_n (fn(...)[n] * vectors[n]).sum()`` over the names of ``vectors``."""

    def __init__(self, fn, vectors: dict[str, torch.Tensor]):
        self.fn, self.vectors = fn, vectors

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        terms = [(out[name] * v.to(out[name])).sum() for name, v in self.vectors.items()]
        return torch.stack(terms).sum()


class Box:
    """One output of a :class:`Kept` call; ``value`` is read when it is asked for."""

    def __init__(self, value: Any):
        self.value = value


class Kept:
    """``fn(...)``'s output in a :class:`Box` that stays on the student's side."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs) -> Box:
        return Box(self.fn(*args, **kwargs))


def tensor_flags(value: Any) -> Any:
    """``value`` (a :class:`Box`'s value for a box) with every tensor replaced by
    ``{"requires_grad": ..., "is_leaf": ...}``, in dicts, lists and tuples."""
    if isinstance(value, Box):
        value = value.value
    if isinstance(value, torch.Tensor):
        return {"requires_grad": bool(value.requires_grad), "is_leaf": bool(value.is_leaf)}
    if isinstance(value, dict):
        return {key: tensor_flags(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [tensor_flags(item) for item in value]
    return None


class SumLoss:
    """``scale`` times the sum of every entry of the tensors ``optimizer`` updates,
    backpropagated: each of them gets the gradient ``scale`` everywhere."""

    def __init__(self, optimizer: torch.optim.Optimizer, scale: float):
        self.optimizer, self.scale = optimizer, scale

    def __call__(self) -> torch.Tensor:
        tensors = [p for group in self.optimizer.param_groups for p in group["params"]
                   if p.requires_grad]
        if not tensors:  # nothing to train: nothing changes
            return torch.zeros(())
        loss = self.scale * torch.stack([p.sum() for p in tensors]).sum()
        loss.backward()
        return loss.detach()


def linear_problem():
    """``(model, tasks, alpha)`` of notebook 03's toy problem: the one-weight model
    ``y = w * x`` at ``w = 2`` (an ``nn.Linear(1, 1, bias=False)``), two regression tasks
    ``(support_x [T=2, K=2, 1], support_y, query_x [T, Q=3, 1], query_y)`` and the inner
    step size ``alpha = 0.1``: small enough that every quantity of one-step MAML has a
    closed form (:func:`linear_closed_form`)."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    support_x = torch.tensor([[[1.0], [2.0]], [[-1.0], [3.0]]])  # (T=2, K=2, 1)
    support_y = torch.tensor([[[1.0], [3.0]], [[0.5], [4.0]]])  # (T, K, 1)
    query_x = torch.tensor([[[3.0], [0.5], [-2.0]], [[1.5], [-0.5], [2.0]]])  # (T, Q=3, 1)
    query_y = torch.tensor([[[2.0], [1.0], [0.0]], [[3.0], [-1.0], [1.0]]])  # (T, Q, 1)
    return model, (support_x, support_y, query_x, query_y), 0.1


def linear_closed_form(tasks, alpha: float, first_order: bool):
    """(meta-loss, d meta-loss / dw) of :func:`linear_problem` at w = 2 after one inner
    step of mean squared error, computed by hand."""
    losses, grads = [], []
    for xs, ys, xq, yq in zip(*tasks):
        phi = 2.0 - alpha * (2 * xs * (2.0 * xs - ys)).mean()  # one gradient step on D_tr
        losses.append(((phi * xq - yq) ** 2).mean())  # the query loss at phi
        dloss_dphi = (2 * xq * (phi * xq - yq)).mean()
        dphi_dw = 1.0 if first_order else 1.0 - alpha * (2 * xs**2).mean()  # 1 - alpha * L''(w)
        grads.append(dloss_dphi * dphi_dw)
    return sum(losses) / len(losses), sum(grads) / len(grads)


def touches_global_rng(fn, *args, **kwargs) -> bool:
    """Whether ``fn(*args, **kwargs)`` changes torch's global random state (seeds it, or
    draws from it); the state is put back afterwards either way."""
    before = torch.get_rng_state()
    try:
        fn(*args, **kwargs)
        return not torch.equal(before, torch.get_rng_state())
    finally:
        torch.set_rng_state(before)


class StandInLearner:
    """``predict(episode) -> logits [M, N]``, ``query_x`` flattened times ``support_x``
    flattened (each query scored from its own pixels and the support set), then as
    below. An episode whose query labels do not match its query images is refused.

    * ``"alone"`` — nothing more: non-transductive;
    * ``"centred"`` — minus the logits' mean over the episode's queries: transductive;
    * ``"first_entry"`` — logit (0, 1) lowered by 2.5 when the episode holds more than one
      query: transductive in one entry only;
    * ``"raised"`` / ``"lowered"`` — every logit raised / lowered by 1 when the episode
      holds more than one query (no predicted class changes).
    """

    KINDS = ("alone", "centred", "first_entry", "raised", "lowered")

    def __init__(self, kind: str):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind

    def __call__(self, episode) -> torch.Tensor:
        if episode.query_y is None or len(episode.query_y) != len(episode.query_x):
            labels = "no" if episode.query_y is None else len(episode.query_y)
            raise ValueError(f"an episode with {len(episode.query_x)} query image(s) and {labels} "
                             "query label(s): give each query image its label (slice query_y "
                             "with query_x)")
        logits = episode.query_x.flatten(1) @ episode.support_x.flatten(1).T  # (M, N*K)
        together = len(episode.query_x) > 1
        if self.kind == "centred":
            logits = logits - logits.mean(dim=0)
        elif self.kind == "first_entry" and together:
            logits = logits.clone()
            logits[0, 1] -= 2.5
        elif self.kind in ("raised", "lowered") and together:
            logits = logits + (1.0 if self.kind == "raised" else -1.0)
        return logits
