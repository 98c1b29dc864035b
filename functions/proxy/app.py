"""Proxy Lambda: the OpenAI-compatible request proxy, an ASGI app served by uvicorn (run.sh)."""

from groq_gateway.proxy.app import create_app

app = create_app()
