"""The claims of Section V, checked: one row per measured effect, with its interval over seeds
(:mod:`dnt.repro.intervals`), the two-part verdict (:func:`dnt.repro.verdicts.judge`) and, for
each VDN-vs-IQL comparison, the probability of improvement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dnt.repro.claims_text import claims_markdown
from dnt.repro.intervals import (
    Estimate,
    diff_interval,
    gain_interval,
    mean_interval,
    probability_of_improvement,
)
from dnt.repro.specs import (
    CLAIM_EPS,
    CLAIM_USERS,
    EPS_VALUES,
    USER_VALUES,
    Cell,
    figure_cells,
    figure_configs,
)
from dnt.repro.verdicts import UNSTATED, judge

__all__ = ["claims", "claims_markdown", "collect", "sweep_arrays"]


def collect(
    fig: str, seeds: int, quick: bool, runs: dict[str, Any], cells: dict[str, Cell]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Stored metrics of a figure's cells: {algo: {config hash: [metrics per seed]}}, seeds in
    order. A cell absent from ``runs`` (a part-rebuilt store) is skipped."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"vdn": {}, "iql": {}}
    for c in figure_cells(fig, seeds, quick):
        run = runs.get(c.filename())
        if run is not None:
            out[c.algo].setdefault(c.cfg.config_hash(), []).append(run["metrics"])
    return out


def sweep_arrays(
    fig: str,
    seeds: int,
    quick: bool,
    runs: dict[str, Any],
    cells: dict[str, Cell],
    base: dict[str, Any],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """(methods, baselines) arrays for Figs. 4 and 5: per-user DNT error and data rate.
    ``methods[label][metric]`` is (seeds, configs), row = the cell's seed, NaN where the run is
    absent from ``runs``; ``baselines[name][metric]`` is (configs,)."""
    cfgs = figure_configs(fig)
    where = {c.config_hash(): j for j, c in enumerate(cfgs)}
    # (configs, seeds) transposed: the layout (and so the sums) of the arrays read before
    arrays = {
        algo: {k: np.full((len(cfgs), seeds), np.nan) for k in ("dnt_error", "rate")}
        for algo in ("vdn", "iql")
    }
    for c in figure_cells(fig, seeds, quick):
        run = runs.get(c.filename())
        if run is not None:
            final, j = run["metrics"]["final"], where[c.cfg.config_hash()]
            arrays[c.algo]["dnt_error"][j, c.seed] = final["dnt_error"]
            arrays[c.algo]["rate"][j, c.seed] = final["sum_rate"] / c.cfg.num_users
    methods = {
        label: {k: a.T for k, a in arrays[algo].items()}
        for algo, label in (("vdn", "VDN"), ("iql", "IQL"))
    }
    names = list(base[cfgs[0].config_hash()])
    baselines = {
        n: {
            "dnt_error": np.array([base[c.config_hash()][n]["dnt_error"] for c in cfgs]),
            "rate": np.array([base[c.config_hash()][n]["sum_rate"] / c.num_users for c in cfgs]),
        }
        for n in names
        if n != "random"
    }
    return methods, baselines


#: What the magnitudes depend on (names of :data:`dnt.repro.verdicts.UNSTATED`).
REWARD_DEPS = ("penalty", "update size", "move probabilities", "step length", "training")
DNT_DEPS = ("move probabilities", "step length", "update size", "training")
FIG2_DEPS = ("move probabilities", "step length", "twin training")


def _fmt(est: Estimate, unit: str = "") -> str:
    return f"{est.value:.3g}{unit} [{est.low:.3g}, {est.high:.3g}]"


def _counts(groups: dict[str, np.ndarray], need: int) -> str:
    return ", ".join(f"{label}: {v.size} of {need}" for label, v in groups.items())


def _row(
    cid: str,
    figure: str,
    claim: str,
    paper_text: str,
    interval: Callable[[np.ndarray, np.ndarray], Estimate] | None,
    sign: int,
    how: str,
    paper: float | None = None,
    depends_on: tuple[str, ...] = (),
    unit: str = "",
    groups: dict[str, np.ndarray] | None = None,
    vs_iql: bool = False,
    seeds: int = 0,
    unstated: dict[str, str] = UNSTATED,
    describe: Callable[[Estimate], str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One claim row from the per-seed values of its two compared ``groups`` (label -> values,
    NaN for a seed whose run is absent; a's first): ``interval(a, b)``, both verdict parts and,
    for a VDN-vs-IQL comparison (``vs_iql``), the probability that VDN beats IQL in the
    claimed direction (``sign``). A group with fewer than 2 present seeds leaves the row
    *pending*: no estimate, no verdict. ``describe(estimate)`` gives the text (default: the
    estimate); ``mark`` names the seed counts when some of the ``seeds`` per group are absent."""
    named = {k: np.asarray(v, dtype=float) for k, v in (groups or {}).items()}
    named = {k: v[~np.isnan(v)] for k, v in named.items()}
    short = {k: v for k, v in named.items() if v.size < 2}
    complete = all(v.size == seeds for v in named.values())
    out = {
        "values": {k: [float(x) for x in v] for k, v in named.items()},
        "seeds_per_method": [v.size for v in named.values()],
        "seeds_current": [v.size for v in named.values()],
        "seeds_needed": [seeds] * len(named),
        "mark": "" if complete else _counts(named, seeds) + " seeds",
    }
    est = poi = None
    if short:
        why = "fewer than 2 current seeds; " + _counts(short, seeds)
        verdict = judge(None, sign, paper, depends_on, unstated) | {
            "direction": "pending",
            "direction_why": why,
            "magnitude": "pending",
            "magnitude_why": why,
        }
        text = f"pending ({why})"
    else:
        a, b = [*named.values(), None, None][:2]
        est = None if interval is None else interval(a, b)
        if vs_iql:
            poi = probability_of_improvement(sign * a, sign * b)
        verdict = judge(est, sign, paper, depends_on, unstated)
        text = extra.pop("text", None) or (
            "" if est is None else describe(est) if describe else _fmt(est, unit)
        )
    extra.pop("text", None)
    return {
        "id": cid,
        "figure": figure,
        "claim": claim,
        "paper": paper_text,
        "paper_value": paper,
        "sign": sign,
        "depends_on": list(depends_on),
        "estimate": None if est is None else est.to_dict(),
        "text": text,
        "poi": None if poi is None else poi.to_dict(),
        **out,
        **verdict,
        "how": how,
        **extra,
    }


def _mean(x: np.ndarray) -> dict[str, Any] | None:
    """A method's mean with its t interval, over its present seeds (None below 2)."""
    x = x[~np.isnan(x)]
    return mean_interval(x).to_dict() if x.size >= 2 else None


def claims(
    seeds: int,
    quick: bool,
    runs: dict[str, Any],
    cells: dict[str, Cell],
    base: dict[str, Any],
    fig2: dict[str, Any] | None,
    figs: tuple[str, ...],
    unstated: dict[str, str] = UNSTATED,
) -> dict[str, Any]:
    """Each claim of Section V as rows of measured effects with both verdict parts; ``unstated``
    is the list of values the paper does not state (tests change it to flip dependencies).
    ``runs`` holds the usable runs by file name; a cell absent from it (a part-rebuilt store)
    is left out of its row, which says so (``mark``) or, below 2 seeds a group, is pending."""
    out: list[dict[str, Any]] = []
    if seeds < 2:  # no interval over one seed: the table says so and judges nothing
        figs = ()
    kw = {"unstated": unstated, "seeds": seeds}
    shown = [f for f in ("fig3", "fig4", "fig5", "fig6") if f in figs]
    reading = figure_configs(shown[0])[0].serve_condition if shown else None  # runs by config
    if "fig3" in figs:
        col = collect("fig3", seeds, quick, runs, cells)
        h = figure_configs("fig3")[0].config_hash()
        vdn, iql = col["vdn"].get(h, []), col["iql"].get(h, [])
        v = np.array([m["final"]["reward"] for m in vdn], dtype=float)
        q = np.array([m["final"]["reward"] for m in iql], dtype=float)
        best = None
        if v.size >= 2 and q.size >= 2:
            curves_v = np.array([[r["eval_reward"] for r in m["curve"]] for m in vdn])
            curves_q = np.array([[r["eval_reward"] for r in m["curve"]] for m in iql])
            with np.errstate(divide="ignore", invalid="ignore"):  # "up to": the largest gain
                per_eval = 100 * (curves_v.mean(0) - curves_q.mean(0)) / np.abs(curves_q.mean(0))
            defined = per_eval[np.isfinite(per_eval)]
            best = float(defined.max()) if defined.size else None
        out.append(
            _row(
                "fig3-gain",
                "Fig. 3",
                "VDN improves the reward (the weighted sum of eq. 16) over IQL by up to 28.96%",
                "+28.96%",
                gain_interval,
                1,
                "gain = 100 (R_VDN - R_IQL) / |R_IQL| of the final greedy evaluation reward per "
                "slot (eps = 0.3, N = 12)",
                28.96,
                REWARD_DEPS,
                "%",
                {"VDN": v, "IQL": q},
                True,
                describe=lambda g: (
                    f"{_fmt(g, '%')}; VDN {_fmt(mean_interval(v))}, IQL {_fmt(mean_interval(q))}"
                ),
                vdn=_mean(v),
                iql=_mean(q),
                max_over_evaluations_gain_pct=best,
                **kw,
            )
        )
    if "fig4" in figs:
        methods, _ = sweep_arrays("fig4", seeds, quick, runs, cells, base)
        i8, i99 = (EPS_VALUES.index(e) for e in CLAIM_EPS)
        rv, rq = methods["VDN"]["rate"][:, i8], methods["IQL"]["rate"][:, i8]
        ev, eq = methods["VDN"]["dnt_error"][:, i8], methods["IQL"]["dnt_error"][:, i8]
        how = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.8, N = 9"
        out.append(
            _row(
                "fig4-rate-eps0.8",
                "Fig. 4",
                "at eps = 0.8 VDN's average data rate is 31.79% higher than IQL's",
                "+31.79%",
                gain_interval,
                1,
                how + "; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
                31.79,
                REWARD_DEPS,
                "%",
                {"VDN": rv, "IQL": rq},
                True,
                **kw,
            )
        )
        out.append(
            _row(
                "fig4-dnt-eps0.8",
                "Fig. 4",
                "at eps = 0.8 VDN's DNT error is higher than IQL's",
                "VDN higher",
                diff_interval,
                1,
                how + "; VDN minus IQL",
                groups={"VDN": ev, "IQL": eq},
                vs_iql=True,
                **kw,
            )
        )
        a, b = methods["IQL"]["rate"][:, i99], methods["IQL"]["rate"][:, i8]
        out.append(
            _row(
                "fig4-iql-rate-falls",
                "Fig. 4",
                "IQL's average data rate falls as eps goes from 0.8 to 0.99",
                "falls",
                diff_interval,
                -1,
                "IQL per-user rate at eps 0.99 minus at 0.8 (separate runs)",
                groups={"eps 0.99": a, "eps 0.8": b},
                **kw,
            )
        )
    if "fig5" in figs:
        methods, _ = sweep_arrays("fig5", seeds, quick, runs, cells, base)
        first, last = (USER_VALUES.index(u) for u in CLAIM_USERS)
        rv, rq = methods["VDN"]["rate"][:, last], methods["IQL"]["rate"][:, last]
        ev, eq = methods["VDN"]["dnt_error"][:, last], methods["IQL"]["dnt_error"][:, last]
        how = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.25, N = 12"
        out.append(
            _row(
                "fig5-u12-rate",
                "Fig. 5",
                "with 12 users VDN's data rate is 10.15% higher than IQL's",
                "+10.15%",
                gain_interval,
                1,
                how + ", U = 12; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
                10.15,
                REWARD_DEPS,
                "%",
                {"VDN": rv, "IQL": rq},
                True,
                **kw,
            )
        )
        out.append(
            _row(
                "fig5-u12-dnt",
                "Fig. 5",
                "with 12 users VDN's DNT error is 0.2 higher than IQL's",
                "+0.2",
                diff_interval,
                1,
                how + ", U = 12; VDN minus IQL",
                0.2,
                DNT_DEPS,
                groups={"VDN": ev, "IQL": eq},
                vs_iql=True,
                note="Fig. 6 claims the opposite order at the same settings (fig6-dnt-error)",
                **kw,
            )
        )
        for key, word, sign in (("dnt_error", "rises", 1), ("rate", "falls", -1)):
            name = "DNT error" if key == "dnt_error" else "data rate"
            for label in ("VDN", "IQL"):
                arr = methods[label][key]
                out.append(
                    _row(
                        f"fig5-{key}-trend-{label.lower()}",
                        "Fig. 5",
                        f"{label}'s {name} {word} as the number of users grows",
                        word,
                        diff_interval,
                        sign,
                        f"{label}'s per-user {name} at U = {CLAIM_USERS[1]} minus at "
                        f"U = {CLAIM_USERS[0]} (separate runs)",
                        groups={
                            f"U = {CLAIM_USERS[1]}": arr[:, last],
                            f"U = {CLAIM_USERS[0]}": arr[:, first],
                        },
                        **kw,
                    )
                )
    if "fig6" in figs:
        col = collect("fig6", seeds, quick, runs, cells)
        h = figure_configs("fig6")[0].config_hash()
        v = np.array([m["final"]["dnt_error"] for m in col["vdn"].get(h, [])], dtype=float)
        q = np.array([m["final"]["dnt_error"] for m in col["iql"].get(h, [])], dtype=float)
        out.append(
            _row(
                "fig6-dnt-error",
                "Fig. 6",
                "VDN keeps a smaller DNT error than IQL over the evaluation episodes",
                "VDN lower",
                diff_interval,
                -1,
                "mean DNT error per user over every slot of every evaluation episode, "
                "eps = 0.25, N = 12, U = 12; VDN minus IQL",
                groups={"VDN": v, "IQL": q},
                vs_iql=True,
                note="the same runs and measurement as fig5-u12-dnt, whose claim is the "
                "opposite order: one measurement judges both",
                **kw,
            )
        )
    if "fig2" in figs and fig2 is not None:
        ours = fig2["users_test_mse"]
        bayes = [fig2["evaluation"]["one_step_per_user"]["bayes"][u] for u in fig2["users"]]
        out.append(
            _row(
                "fig2-mse",
                "Fig. 2",
                "the GRU's positioning MSEs of users 2, 4 and 7 are 0.188, 0.075 and 0.320",
                "0.188 / 0.075 / 0.320",
                None,
                1,
                "one-step MSE per user over the test trajectories, normalised as eq. (14); one "
                "trained twin, no interval over seeds",
                0.188,
                FIG2_DEPS,
                paper_values=[0.188, 0.075, 0.320],
                text=" / ".join(f"{x:.3f}" for x in ours)
                + " (Bayes floor "
                + " / ".join(f"{x:.3f}" for x in bayes)
                + ")",
                test_mse=ours,
                bayes_floor=bayes,
                trajectory_mse=fig2["users_mse"],
                **kw,
            )
        )
    # the code behind the numbers, read from the results themselves (never the current tree's:
    # redrawing unchanged results must leave the table unchanged)
    versions = {r["code_version"] for r in runs.values()}
    if fig2 is not None:
        versions.add(fig2["code_version"])
    needed = {c.filename() for f in shown for c in figure_cells(f, seeds, quick)}
    present = [runs[n] for n in needed if n in runs]
    return {
        "seeds": seeds,
        "quick": quick,
        "reading": reading,
        "code_versions": sorted(versions),
        "stale_runs": sum(bool(r.get("stale")) for r in runs.values()),
        "runs_needed": len(needed),
        "runs_current": sum(not r.get("stale") for r in present),
        "runs_missing": len(needed) - len(present),
        "claims": out,
    }
