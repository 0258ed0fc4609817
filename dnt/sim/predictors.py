"""The twin's predictor by name (``SystemConfig.twin_predictor``): hold-last, the Bayes-optimal
one-step predictor, or the scenario's cached GRU twin (:func:`dnt.sim.gru.scenario_twin`)."""

from __future__ import annotations

from dnt.sim.config import SystemConfig
from dnt.sim.twin import BayesPredictor, HoldLastPredictor, Predictor

__all__ = ["make_predictor"]


def make_predictor(cfg: SystemConfig, predictor: Predictor | None = None) -> Predictor:
    """``predictor`` if given, else the one ``cfg.twin_predictor`` names (GRU: cached twin)."""
    if predictor is not None:
        return predictor
    if cfg.twin_predictor == "bayes":
        return BayesPredictor(cfg)
    if cfg.twin_predictor == "gru":
        from dnt.sim.gru import scenario_twin  # torch only when the GRU twin is asked for

        return scenario_twin(cfg)
    return HoldLastPredictor()
