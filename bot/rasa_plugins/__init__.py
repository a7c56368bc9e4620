"""Code loaded inside `rasa run` and `rasa train`: the NLU components config.yml names (spaCy
pipeline built from the knowledge file, sentence encoder, intent classifier, crisis override), the
tracker store endpoints.yml names, and the rasa server's entry point
(`python -m bot.rasa_plugins.rasa_server`)."""
