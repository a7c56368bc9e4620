"""The TF-IDF + embedding intent classifier as a Rasa component: train, persist, load, predict."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_plugins.embedding_featurizer import SentenceEmbeddingFeaturizer
from bot.rasa_plugins.encoder_weights import ENCODER_DIR
from bot.rasa_plugins.intent_classifier import (
    MODEL_FILE,
    MissingEmbeddings,
    TfidfEmbeddingIntentClassifier,
    UntrustedModelFile,
)
from bot.rasa_plugins.sentence_encoder import shared

EXAMPLES = {
    "ask_cost": ["how much does it cost", "price of treatment", "is it expensive", "self pay price",
                 "what are the fees", "cost per week"],
    "ask_location": ["where are you located", "what is your address", "directions to the clinic",
                     "where is the office", "are you in st louis", "is there parking"],
    "greet": ["hi", "hello there", "good morning", "hey", "hiya", "good evening"],
}


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture(scope="module")
def featurizer():
    return SentenceEmbeddingFeaturizer(shared(ENCODER_DIR))


def message(featurizer, text: str) -> Message:
    return featurizer.process([Message(data={"text": text})])[0]


def trained(storage, resource, featurizer, **config) -> TfidfEmbeddingIntentClassifier:
    classifier = TfidfEmbeddingIntentClassifier.create(config, storage, resource, context())
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, texts in EXAMPLES.items() for t in texts])
    classifier.train(featurizer.process_training_data(data))
    return classifier


def test_it_learns_and_ranks_intents(storage, featurizer):
    classifier = trained(storage, Resource("intents"), featurizer)
    asked = message(featurizer, "how much is the price")
    classifier.process([asked])
    assert asked.get("intent")["name"] == "ask_cost"
    ranking = asked.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "ask_cost"
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6


def test_a_loaded_model_predicts_the_same(storage, featurizer):
    resource = Resource("intents")
    trained(storage, resource, featurizer)
    loaded = TfidfEmbeddingIntentClassifier.load({}, storage, resource, context())
    asked = message(featurizer, "wheres the adress")  # typos still share character n-grams
    loaded.process([asked])
    assert asked.get("intent")["name"] == "ask_location"


def test_a_message_far_from_every_example_is_out_of_scope(storage, featurizer):
    classifier = trained(storage, Resource("intents"), featurizer, in_scope_floor_quantile=0.05)
    far, near = message(featurizer, "set an alarm for 6am and play jazz"), message(featurizer, "hello!")
    classifier.process([far, near])
    assert far.get("intent")["name"] == "out_of_scope"
    assert near.get("intent")["name"] == "greet"
    assert far.get("in_scope_similarity") < near.get("in_scope_similarity")


def test_the_semantic_crisis_threshold_is_learned_out_of_fold(storage, featurizer):
    examples = {**EXAMPLES,
                # Phrasings the rule patterns do not match, so only the learned threshold can catch them.
                "crisis_self_harm": ["i keep imagining my family at my funeral and feeling relieved",
                                     "my kids deserve a better parent than me, one who is not here",
                                     "i looked up how high the bridge downtown is",
                                     "is there a way to make it look like an accident",
                                     "i gave my dog away and cleaned my room for the last time",
                                     "what amount of pills stops your heart, asking for me"]}
    classifier = TfidfEmbeddingIntentClassifier.create({"crisis_recall": 0.95}, storage, Resource("i"), context())
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, texts in examples.items() for t in texts])
    classifier.train(featurizer.process_training_data(data))
    loaded = TfidfEmbeddingIntentClassifier.load({"crisis_recall": 0.95}, storage, Resource("i"), context())
    asked = message(featurizer, "i keep picturing my own funeral and it feels like relief")
    loaded.process([asked])
    semantic = asked.get("semantic_crisis")
    assert 0.0 < semantic["threshold"] < 1.0
    assert semantic["probability"] >= semantic["threshold"]


def test_without_the_featurizer_it_says_what_is_missing(storage, featurizer):
    classifier = trained(storage, Resource("intents"), featurizer)
    with pytest.raises(MissingEmbeddings, match="SentenceEmbeddingFeaturizer"):
        classifier.process([Message(data={"text": "hello"})])


def test_a_model_file_with_unexpected_types_is_refused(storage, featurizer):
    import skops.io as sio

    resource = Resource("intents")
    trained(storage, resource, featurizer)
    with storage.write_to(resource) as directory:
        sio.dump({"payload": Resource("x")}, directory / MODEL_FILE)  # a type skops does not trust
    with pytest.raises(UntrustedModelFile):
        TfidfEmbeddingIntentClassifier.load({}, storage, resource, context())


def test_without_trained_data_it_predicts_nothing(storage):
    classifier = TfidfEmbeddingIntentClassifier.load({}, storage, Resource("never-trained"), context())
    message = Message(data={"text": "hello"})
    classifier.process([message])
    assert message.get("intent") is None
