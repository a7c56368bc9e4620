"""Helpers the test tiers share: clients, sockets, app DB rows, Rasa policy states."""
