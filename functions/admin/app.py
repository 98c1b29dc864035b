"""Admin Lambda: the key, team, usage and audit-log API, an ASGI app served by uvicorn (run.sh)."""

from groq_gateway.admin.app import create_app

app = create_app()
