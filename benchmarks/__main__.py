"""`python -m benchmarks [accuracy|latency|training ...]` (all by default): prints figures and targets."""

from __future__ import annotations

import argparse

from benchmarks import latency, nlu_accuracy, training
from benchmarks.stats import percentile

TARGETS = """
targets on a 2-core machine: CV macro-F1 >= 0.95 and above the baseline; reply p95 <= 60 ms;
ready <= 25 s; full train <= 90 s; rasa RSS <= 700 MB; late/early reply ratio <= 1.2
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parts = ["training", "latency", "accuracy"]
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
    print("== summary ==")
    for name, value in summary.items():
        print(f"  {name:20} {value:8.3f}")
    print(TARGETS.strip())


if __name__ == "__main__":
    main()
