"""Every measured number the README quotes about the reproduction is read from the committed
store: each sentence and table row below is rebuilt from ``results/`` and must appear in the
README as it is, and no other decimal number may appear in those passages (so a number typed by
hand, or one the store has since changed, fails here)."""

import functools
import json
import re
from pathlib import Path

import pytest

from dnt.repro.specs import ablation_cells, chosen_budget, figure_configs
from dnt.repro.store import ResultStore
from dnt.repro.summary import method_row

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _passages() -> str:
    """The README's passages that quote the store: the eq. (16) bullet and the reproduction
    section up to the paragraph on seeds trained side by side."""
    readme = (ROOT / "README.md").read_text()
    bullet = re.search(r"- Eq\. \(16\):.*?(?=\n- )", readme, re.S)
    section = re.search(r"## The reproduction\n(.*?)\nThe five seeds", readme, re.S)
    assert bullet and section, "the README's eq. (16) bullet or reproduction section moved"
    return _flat(bullet.group(0) + " " + section.group(1))


def _ci(r: dict) -> str:
    return f"{r['reward']:.2f} [{r['reward_ci'][0]:.2f}, {r['reward_ci'][1]:.2f}]"


@functools.cache
def _expected() -> list[str]:
    """The README's quoting passages, rebuilt from the store."""
    summ = json.loads((RESULTS / "summary.json").read_text())
    table = json.loads((RESULTS / "claims.json").read_text())
    m = summ["fig3"]["methods"]
    store = ResultStore(RESULTS)
    printed, served = {}, []
    for name, cells in ablation_cells(5, False).items():
        if name.startswith("printed reading"):
            runs = [store.load_run(c) for c in cells]
            assert all(runs), f"{name}: runs missing or stale"
            finals = [r["metrics"]["final"] for r in runs]
            printed[name[-3:]] = method_row(finals)
            served += [f["served_per_slot"] for f in finals]
    cfg = figure_configs("fig3")[0].replace(serve_condition="exactly_once")
    printed_rules = store.load_baselines(cfg, 16)["results"]

    def pct(key: str) -> str:
        return f"{m[key]['percent_of_oracle']:.1f}%"

    budget = {r["gradient_steps"]: r["reward"] for r in summ["budget_study"]["VDN"]}
    chosen = chosen_budget(False)
    gain = next(c for c in table["claims"] if c["id"] == "fig3-gain")["estimate"]
    directions = [c["direction"] for c in table["claims"]]
    magnitudes = [c["magnitude"] for c in table["claims"]]
    return [
        f"VDN earns {printed['VDN']['reward']:.2f} and IQL {printed['IQL']['reward']:.2f} per "
        f"slot, serving about {round(sum(served) / len(served))} users per slot, while the "
        "nearest-BS rule that always updates earns "
        f"{printed_rules['nearest_always_update']['reward']:.2f}",
        f"| VDN (shared head, {chosen:,} gradient steps) | what a BS knows | {_ci(m['VDN'])} | "
        f"{pct('VDN')} |",
        f"| IQL (same learner, its own tuned settings) | what a BS knows | {_ci(m['IQL'])} | "
        f"{pct('IQL')} |",
        f"| nearest BS, always update | what a BS knows | "
        f"{m['nearest_always_update']['reward']:.2f} | {pct('nearest_always_update')} |",
        f"| nearest BS, skip overlaps, always update | what a BS knows | "
        f"{m['nearest_skip_overlap_always_update']['reward']:.2f} | "
        f"{pct('nearest_skip_overlap_always_update')} |",
        f"| threshold rule | a BS's view plus the twin's error | "
        f"{m['nearest_threshold_1']['reward']:.2f} | {pct('nearest_threshold_1')} |",
        f"| one-slot optimiser (`myopic_oracle`) | the full state, all BSs jointly | "
        f"{m['myopic_oracle']['reward']:.2f} | {pct('myopic_oracle')} |",
        f"reaches {100 * m['VDN']['reward'] / m['nearest_threshold_1']['reward']:.0f}% of the "
        f"threshold rule (target 95%) and {m['VDN']['percent_of_oracle']:.0f}% of the one-slot "
        "optimiser (target 85%)",
        f"rises from {budget[375]:.2f} to {budget[1500]:.2f} at 1,500 steps, stays there at "
        f"{chosen:,} ({budget[chosen]:.2f}) and rises again to {budget[2 * chosen]:.2f} at "
        f"{2 * chosen:,}",
        f"doubling it gains {budget[2 * chosen] - budget[chosen]:.2f}",
        "75 epochs with one gradient step each, ends at "
        f"{summ['budget_study']['VDN_paper_literal']['reward']:.2f} for VDN",
        f"Of the {len(directions)} rows of the claims table (one per measured effect), the "
        f"direction of {directions.count('reproduced')} is reproduced, "
        f"{directions.count('opposite')} come out the opposite way and "
        f"{directions.count('inconclusive')} are inconclusive",
        f"the Fig. 3 gain of VDN over IQL is {gain['value']:.2f}% [{gain['low']:.2f}%, "
        f"{gain['high']:.2f}%] against the paper's 28.96%",
        f"{sum(x in ('reproduced', 'not reproduced') for x in magnitudes)} of the paper's "
        f"{sum(x != 'none claimed' for x in magnitudes)} numbers can be compared with ours",
        f"made by code version `{', '.join(summ['code_versions'])}`",
        _store_sentence(summ["store"]),
    ]


def _store_sentence(st: dict) -> str:
    """What the README says of the store's completeness (it may be part-rebuilt)."""
    r = st["runs"]
    if st["complete"]:
        return f"The store is complete: all {r['needed']} runs of `reproduce all` are current."
    return (
        f"The store is part-rebuilt: {r['current']} of {r['needed']} runs of `reproduce all` "
        f"are current ({r['stale']} stale, {r['missing']} missing); the numbers below come from "
        "the current runs only, and the claims table marks every row drawn from fewer seeds."
    )


@pytest.mark.parametrize("i", range(len(_expected())))
def test_readme_quotes_the_store(i):
    passage = _passages()
    want = _expected()[i]
    assert want in passage, f"README should say: {want!r}"


def test_no_other_decimal_number_in_the_quoting_passages():
    passage = _passages()
    for want in _expected():
        passage = passage.replace(want, " ")
    # what remains may state settings (epsilon 0.3), never a measured number
    assert re.findall(r"-?\d+\.\d+", passage) == ["0.3"], passage
