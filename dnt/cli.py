"""Command line: ``python -m dnt <command>``.

``twin``   train the GRU twin of a scenario and evaluate it against hold-last and the Bayes floor.
``train``  train VDN or IQL (Algorithm 2), resumable, with a per-epoch evaluation curve.
``reproduce``  run what is missing for Figs. 2-6 and the budget study, draw them, check the
paper's claims and write summary.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from dnt.sim.config import SystemConfig

__all__ = ["main", "parse_overrides"]


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse, else as strings."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r} is invalid: must be KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _config(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> SystemConfig:
    """The config from ``--set`` overrides on top of ``defaults`` (then SystemConfig's own)."""
    base = SystemConfig().to_dict()
    overrides = (defaults or {}) | parse_overrides(args.set or [])
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise ValueError(f"unknown SystemConfig parameter(s) in --set: {', '.join(unknown)}")
    return SystemConfig.from_dict(base | overrides)


def cmd_twin(args: argparse.Namespace) -> int:
    from dnt._io import atomic_write, atomic_write_json
    from dnt.repro.figures import figure2, one_step_predictions
    from dnt.sim.gru import GRUTrainConfig, train_gru
    from dnt.sim.twin import BayesPredictor, HoldLastPredictor, twin_key
    from dnt.sim.twin_data import evaluate_predictors, make_twin_dataset

    cfg = _config(args)
    tc = GRUTrainConfig(hidden=args.hidden, max_epochs=args.epochs)
    out = Path(args.out)
    start = time.perf_counter()
    data = make_twin_dataset(cfg, args.seed, num_traj=args.num_traj, length=args.length)
    gru = train_gru(cfg, data, args.seed, tc, progress=not args.no_progress)
    preds = {"gru": gru, "hold_last": HoldLastPredictor(), "bayes": BayesPredictor(cfg)}
    ev = evaluate_predictors(cfg, preds, data.test)
    one = ev["one_step"]
    users = [u for u in (1, 3, 6) if u < cfg.num_users] or [0]
    traj = data.test[0]
    fig_pred = one_step_predictions(gru, traj, cfg.history_len)
    fig = figure2(traj, fig_pred, users=users)
    fig_mse = {str(u + 1): float(((fig_pred[:, u] - traj[1:, u]) ** 2).mean()) for u in users}
    metrics = {
        "test_mse": one["gru"],
        "test_mse_per_user": ev["one_step_per_user"]["gru"],
        "holdlast_mse": one["hold_last"],
        "holdlast_mse_per_user": ev["one_step_per_user"]["hold_last"],
        "bayes_mse": one["bayes"],
        "bayes_mse_per_user": ev["one_step_per_user"]["bayes"],
        "bayes_mse_analytic": ev["bayes_mse_analytic"],
        "gru_above_bayes_pct": 100 * (one["gru"] / one["bayes"] - 1),
        "gru_below_holdlast_pct": 100 * (1 - one["gru"] / one["hold_last"]),
        "closed_loop": ev["closed_loop"],
        "figure2_users_mse": fig_mse,
        "train": {k: v for k, v in gru.train_info.items() if k != "history"},
        "train_curve": gru.train_info["history"],
        "data": {
            "num_traj": args.num_traj,
            "length": args.length,
            "train": len(data.train),
            "val": len(data.val),
            "test": len(data.test),
        },
        "seed": args.seed,
        "twin_key": twin_key(cfg),
        "config": cfg.to_dict(),
        "wall_seconds": time.perf_counter() - start,
    }
    atomic_write(out / "twin.pt", gru.save)
    for ext in ("png", "pdf"):
        atomic_write(out / f"figure2.{ext}", lambda p, e=ext: fig.savefig(p, format=e, dpi=150))
    atomic_write_json(out / "metrics.json", metrics)
    print(
        f"GRU test MSE {one['gru']:.4f}  hold-last {one['hold_last']:.4f}  "
        f"Bayes {one['bayes']:.4f} (analytic {ev['bayes_mse_analytic']:.4f})  -> {out}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from dnt.repro.specs import figure_configs, train_config
    from dnt.rl.config import TrainConfig
    from dnt.rl.train import train

    # the reproduction's Fig. 3 settings; --printed-reading, --twin and --set change them
    defaults = figure_configs("fig3")[0].to_dict() | {"twin_predictor": args.twin}
    if args.printed_reading:
        defaults["serve_condition"] = "exactly_once"
    cfg = _config(args, defaults=defaults)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    tset = parse_overrides(args.train_set or [])
    unknown = sorted(set(tset) - known)
    if unknown:
        raise ValueError(f"unknown TrainConfig parameter(s) in --train-set: {', '.join(unknown)}")
    if args.gradient_steps is not None:
        tset["gradient_steps"] = args.gradient_steps
    tc = train_config(args.algo, quick=False, **tset)
    paper = SystemConfig().to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if v != paper[k]}
    print(
        f"{args.algo.upper()} seed {args.seed}: eq. (16) read as {cfg.serve_condition!r}, "
        f"twin {cfg.twin_predictor!r}, epsilon {cfg.epsilon}, N {cfg.num_rbs}, U "
        f"{cfg.num_users}; config changes from SystemConfig(): {changed}; training: "
        f"{dataclasses.asdict(tc)}"
    )
    torch.set_num_threads(args.threads)
    m = train(cfg, tc, args.seed, out_dir=args.out, progress=not args.no_progress)
    if not m["complete"]:
        print(f"stopped at {m['gradient_steps']} gradient steps; rerun to resume -> {args.out}")
        return 0
    f = m["final"]
    print(
        f"{args.algo.upper()} seed {args.seed}: greedy reward {f['reward']:.3f}, sum rate "
        f"{f['sum_rate']:.2f}, DNT error {f['dnt_error']:.3f}, updates/slot "
        f"{f['updates_per_slot']:.2f}  ({m['train_wall_seconds']:.1f} s) -> {args.out}"
    )
    return 0


def cmd_status(args: argparse.Namespace, targets: tuple[str, ...]) -> int:
    """``reproduce status``: what the store holds and how long the rest takes; exit 1 with
    ``--require-complete`` when a run is stale or missing."""
    from dnt.repro.status import status_text, store_status
    from dnt.repro.store import ResultStore

    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs} is invalid: must be an integer >= 1")
    root = args.root or str(Path("results") / ("quick" if args.quick else ""))
    st = store_status(
        targets,
        args.seeds,
        args.quick,
        ResultStore(root, quick=args.quick),
        args.jobs or 2,
        from_empty=args.from_empty,
    )
    print(json.dumps(st, indent=2, sort_keys=True) if args.json else status_text(st))
    return 1 if args.require_complete and not st["complete"] else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from dnt.repro.reproduce import ALL, TARGETS, reproduce
    from dnt.repro.tuning import tune

    asked = tuple(args.figures or ("all",))
    bad = [f for f in asked if f not in (*TARGETS, "all", "tuning", "status")]
    if bad:
        raise ValueError(
            f"unknown target(s) {bad}: choose from {', '.join(TARGETS)}, tuning, status or all"
        )
    if args.time_limit is not None and args.time_limit < 0:
        raise ValueError(f"--time-limit {args.time_limit} is invalid: must be minutes >= 0")
    if "status" in asked:
        rest = tuple(f for f in asked if f != "status")
        if "tuning" in rest:
            raise ValueError(
                "reproduce status covers the figures, budget and ablations, not tuning"
            )
        return cmd_status(args, ALL if not rest or "all" in rest else rest)
    if args.require_complete or args.json or args.from_empty:
        raise ValueError("--require-complete, --json and --from-empty go with reproduce status")
    if "tuning" in asked:
        res = tune(
            quick=args.quick,
            root=args.root,
            jobs=args.jobs or 2,
            progress=not args.no_progress,
            executor=args.executor,
            address=args.address,
        )
        print(f"tuning: VDN best {res['vdn']['best']}, IQL best {res['iql']['best']}")
        asked = tuple(f for f in asked if f != "tuning")
        if not asked:
            return 0
    figs = ALL if "all" in asked else asked
    out = reproduce(
        figs,
        seeds=args.seeds,
        jobs=args.jobs,
        quick=args.quick,
        root=args.root,
        progress=not args.no_progress,
        executor=args.executor,
        address=args.address,
        allow_stale=args.allow_stale,
        time_limit=args.time_limit,
    )
    stale = f", {out['stale']} stale" if out["stale"] else ""
    print(
        f"{out['runs']} runs ({out['trained_now']} trained now{stale}; code "
        f"{out['code_version']}) in {out['seconds']:.1f} s; figures and claims in {out['root']}"
    )
    if out["blocked"]:
        b = out["blocked"]
        print(
            f"stopped before {b['cell']}: one seed of it takes about {b['seconds'] / 60:.1f} min "
            f"by its estimate, {max(b['left_seconds'], 0) / 60:.1f} min were left; the runs after "
            "it wait for it (a fixed order), so give the next slice a longer --time-limit"
        )
    left = out["remaining"]["total"]
    if left["current"] < left["needed"]:
        from dnt.repro.status import status_text

        print("\nwhat remains:\n" + status_text(out["remaining"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dnt", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("twin", help="train and evaluate the GRU twin (eqs. 9-15, Fig. 2)")
    t.add_argument("--seed", type=int, default=0, help="data and training seed")
    t.add_argument("--out", required=True, help="output folder (metrics.json, twin.pt, fig.)")
    t.add_argument("--num-traj", type=int, default=2000, help="trajectories (paper: 2000)")
    t.add_argument("--length", type=int, default=30, help="steps per trajectory (paper: 30)")
    t.add_argument("--epochs", type=int, default=30, help="maximum training epochs")
    t.add_argument("--hidden", type=int, default=128, help="GRU hidden units N^h")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override")
    t.set_defaults(func=cmd_twin)
    r = sub.add_parser(
        "train",
        help="train VDN or IQL (Algorithm 2) with the reproduction's Fig. 3 settings; resumes",
    )
    r.add_argument("--algo", choices=["vdn", "iql"], default="vdn")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--gradient-steps", type=int, default=None, help="budget (default: the reproduction's)"
    )
    r.add_argument("--out", required=True, help="folder: metrics.json, curve.csv, checkpoint")
    r.add_argument(
        "--twin",
        choices=["gru", "bayes", "hold_last"],
        default="gru",
        help="the twin's predictor (default: the scenario's cached GRU twin)",
    )
    r.add_argument(
        "--printed-reading",
        action="store_true",
        help="eq. (16) as printed (every covered user served exactly once) instead of the "
        "reproduction's at-most-once reading",
    )
    r.add_argument("--threads", type=int, default=1, help="torch threads (default: one core)")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="SystemConfig override")
    r.add_argument("--train-set", action="append", metavar="KEY=VALUE", help="TrainConfig override")
    r.set_defaults(func=cmd_train)
    q = sub.add_parser(
        "reproduce", help="Figs. 2-6, the budget study, the claims table and summary.json"
    )
    q.add_argument(
        "figures",
        nargs="*",
        help="fig2 fig3 fig4 fig5 fig6 budget ablations tuning, or all (default: all = the "
        "figures and the budget study; tuning runs the equal-effort search of dnt.repro.tuning); "
        "'status [targets]' reports what the store holds and how long the rest takes",
    )
    q.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no training batch that cannot finish within MINUTES by its estimate, then "
        "redraw from the store and report what remains (0: train nothing, only redraw)",
    )
    q.add_argument("--json", action="store_true", help="status: print JSON")
    q.add_argument(
        "--require-complete",
        action="store_true",
        help="status: exit 1 unless every run is current",
    )
    q.add_argument(
        "--from-empty",
        action="store_true",
        help="status: estimate the whole reproduction as if the store held no run",
    )
    q.add_argument("--seeds", type=int, default=5, help="seeds per setting (default 5)")
    q.add_argument("--jobs", type=int, default=None, help="processes (default: cores)")
    q.add_argument("--quick", action="store_true", help="tiny budget (tests, CI)")
    q.add_argument("--root", default=None, help="result store (default results/)")
    q.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where training runs: a local process pool, or Ray tasks (extra [cluster])",
    )
    q.add_argument(
        "--address",
        default=None,
        help="with --executor ray: address of an existing Ray cluster (default: start one here)",
    )
    q.add_argument(
        "--allow-stale",
        action="store_true",
        help="reuse runs made by other code (marked stale in the claims, captions, summary) "
        "instead of retraining them",
    )
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
