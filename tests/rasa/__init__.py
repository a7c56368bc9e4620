"""At the level Rasa decides: the NLU components, the model's data, the tracker store and the rasa
server's patches, against Rasa's own classes."""
