"""`python -m benchmarks [accuracy|latency|training|heldout ...]` (all by default): prints figures and targets."""

from __future__ import annotations

import argparse

from benchmarks import heldout, latency, nlu_accuracy, training
from benchmarks.stats import percentile

TARGETS = """
targets on a 2-core machine: CV macro-F1 >= 0.95 and above the baseline; REST reply p95 <= 40 ms;
/model/parse p50 <= 15 ms; ready <= 25 s; full train <= 120 s; rasa RSS <= 900 MB; late/early reply
ratio <= 1.2; held-out: in-scope accuracy >= 0.97, out-of-scope recall >= 0.95, crisis 988/911 1.0,
hard-negative false alarms <= 0.05; far-domain: in scope <= 0.03, crisis answers 0
"""

def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parts = ["training", "latency", "accuracy", "heldout"]
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(parts)} (default: all)")
    which = parser.parse_args().which or parts
    unknown = set(which) - set(parts)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(parts)}")
    summary = {}
    if "training" in which:
        print("== training time ==")
        summary.update(training.main())
    if "latency" in which:
        print("== latency, growth and memory ==")
        figures = latency.main()
        summary.update(
            ready_s=figures["ready_s"],
            reply_p95_ms=percentile(figures["reply_times"], 95) * 1000,
            growth_ratio=figures["growth_ratio"],
            rasa_rss_mb=figures["rasa_rss_mb"],
        )
    if "accuracy" in which:
        print("== NLU 5-fold cross-validation ==")
        results = nlu_accuracy.main()
        summary["macro_f1"] = results["ours (pipeline + rules)"]["macro_f1"]
        summary["baseline_macro_f1"] = results["baseline (TF-IDF + LR)"]["macro_f1"]
    if "heldout" in which:
        print("== evaluation sets: independent held-out and development, beside the TF-IDF pipeline ==")
        held = heldout.main(compare=True)
        for name, per_set in held.items():
            for set_name, figures in per_set.items():
                prefix = f"{name}_{set_name.replace('development/', '')}"
                summary[f"{prefix}_acc"] = figures["in_scope_accuracy"]
                summary[f"{prefix}_oos"] = figures["oos_recall"]
                summary[f"{prefix}_crisis"] = figures["crisis_recall"]
                summary[f"{prefix}_false_alarms"] = figures["false_alarm_rate"]
                summary[f"{prefix}_far_in_scope"] = figures["far_in_scope_rate"]
                summary[f"{prefix}_far_crisis"] = figures["far_crisis_answers"]
    print("== summary ==")
    for name, value in summary.items():
        # None: a part the set does not have (development/round5 is safety only).
        print(f"  {name:32} {'-':>8}" if value is None else f"  {name:32} {value:8.3f}")
    print(TARGETS.strip())


if __name__ == "__main__":
    main()
