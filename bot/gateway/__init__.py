"""The gateway: serves the widget and demo page, relays visitors' messages to Rasa. See docs/chat-protocol.md."""
