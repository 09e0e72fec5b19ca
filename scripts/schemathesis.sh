#!/usr/bin/env bash
# API conformance: schemathesis (from PyPI, in its own virtualenv) against
# the local stack (`make dev`'s leadpipe-local, with its own emulator on a
# free port), driven by docs/openapi.json with the admin token. Every answer
# must be documented for its operation (status, content type, headers) and
# match its schema (the error envelope on every 4xx/5xx), none may be a 5xx,
# and the admin routes must refuse requests without the token.
#
# Not generated:
# creating or editing subscriptions, whose URL check resolves the generated
# host names, which would send DNS queries off this machine.
#
# Skips with a message when schemathesis cannot be installed (no PyPI).
# SCHEMATHESIS_EXAMPLES (default 25) bounds the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${SCHEMATHESIS_VENV:-$HOME/.cache/leadpipe-schemathesis}
VERSION=3.39.16
# schemathesis 3.39 breaks on Hypothesis after 6.131.14 ('many' object has no attribute 'more').
HYPOTHESIS=6.131.14
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
T=${CARGO_TARGET_DIR:-$PWD/target}

if ! { [ -x "$VENV/bin/st" ] && "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION" &&
       "$VENV/bin/python" -c "import hypothesis, sys; sys.exit(hypothesis.__version__ != '$HYPOTHESIS')" 2>/dev/null; }; then
  echo "installing schemathesis $VERSION in $VENV"
  if ! { "$PYTHON" -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" "hypothesis==$HYPOTHESIS"; }; then
    echo "schemathesis could not be installed (is PyPI reachable?): API conformance run skipped"
    exit 0
  fi
fi

${CARGO:-cargo} build --quiet --locked -p leadpipe-local
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
emu_port=$(free_port)
token="adm_schemathesis_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
log=$(mktemp -d)/leadpipe-local.log

# Its own stack and emulator; private targets off (nothing is fuzzed that sends).
env -u AWS_ENDPOINT_URL LEADPIPE_ADDR="127.0.0.1:$api_port" LEADPIPE_EMULATOR_PORT="$emu_port" \
  LEADPIPE_STACK=conformance LEADPIPE_ADMIN_TOKEN="$token" LEADPIPE_ALLOW_PRIVATE_TARGETS=0 \
  LEADPIPE_SWEEP_INTERVAL_SECONDS=3600 LEADPIPE_META_GRAPH_URL=http://127.0.0.1:9/graph \
  "$T/debug/leadpipe-local" >"$log" 2>&1 &
stack_pid=$!
trap 'kill -TERM "$stack_pid" 2>/dev/null; wait "$stack_pid" 2>/dev/null || true' EXIT

base="http://127.0.0.1:$api_port"
for _ in $(seq 1 120); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$log"; echo "leadpipe-local did not start"; exit 1; }
  sleep 0.5
done
curl -fsS "$base/healthz" >/dev/null || { cat "$log"; echo "leadpipe-local is not answering"; exit 1; }

# The document the stack serves is the one in the repository.
curl -fsS "$base/v1/openapi.json" | cmp -s - docs/openapi.json || {
  echo "GET /v1/openapi.json differs from docs/openapi.json"; exit 1; }

set +e
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$PWD/scripts" \
timeout 300 "$VENV/bin/st" run "$base/v1/openapi.json" \
  --base-url "$base" --experimental=openapi-3.1 \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth \
  --exclude-operation-id subscriptionsCreate --exclude-operation-id subscriptionUpdate \
  --stateful=links --hypothesis-max-examples "$EXAMPLES" --hypothesis-deadline None \
  --hypothesis-seed 20261123 --hypothesis-suppress-health-check all \
  --generation-allow-x00 false --generation-codec utf-8 \
  --request-timeout 20000 --workers 1 --no-color \
  --cassette-path "$T/schemathesis-cassette.yaml" 2>&1 | tee "$T/schemathesis.log" | tail -60
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "schemathesis found non-conforming answers (exit $status): $T/schemathesis.log, requests in $T/schemathesis-cassette.yaml"
  tail -5 "$log"
  exit 1
fi
echo "API conformance: ok"
