"""The visitor's side of the gateway: the chat websocket, its frames, the relay of messages to Rasa,
its limits, conversation ids, the transcript view and the safety net that answers a crisis whatever else fails."""
