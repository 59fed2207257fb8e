"""A training report as a person reads it, and the rule that calls a model "no signal":
what `leadq model show` and `leadq model activate` need, without scikit-learn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NO_SIGNAL_BELOW = 0.55
NO_SIGNAL_RULE = (
    f'"no signal" when the lower bound of the AUC\'s 95% interval is below {NO_SIGNAL_BELOW}'
)

BANDS_RULE = (
    "probability cut-offs chosen on the held-out leads so that each action takes the same "
    "share of them as the overall score's bands give it: the workload per action stays as it "
    "was, and the leads in it are those the model ranks highest (LEADQ_ACTION_BASIS="
    "probability applies them)"
)

__all__ = ["BANDS_RULE", "NO_SIGNAL_BELOW", "NO_SIGNAL_RULE", "render"]


def render(report: Mapping[str, Any]) -> str:
    """The report as a person reads it in a terminal."""
    m, nb, rules = report["model"], report["naive_bayes"], report["rules_overall_score"]
    lo, hi = m["auc_ci95"]
    lines = [
        f"label: {report['label']}  source: {report['source']}",
        f"rows: {report['rows']} ({report['converted']} converted, "
        f"{report['not_converted']} not), {report['skipped_rows']} skipped",
        f"evaluation: {report['evaluation']}",
        f"model ({m['kind']}, {m['calibration']}): AUC {m['auc']:.3f} "
        f"(95% CI {lo:.3f}-{hi:.3f}), Brier {m['brier']:.4f}, log loss {m['log_loss']:.4f}",
        f"naive Bayes baseline: AUC {nb['auc']:.3f}, Brier {nb['brier']:.4f}",
        f"rules engine overall_score: AUC {rules['auc']:.3f}",
        *(
            [f"LLM overall_score: AUC {llm['auc']:.3f} (the {llm['leads']} an LLM qualified)"]
            if (llm := report.get("llm_overall_score"))
            else []
        ),
        f"verdict: {report['verdict']} ({report['verdict_rule']})",
        "",
        "calibration (predicted -> observed):",
    ]
    lines += [
        f"  {row['bin']:>8}: {row['leads']:6d} leads, predicted {row['predicted']:.3f}, "
        f"observed {row['observed']:.3f}"
        for row in report["calibration_table"]
        if row["leads"]
    ]
    lines.append("conversion by decile (highest probability first):")
    lines += [
        f"  {row['decile']:>2}: {row['leads']:6d} leads, conversion {row['conversion']:.3f}, "
        f"lift {row['lift']}"
        for row in report["deciles"]
    ]
    bands = report.get("probability_bands")  # reports of models trained before bands: none
    if bands:
        lines.append(
            "action bands by probability (held-out leads: share and conversion by the overall "
            "score's bands -> by these):"
        )
        lines += [_band_line(b) for b in bands["bands"]]
        lines.append(f"  ({bands['rule']})")
    lines.append("strongest factors:")
    lines += [f"  {f}" for f in report["strongest_factors"]]
    if report["ignored_columns"]:
        lines.append(
            "not used: " + "; ".join(f"{k} ({v})" for k, v in report["ignored_columns"].items())
        )
    lines.append(f"trained in {report['training_seconds']} s")
    return "\n".join(lines)


def _band_line(band: Mapping[str, Any]) -> str:
    cut = band["probability_from"]
    start = "never" if cut is None else f"from {cut:.3f}"

    def part(row: Mapping[str, Any]) -> str:
        rate = "-" if row["conversion"] is None else f"{row['conversion']:.1%}"
        return f"{row['share']:.1%} converting {rate}"

    return (
        f"  {band['action']:>18}: {start} (overall score from {band['overall_score_from']}): "
        f"{part(band['by_score'])} -> {part(band['by_probability'])}"
    )
