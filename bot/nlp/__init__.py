"""Language processing: the spaCy pipeline built from the knowledge file and custom Rasa components."""
