"""`python -m bot.gateway`: the gateway on its two listeners (bot/gateway/server.py)."""

from bot.gateway.server import main

main()
