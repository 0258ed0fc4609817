"""dnt: a reproducible companion to "Optimizing Wireless Resource Management and Synchronization
in Digital Twin Networks". Layers, each importing only those before it:

* :mod:`dnt.sim`: the paper's system (Section II, Algorithm 1, the twin and its GRU);
* :mod:`dnt.rl`: the learners (VDN and IQL, Algorithm 2);
* :mod:`dnt.baselines`: rules that learning has to beat;
* :mod:`dnt.repro` (the reproduction of Section V) and :mod:`dnt.studies` (allocation,
  complexity and Lemma 1 studies);
* :mod:`dnt.book` (notebook helpers) and :mod:`dnt.cli` (the command line).
"""

from __future__ import annotations

import importlib.abc
import sys

#: Modules of the flat layout before 0.2 and where their contents live now.
MOVED = {
    "dnt.config": "dnt.sim.config",
    "dnt.mobility": "dnt.sim.mobility",
    "dnt.channel": "dnt.sim.channel",
    "dnt.allocation": "dnt.sim.allocation",
    "dnt.twin": "dnt.sim.twin (predictors, eq. 7), dnt.sim.twin_data (data sets, errors), "
    "dnt.sim.gru (the GRU twin) and dnt.sim.predictors (make_predictor)",
    "dnt._gru": "dnt.sim.gru",
    "dnt.env": "dnt.sim.env (VectorDNTEnv), dnt.sim.parallel_env (DNTParallelEnv) and "
    "dnt.sim.reward (action bits, eqs. 16-17)",
    "dnt.theory": "dnt.studies.theory",
    "dnt.marl": "dnt.rl (config, features, actions, modules, controller, buffer, learner, "
    "runner, train)",
    "dnt.plots": "dnt.repro.figures (Figs. 2-6, network_figure) and dnt.studies.complexity "
    "(complexity_figure)",
    "dnt.experiments": "dnt.repro.specs, .store, .executor, .claims, .figures, .reproduce, "
    "dnt.studies.allocation, dnt.studies.complexity and dnt.book (see the README's table)",
}


class _MovedModules(importlib.abc.MetaPathFinder):
    """Turns an import of a module that moved into an ImportError naming its new home."""

    def find_spec(self, name, path, target=None):
        if name in MOVED:
            raise ImportError(f"{name} has moved to {MOVED[name]}", name=name)
        return None


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
