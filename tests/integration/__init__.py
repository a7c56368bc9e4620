"""The real processes (rasa server, action server, gateway) started once per session or module."""
