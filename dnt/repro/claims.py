"""The claims of Section V, checked: one row per measured effect, with its interval over seeds
(:mod:`dnt.repro.intervals`), the two-part verdict (:func:`dnt.repro.verdicts.judge`) and, for
each VDN-vs-IQL comparison, the probability of improvement."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnt.repro.intervals import (
    Estimate,
    diff_interval,
    gain_interval,
    mean_interval,
    probability_of_improvement,
)
from dnt.repro.specs import EPS_VALUES, USER_VALUES, Cell, figure_cells, figure_configs
from dnt.repro.verdicts import UNSTATED, judge

__all__ = ["claims", "claims_markdown", "collect", "sweep_arrays"]


def collect(
    fig: str, seeds: int, quick: bool, runs: dict[str, Any], cells: dict[str, Cell]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Stored metrics of a figure's cells: {algo: {config hash: [metrics per seed]}}."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"vdn": {}, "iql": {}}
    for c in figure_cells(fig, seeds, quick):
        m = runs[c.filename()]["metrics"]
        out[c.algo].setdefault(c.cfg.config_hash(), []).append(m)
    return out


def sweep_arrays(fig: str, seeds: int, quick: bool, runs, cells, base):
    """(methods, baselines) arrays for Figs. 4 and 5: per-user DNT error and data rate."""
    cfgs = figure_configs(fig)
    col = collect(fig, seeds, quick, runs, cells)
    methods = {}
    for algo, label in (("vdn", "VDN"), ("iql", "IQL")):
        err = np.array(
            [[m["final"]["dnt_error"] for m in col[algo][c.config_hash()]] for c in cfgs]
        ).T
        rate = np.array(
            [
                [m["final"]["sum_rate"] / c.num_users for m in col[algo][c.config_hash()]]
                for c in cfgs
            ]
        ).T
        methods[label] = {"dnt_error": err, "rate": rate}
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


def _row(
    cid: str,
    figure: str,
    claim: str,
    paper_text: str,
    est: Estimate | None,
    sign: int,
    how: str,
    paper: float | None = None,
    depends_on: tuple[str, ...] = (),
    unit: str = "",
    pair: tuple[np.ndarray, np.ndarray] | None = None,
    unstated: dict[str, str] = UNSTATED,
    **extra: Any,
) -> dict[str, Any]:
    """One claim row: the estimate, both verdict parts and, for a VDN-vs-IQL ``pair`` (VDN's
    and IQL's per-seed values), the probability that VDN beats IQL in the claimed direction
    (``sign``). ``values`` (per-seed values by label) defaults to the pair's."""
    poi = None if pair is None else probability_of_improvement(sign * pair[0], sign * pair[1])
    named = extra.pop("values", None) or ({"VDN": pair[0], "IQL": pair[1]} if pair else {})
    values = {k: [float(x) for x in v] for k, v in named.items()}
    text = extra.pop("text", None) or ("" if est is None else _fmt(est, unit))
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
        "values": values,
        "seeds_per_method": [len(v) for v in values.values()],
        **judge(est, sign, paper, depends_on, unstated),
        "how": how,
        **extra,
    }


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
    is the list of values the paper does not state (tests change it to flip dependencies)."""
    out: list[dict[str, Any]] = []
    if seeds < 2:  # no interval over one seed: the table says so and judges nothing
        figs = ()
    kw = {"unstated": unstated}
    shown = [f for f in ("fig3", "fig4", "fig5", "fig6") if f in figs]
    reading = figure_configs(shown[0])[0].serve_condition if shown else None  # runs by config
    if "fig3" in figs:
        col = collect("fig3", seeds, quick, runs, cells)
        (h,) = col["vdn"]
        v = np.array([m["final"]["reward"] for m in col["vdn"][h]])
        q = np.array([m["final"]["reward"] for m in col["iql"][h]])
        g = gain_interval(v, q)
        vm, qm = mean_interval(v), mean_interval(q)
        curves_v = np.array([[r["eval_reward"] for r in m["curve"]] for m in col["vdn"][h]])
        curves_q = np.array([[r["eval_reward"] for r in m["curve"]] for m in col["iql"][h]])
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
                g,
                1,
                "gain = 100 (R_VDN - R_IQL) / |R_IQL| of the final greedy evaluation reward per "
                "slot (eps = 0.3, N = 12)",
                28.96,
                REWARD_DEPS,
                "%",
                (v, q),
                text=f"{_fmt(g, '%')}; VDN {_fmt(vm)}, IQL {_fmt(qm)}",
                vdn=vm.to_dict(),
                iql=qm.to_dict(),
                max_over_evaluations_gain_pct=best,
                **kw,
            )
        )
    if "fig4" in figs:
        methods, _ = sweep_arrays("fig4", seeds, quick, runs, cells, base)
        i8, i99 = EPS_VALUES.index(0.8), EPS_VALUES.index(0.99)
        rv, rq = methods["VDN"]["rate"][:, i8], methods["IQL"]["rate"][:, i8]
        ev, eq = methods["VDN"]["dnt_error"][:, i8], methods["IQL"]["dnt_error"][:, i8]
        how = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.8, N = 9"
        out.append(
            _row(
                "fig4-rate-eps0.8",
                "Fig. 4",
                "at eps = 0.8 VDN's average data rate is 31.79% higher than IQL's",
                "+31.79%",
                gain_interval(rv, rq),
                1,
                how + "; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
                31.79,
                REWARD_DEPS,
                "%",
                (rv, rq),
                **kw,
            )
        )
        out.append(
            _row(
                "fig4-dnt-eps0.8",
                "Fig. 4",
                "at eps = 0.8 VDN's DNT error is higher than IQL's",
                "VDN higher",
                diff_interval(ev, eq),
                1,
                how + "; VDN minus IQL",
                pair=(ev, eq),
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
                diff_interval(a, b),
                -1,
                "IQL per-user rate at eps 0.99 minus at 0.8 (separate runs)",
                values={"eps 0.99": a, "eps 0.8": b},
                **kw,
            )
        )
    if "fig5" in figs:
        methods, _ = sweep_arrays("fig5", seeds, quick, runs, cells, base)
        i12 = USER_VALUES.index(12)
        rv, rq = methods["VDN"]["rate"][:, i12], methods["IQL"]["rate"][:, i12]
        ev, eq = methods["VDN"]["dnt_error"][:, i12], methods["IQL"]["dnt_error"][:, i12]
        how = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.25, N = 12"
        out.append(
            _row(
                "fig5-u12-rate",
                "Fig. 5",
                "with 12 users VDN's data rate is 10.15% higher than IQL's",
                "+10.15%",
                gain_interval(rv, rq),
                1,
                how + ", U = 12; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
                10.15,
                REWARD_DEPS,
                "%",
                (rv, rq),
                **kw,
            )
        )
        out.append(
            _row(
                "fig5-u12-dnt",
                "Fig. 5",
                "with 12 users VDN's DNT error is 0.2 higher than IQL's",
                "+0.2",
                diff_interval(ev, eq),
                1,
                how + ", U = 12; VDN minus IQL",
                0.2,
                DNT_DEPS,
                pair=(ev, eq),
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
                        diff_interval(arr[:, -1], arr[:, 0]),
                        sign,
                        f"{label}'s per-user {name} at U = {USER_VALUES[-1]} minus at "
                        f"U = {USER_VALUES[0]} (separate runs)",
                        values={"U = 12": arr[:, -1], "U = 6": arr[:, 0]},
                        **kw,
                    )
                )
    if "fig6" in figs:
        col = collect("fig6", seeds, quick, runs, cells)
        (h,) = col["vdn"]
        v = np.array([m["final"]["dnt_error"] for m in col["vdn"][h]])
        q = np.array([m["final"]["dnt_error"] for m in col["iql"][h]])
        out.append(
            _row(
                "fig6-dnt-error",
                "Fig. 6",
                "VDN keeps a smaller DNT error than IQL over the evaluation episodes",
                "VDN lower",
                diff_interval(v, q),
                -1,
                "mean DNT error per user over every slot of every evaluation episode, "
                "eps = 0.25, N = 12, U = 12; VDN minus IQL",
                pair=(v, q),
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
    return {
        "seeds": seeds,
        "quick": quick,
        "reading": reading,
        "code_versions": sorted(versions),
        "stale_runs": sum(bool(r.get("stale")) for r in runs.values()),
        "claims": out,
    }


READING_NAMES = {"exactly_once": "printed", "at_most_once": "no user served twice"}


def _poi_text(c: dict[str, Any]) -> str:
    p = c["poi"]
    return "" if p is None else f"{p['value']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"


def claims_markdown(table: dict[str, Any]) -> str:
    """The claims table as Markdown."""
    note = " (quick budget: not a result)" if table["quick"] else ""
    reading = READING_NAMES.get(table.get("reading"), table.get("reading"))
    lines = [
        "# Claims of Section V, checked",
        "",
        f"{table['seeds']} seeds per setting{note}; "
        + (f"eq. (16) read as: {reading}; " if reading else "")
        + "code "
        f"{', '.join(table['code_versions'])}. Intervals are 95%: Student-t for means, Welch "
        "for differences, Fieller for percentage gains (their coverage at these seed counts "
        "is simulated in the book). Direction: *reproduced* when the whole interval lies on "
        "the claimed side of 0, *opposite* when it lies on the other side, *inconclusive* when "
        "it contains 0; *detectable* is the smallest true effect the interval finds 80% of "
        "the time. Magnitude: judged only when everything the paper's number depends on is "
        "stated in the paper. P(VDN better): the probability of improvement (Agarwal et al. "
        "2021) in the claimed direction (rliable), with a seeded percentile bootstrap interval.",
        "",
    ]
    if table.get("stale_runs"):
        lines += [
            f"**Stale**: {table['stale_runs']} of the runs behind this table were made by older "
            "code than the current one (reused with `--allow-stale`); rerun `python -m dnt "
            "reproduce` to retrain them.",
            "",
        ]
    if table["seeds"] < 2:
        lines += ["With fewer than 2 seeds there is no interval, so no claim is judged.", ""]
    lines += [
        "| figure | claim | paper | ours [95% CI] | direction | detectable | magnitude "
        "| P(VDN better) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in table["claims"]:
        det = "" if c["detectable"] is None else f"{c['detectable']:.3g}"
        mag = c["magnitude"] + (f" ({c['magnitude_why']})" if c["unstated"] else "")
        lines.append(
            f"| {c['figure']} | {c['claim']} | {c['paper']} | {c['text']} | "
            f"**{c['direction']}** | {det} | {mag} | {_poi_text(c)} |"
        )
    lines += ["", "How each number was computed:", ""]
    for c in table["claims"]:
        extra = f" Note: {c['note']}." if c.get("note") else ""
        seeds = "/".join(map(str, c.get("seeds_per_method", [])))
        lines.append(f"- `{c['id']}`: {c['how']}; seeds {seeds or 'n/a'}.{extra}")
    return "\n".join(lines) + "\n"
