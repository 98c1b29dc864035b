#!/bin/sh
# Entry point started by the AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
# The adapter forwards each invocation to this uvicorn server as plain HTTP and streams the
# response back, so the same ASGI app runs unchanged under `groq-gateway dev`.
# /opt/python holds the shared layer (groq_gateway and its dependencies).
# The event loop and HTTP parser the proxy runs with (functions/proxy/run.sh), as under
# `groq-gateway dev`, which serves both apps on one server.
export PYTHONPATH="/opt/python:${LAMBDA_TASK_ROOT}${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --loop uvloop --http httptools --no-access-log --log-level warning app:app
