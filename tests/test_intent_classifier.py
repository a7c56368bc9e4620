"""The TF-IDF + logistic-regression intent classifier as a Rasa component: train, persist, load, predict."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.intent_classifier import MODEL_FILE, TfidfIntentClassifier, UntrustedModelFile

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


def trained(storage, resource) -> TfidfIntentClassifier:
    classifier = TfidfIntentClassifier.create({}, storage, resource, context())
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, texts in EXAMPLES.items() for t in texts])
    classifier.train(data)
    return classifier


def test_it_learns_and_ranks_intents(storage):
    classifier = trained(storage, Resource("intents"))
    message = Message(data={"text": "how much is the price"})
    classifier.process([message])
    assert message.get("intent")["name"] == "ask_cost"
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "ask_cost"
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6


def test_a_loaded_model_predicts_the_same(storage):
    resource = Resource("intents")
    trained(storage, resource)
    loaded = TfidfIntentClassifier.load({}, storage, resource, context())
    message = Message(data={"text": "wheres the adress"})  # typos still share character n-grams
    loaded.process([message])
    assert message.get("intent")["name"] == "ask_location"


def test_a_model_file_with_unexpected_types_is_refused(storage):
    import skops.io as sio

    resource = Resource("intents")
    trained(storage, resource)
    with storage.write_to(resource) as directory:
        sio.dump({"payload": Resource("x")}, directory / MODEL_FILE)  # a type skops does not trust
    with pytest.raises(UntrustedModelFile):
        TfidfIntentClassifier.load({}, storage, resource, context())


def test_without_trained_data_it_predicts_nothing(storage):
    classifier = TfidfIntentClassifier.load({}, storage, Resource("never-trained"), context())
    message = Message(data={"text": "hello"})
    classifier.process([message])
    assert message.get("intent") is None
