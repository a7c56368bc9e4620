"""The visitor's side of the gateway: the chat websocket, its limits, conversation ids, the
transcript view and the safety net that answers a crisis whatever else fails."""
