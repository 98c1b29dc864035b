"""Proxy Lambda: the OpenAI-compatible request proxy, an ASGI app served by uvicorn (run.sh).

Init runs without garbage collection, and what it made is frozen so that later full
collections skip it (``groq_gateway.core.frozen_init``).
"""

from groq_gateway.core.frozen_init import frozen_init

with frozen_init():
    from groq_gateway.proxy.app import create_app

    app = create_app()
