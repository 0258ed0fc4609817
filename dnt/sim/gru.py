"""The GRU twin of Section III-A/B (eqs. 9-15), in PyTorch, and the cache of scenario twins.

Model: ``torch.nn.GRU`` with N^h hidden units over the last K twin states (2U numbers each),
then a linear layer (eq. 13). Our choices, each documented in the book's assumptions page:

* Input scaling: x / half-width and y / half-height of the area (centred), so inputs lie in
  [-1, 1]. Target: the displacement to the next state in units of the step length; the
  prediction is the last state plus ``step_length`` times the output. The loss is eq. (14) on
  the positions up to the constant factor ``step_length**2``.
* ``torch.nn.GRU`` applies the reset gate after the recurrent product, r * (U h), where eq. (10)
  writes U (r * h), and has bias vectors; eq. (13)'s output layer gets a bias too.
* Optimiser: Adam with the paper's learning rate 1e-3 (eq. 15 is plain SGD; Adam reaches the
  floor in far fewer epochs), mini-batches of 256 windows, at most ``max_epochs`` epochs with
  early stopping when the validation loss has not improved for ``patience`` epochs; the best
  validation weights are kept.
* Parameters are initialised from a ``torch.Generator`` (uniform +-1/sqrt(N^h), as torch does)
  so no global RNG state is touched; shuffling uses the same generator.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dnt._io import atomic_write, code_version, content_hash
from dnt.sim.config import SystemConfig
from dnt.sim.twin import TWIN_FIELDS, twin_key
from dnt.sim.twin_data import TwinDataset, history_windows, make_twin_dataset

__all__ = [
    "GRUPredictor",
    "GRUTrainConfig",
    "scenario_twin",
    "train_gru",
    "twin_cache_dir",
    "twin_path",
]

CHECKPOINT_FORMAT = "dnt-gru-twin/1"


@dataclass(frozen=True)
class GRUTrainConfig:
    """Training settings of the GRU twin (units in the names)."""

    hidden: int = 128  # N^h (Table II)
    lr: float = 1e-3  # lambda_G (Table II)
    batch_size: int = 256  # windows per mini-batch
    max_epochs: int = 30  # passes over the training windows
    patience: int = 4  # epochs without validation improvement before stopping
    min_delta: float = 1e-4  # relative improvement that counts

    def __post_init__(self) -> None:
        for name in ("hidden", "batch_size", "max_epochs", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r} is invalid: must be an integer >= 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} is invalid: must be a finite number > 0")
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta={self.min_delta!r} is invalid: must be >= 0")


class _TwinNet(nn.Module):
    """Eqs. (9)-(13): GRU over K states, linear read-out of the last hidden state."""

    def __init__(self, num_users: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(2 * num_users, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2 * num_users)

    def reset_parameters(self, gen: torch.Generator) -> None:
        bound = 1.0 / math.sqrt(self.gru.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound, generator=gen)
            self.out.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(x)
        return self.out(h[:, -1])


class GRUPredictor:
    """A trained GRU twin bound to its scenario; implements the ``Predictor`` interface."""

    def __init__(self, cfg: SystemConfig, net: _TwinNet, train_info: dict | None = None) -> None:
        self.cfg = cfg
        self.net = net.eval()
        self.train_info = dict(train_info or {})
        c = cfg
        self._center = np.array([sum(c.area_x) / 2, sum(c.area_y) / 2])
        self._scale = np.array([(c.area_x[1] - c.area_x[0]) / 2, (c.area_y[1] - c.area_y[0]) / 2])

    # -- the Predictor interface ---------------------------------------------------------------
    def _features(self, history: np.ndarray) -> torch.Tensor:
        x = (np.asarray(history, dtype=float) - self._center) / self._scale
        k, u = x.shape[-3], x.shape[-2]
        return torch.from_numpy(x.reshape(-1, k, 2 * u).astype(np.float32))

    def predict(self, history: np.ndarray) -> np.ndarray:
        """Next twin state from histories (..., K, U, 2)."""
        history = np.asarray(history, dtype=float)
        lead = history.shape[:-3]
        with torch.no_grad():
            out = self.net(self._features(history)).numpy().astype(float)
        step = out.reshape(*lead, self.cfg.num_users, 2) * self.cfg.step_length
        return history[..., -1, :, :] + step

    def __repr__(self) -> str:
        return f"GRUPredictor(twin_key={twin_key(self.cfg)}, hidden={self.net.gru.hidden_size})"

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the weights, the scenario and the training record (wrap in
        :func:`dnt._io.atomic_write` for an atomic write)."""
        path = Path(path)
        d = self.cfg.to_dict()
        blob = {
            "format": CHECKPOINT_FORMAT,
            "twin_key": twin_key(self.cfg),
            "twin_fields": {k: d[k] for k in TWIN_FIELDS},
            "config": d,
            "hidden": self.net.gru.hidden_size,
            "state_dict": self.net.state_dict(),
            "train_info": self.train_info,
        }
        torch.save(blob, path)

    @classmethod
    def load(cls, path: str | Path, cfg: SystemConfig) -> GRUPredictor:
        """Load a checkpoint for ``cfg``; refuses one trained for another scenario."""
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a dnt GRU twin checkpoint ({CHECKPOINT_FORMAT})")
        if blob["twin_key"] != twin_key(cfg):
            d = cfg.to_dict()
            diff = {
                k: (blob["twin_fields"].get(k), d[k])
                for k in TWIN_FIELDS
                if blob["twin_fields"].get(k) != d[k]
            }
            raise ValueError(
                f"checkpoint {path} was trained for another scenario; differing fields "
                f"(checkpoint, requested): {diff}"
            )
        net = _TwinNet(cfg.num_users, int(blob["hidden"]))
        net.load_state_dict(blob["state_dict"])
        return cls(cfg, net, blob.get("train_info"))


def _tensors(cfg: SystemConfig, traj: np.ndarray, pred: GRUPredictor):
    hist, target = history_windows(traj, cfg.history_len)
    x = pred._features(hist)
    y = (target - hist[:, -1]) / cfg.step_length
    return x, torch.from_numpy(y.reshape(len(y), -1).astype(np.float32))


def train_gru(
    cfg: SystemConfig,
    data: TwinDataset,
    seed: int,
    train_cfg: GRUTrainConfig | None = None,
    progress: bool = True,
) -> GRUPredictor:
    """Train the GRU twin on ``data`` (eq. 14 loss, mini-batches as in eq. 15). Deterministic."""
    tc = train_cfg or GRUTrainConfig()
    gen = torch.Generator().manual_seed(int(seed))
    net = _TwinNet(cfg.num_users, tc.hidden)
    net.reset_parameters(gen)
    pred = GRUPredictor(cfg, net)
    xtr, ytr = _tensors(cfg, data.train, pred)
    xva, yva = _tensors(cfg, data.val, pred)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    loss_fn = nn.MSELoss()  # mean over the 2U coordinates: eq. (14) up to step_length**2

    def val_loss() -> float:
        net.eval()
        with torch.no_grad():
            return float(loss_fn(net(xva), yva))

    best, best_state, best_epoch, bad = val_loss(), None, 0, 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    bar = tqdm(range(1, tc.max_epochs + 1), desc="GRU twin", unit="epoch", disable=not progress)
    for epoch in bar:
        net.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), tc.batch_size):
            idx = perm[i : i + tc.batch_size]
            opt.zero_grad()
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        vl = val_loss()
        history.append({"epoch": epoch, "train_loss": total / len(xtr), "val_loss": vl})
        bar.set_postfix(train=f"{total / len(xtr):.4f}", val=f"{vl:.4f}")
        if vl < best * (1 - tc.min_delta):
            best, best_epoch, bad = vl, epoch, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= tc.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    info: dict[str, Any] = {
        "seed": int(seed),
        "train_config": dataclasses.asdict(tc),
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "best_val_loss": best,
        "history": history,
        "train_seconds": time.perf_counter() - start,
        "train_windows": len(xtr),
        "code_version": code_version(),
    }
    return GRUPredictor(cfg, net, info)


def twin_cache_dir() -> Path:
    """The one cache of scenario twins: ``$DNT_TWIN_DIR`` if set, else the committed store's
    ``results/twins`` when the package runs from a source checkout, else
    ``~/.cache/dnt/twins``. ``reproduce`` keeps the twins of a result store in its own
    ``twins/`` folder, which for the default store is this same folder."""
    env = os.environ.get("DNT_TWIN_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / "results").is_dir():
        return checkout / "results" / "twins"
    return Path.home() / ".cache" / "dnt" / "twins"


def twin_path(
    cfg: SystemConfig, folder: str | Path, train_cfg: GRUTrainConfig, num_traj: int
) -> Path:
    """File of a scenario's twin: keyed by :func:`dnt.sim.twin.twin_key`, the training settings
    and the data set size, so configs that differ only in epsilon, RBs or channel share one."""
    tc_key = content_hash(dataclasses.asdict(train_cfg))[:8]
    return Path(folder) / f"gru-{twin_key(cfg)}-{tc_key}-n{int(num_traj)}.pt"


def scenario_twin(
    cfg: SystemConfig,
    folder: str | Path | None = None,
    train_cfg: GRUTrainConfig | None = None,
    num_traj: int = 2000,
    progress: bool = False,
    allow_stale: bool = True,
) -> GRUPredictor:
    """The scenario's GRU twin: loaded from ``folder`` (default :func:`twin_cache_dir`), or
    trained once on the paper's data set (``num_traj`` trajectories, data and training seed 0)
    and saved there atomically. A damaged or foreign file is retrained; so is one trained by
    other code (see :func:`dnt._io.code_version`) unless ``allow_stale``."""
    tc = train_cfg or GRUTrainConfig()
    path = twin_path(cfg, folder if folder is not None else twin_cache_dir(), tc, num_traj)
    if path.exists():
        try:
            pred = GRUPredictor.load(path, cfg)
            if allow_stale or pred.train_info.get("code_version") == code_version():
                return pred
        except (ValueError, RuntimeError, OSError):
            pass  # a damaged or foreign file: retrain
    data = make_twin_dataset(cfg, 0, num_traj=num_traj)
    pred = train_gru(cfg, data, 0, tc, progress=progress)
    atomic_write(path, pred.save)
    return pred
