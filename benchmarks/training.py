"""Training time with a cold cache: the full model, and NLU only."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Dict

from bot.ops.processes import rasa_environment
from bot.settings import REPO_ROOT


def timed_train(*args: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**rasa_environment(), "RASA_CACHE_DIRECTORY": os.path.join(tmp, "cache")}
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", *args, "--out", tmp, "--fixed-model-name", "bench"],
            cwd=REPO_ROOT, env=env, check=True, capture_output=True,
        )
        return time.monotonic() - started


def main() -> Dict[str, float]:
    full = timed_train("--config", "config.yml", "--domain", "domain.yml", "--data", "data")
    print(f"full training (cold cache)  {full:6.1f} s")
    nlu = timed_train("nlu", "--config", "config.yml", "--nlu", "data/nlu")
    print(f"NLU-only training           {nlu:6.1f} s")
    return {"train_full_s": full, "train_nlu_s": nlu}


if __name__ == "__main__":
    main()
