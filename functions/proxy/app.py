"""Proxy Lambda: the OpenAI-compatible request proxy, an ASGI app served by uvicorn (run.sh).

Init makes about 180,000 objects that live as long as the process (botocore's service
models, pydantic's validators, the clients). Python's cyclic garbage collector would walk
them all during init, for nothing (they are all alive), and again in every later full
collection: about 50 ms on the benchmark's machine, with a request waiting behind it. So
collection is off while init runs, and what init made is then frozen (``gc.freeze``): later
collections walk only what is newer.
"""

import gc

gc.disable()

from groq_gateway.proxy.app import create_app  # noqa: E402  (imported with collection off)

app = create_app()
gc.freeze()
gc.enable()
