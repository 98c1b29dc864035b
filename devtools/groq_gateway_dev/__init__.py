"""Developer tools: the ``groq-gateway`` command line, the local stack of ``groq-gateway dev``
and the Groq simulator. Never shipped to Lambda."""
