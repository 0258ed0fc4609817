"""The learners: VDN and IQL (Algorithm 2) with the BSs' Q-networks, one concern per module in
the manner of PyMARL, to be read top to bottom like a CleanRL script:

* :mod:`~dnt.rl.config`: the training settings (:class:`~dnt.rl.config.TrainConfig`);
* :mod:`~dnt.rl.features`: what a BS observes and remembers, as the networks' inputs;
* :mod:`~dnt.rl.actions`: action bits, available actions, random actions;
* :mod:`~dnt.rl.modules`: the Q-networks (the shared per-user head and the paper's head);
* :mod:`~dnt.rl.controller`: epsilon-greedy action selection;
* :mod:`~dnt.rl.buffer`: episode replay;
* :mod:`~dnt.rl.learner`: TD targets and losses, VDN's sum against IQL's local terms;
* :mod:`~dnt.rl.runner`: collection and evaluation on the vector environment;
* :mod:`~dnt.rl.train`: the loop, several seeds side by side, checkpoints and resumption.
"""

from dnt.rl.config import TrainConfig
from dnt.rl.train import Trainer, train, train_seeds

__all__ = ["TrainConfig", "Trainer", "train", "train_seeds"]
