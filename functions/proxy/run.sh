#!/bin/sh
# Entry point started by the AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
# The adapter forwards each invocation to this uvicorn server as plain HTTP and streams the
# response back, so the same ASGI app runs unchanged under `groq-gateway dev`.
# /opt/python holds the shared layer (groq_gateway and its dependencies).
# uvloop and httptools (uvicorn's compiled event loop and HTTP parser, both in the layer) take
# about a tenth off the proxy's CPU per request (docs/performance.md, issue #17); named here so
# that a layer without them fails to start instead of quietly serving slower.
export PYTHONPATH="/opt/python:${LAMBDA_TASK_ROOT}${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --loop uvloop --http httptools --no-access-log --log-level warning app:app
