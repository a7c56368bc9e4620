"""all-MiniLM-L6-v2 sentence embeddings on TensorFlow, offline, with a compiled forward pass.

The weights are the PyTorch checkpoint in safetensors form (bot/rasa_plugins/encoder_weights.py unpacks them);
transformers' TF classes read it without PyTorch. One traced graph serves every batch shape, so a
single message costs a few milliseconds instead of the ~100 ms of an eager call. Embeddings are
mean-pooled over the real tokens and L2-normalised, as the model was trained to be used, so a dot
product is a cosine similarity.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import List, Sequence

import numpy as np

from bot.rasa_plugins.encoder_weights import require

# Nothing may be downloaded at run time: transformers and huggingface_hub honour these before import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_TOKENS = 128
BATCH_SIZE = 64
CACHE_SIZE = 4096


class SentenceEncoder:
    def __init__(self, directory: Path, max_tokens: int = MAX_TOKENS, cache_size: int = CACHE_SIZE) -> None:
        import tensorflow as tf
        from tokenizers import Tokenizer
        from transformers import TFBertModel
        from transformers.utils import logging as transformers_logging

        require(directory)
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{directory}: expected a mean-pooling sentence encoder, got {pooling}")
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        # "Some weights were not used" (position ids) is expected for this checkpoint.
        transformers_logging.set_verbosity_error()
        self._model = TFBertModel.from_pretrained(str(directory))
        self.dimensions = int(self._model.config.hidden_size)
        spec = tf.TensorSpec([None, None], tf.int32)
        self._forward = tf.function(self._pooled, input_signature=[spec, spec], reduce_retracing=True)
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.encode(["warm up the traced graph"])

    def _pooled(self, ids, mask):
        import tensorflow as tf

        hidden = self._model(input_ids=ids, attention_mask=mask, token_type_ids=tf.zeros_like(ids),
                             training=False).last_hidden_state
        weights = tf.cast(mask, hidden.dtype)[:, :, None]
        mean = tf.reduce_sum(hidden * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
        return tf.math.l2_normalize(mean, axis=1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimensions) float32, one unit vector per text; repeated texts come from a cache."""
        with self._lock:
            known = {text: self._cache[text] for text in texts if text in self._cache}
        missing = list(dict.fromkeys(text for text in texts if text not in known))
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start:start + BATCH_SIZE]
            known.update(zip(batch, self._encode_batch(batch), strict=True))
        with self._lock:
            for text in missing:
                self._cache[text] = known[text]
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([known[text] for text in texts])

    def _encode_batch(self, texts: List[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int32)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int32)
        return self._forward(ids, mask).numpy().astype(np.float32)


_shared: "dict[Path, SentenceEncoder]" = {}
_shared_lock = threading.Lock()


def shared(directory: Path) -> SentenceEncoder:
    """One encoder per process and directory: the featurizer and the crisis layer share its weights."""
    with _shared_lock:
        if directory not in _shared:
            _shared[directory] = SentenceEncoder(directory)
        return _shared[directory]
