#!/usr/bin/env bash
# Every function under `cargo lambda watch`, fed every sample in events/ with
# `cargo lambda invoke --data-file`, against a local stack of its own
# (leadpipe-local with its emulator on free ports), as the README's
# "Testing with cargo-lambda" does by hand. Each answer must be the one the
# README gives: the HTTP status per sample, Meta's challenge echoed, no
# batch item failures for the SQS batches, the sweeper's count.
#
# Skips with a message when cargo-lambda is not installed (.ci/run installs
# it with pip). Nothing leaves 127.0.0.1: the Graph API URL is a closed
# local port.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if ! cargo lambda --version >/dev/null 2>&1; then
  echo "cargo-lambda is not installed (pip install cargo-lambda): cargo lambda watch/invoke run skipped"
  exit 0
fi

PYTHON=${PYTHON:-python3}
T=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$T
${CARGO:-cargo} build --quiet --locked -p leadpipe-local -p ingest -p meta-verify -p process -p deliver -p admin -p sweep

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
api_port=$(free_port)
emu_port=$(free_port)
watch_port=$(free_port)
admin_token="adm_lambda_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
graph=http://127.0.0.1:9/graph

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The stack, from a scratch directory (it writes target/lambda.env there,
# not over a running `make dev`'s), with the samples' Meta secrets.
( cd "$work" && exec setsid env -u AWS_ENDPOINT_URL LEADPIPE_ADDR="127.0.0.1:$api_port" \
    LEADPIPE_EMULATOR_PORT="$emu_port" LEADPIPE_STACK=lambda-invoke LEADPIPE_ADMIN_TOKEN="$admin_token" \
    LEADPIPE_META_APP_SECRET=leadpipe-sample-app-secret LEADPIPE_META_VERIFY_TOKEN=leadpipe-sample-verify-token \
    LEADPIPE_META_GRAPH_URL="$graph" LEADPIPE_SWEEP_INTERVAL_SECONDS=3600 \
    "$T/debug/leadpipe-local" >"$work/stack.log" 2>&1 ) &
pids+=($!)
base="http://127.0.0.1:$api_port"
for _ in $(seq 1 120); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$base/healthz" >/dev/null || { cat "$work/stack.log"; echo "leadpipe-local did not start"; exit 1; }
printf 'LEADPIPE_META_GRAPH_URL=%s\n' "$graph" >>"$work/target/lambda.env"

# A key for the samples' placeholders (the admin token too).
key_json=$(curl -fsS -X POST "$base/v1/keys" -H "Authorization: Bearer $admin_token" \
  -H 'Content-Type: application/json' -d '{"name": "cargo-lambda samples"}')
key_id=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$key_json")
key_token=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$key_json")
# And one of each provider the samples post as.
google_json=$(curl -fsS -X POST "$base/v1/keys" -H "Authorization: Bearer $admin_token" \
  -H 'Content-Type: application/json' -d '{"name": "Google Ads samples", "provider": "google_ads"}')
google_id=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$google_json")
google_token=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$google_json")
form_json=$(curl -fsS -X POST "$base/v1/keys" -H "Authorization: Bearer $admin_token" \
  -H 'Content-Type: application/json' -d '{"name": "Form samples", "provider": "form", "allowedDomains": ["www.example.com"]}')
form_id=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$form_json")
key_of() { # a key's JSON body → "id token"
  "$PYTHON" -c 'import json,sys; k=json.load(sys.stdin); print(k["id"], k["token"])' <<<"$(curl -fsS -X POST "$base/v1/keys" \
    -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' -d "$1")"
}
read -r tf_id _ <<<"$(key_of '{"name": "Typeform samples", "provider": "typeform", "providerSecret": "leadpipe-sample-typeform-secret"}')"
read -r tl_id _ <<<"$(key_of '{"name": "Tally samples", "provider": "tally", "providerSecret": "leadpipe-sample-tally-secret"}')"
read -r jf_id jf_token <<<"$(key_of '{"name": "Jotform samples", "provider": "jotform"}')"
read -r li_id _ <<<"$(key_of '{"name": "LinkedIn samples", "provider": "linkedin", "providerSecret": "leadpipe-sample-linkedin-secret"}')"
mkdir -p "$work/events"
for f in events/*.json; do
  sed -e "s/key_01m821j0admzq24kmv73teegtk/$key_id/g" \
      -e "s/key_01m821j0admzq24kmv73teegga/$google_id/g" \
      -e "s/wh_live_REPLACE_WITH_THE_GOOGLE_ADS_KEY_TOKEN_00000000000/$google_token/g" \
      -e "s/key_01m821j0admzq24kmv73teegfm/$form_id/g" \
      -e "s/key_01m821j0admzq24kmv73teegtf/$tf_id/g" \
      -e "s/key_01m821j0admzq24kmv73teegtl/$tl_id/g" \
      -e "s/key_01m821j0admzq24kmv73teegjf/$jf_id/g" \
      -e "s/wh_live_REPLACE_WITH_THE_JOTFORM_KEY_TOKEN_000000000000000/$jf_token/g" \
      -e "s/key_01m821j0admzq24kmv73teegli/$li_id/g" \
      -e "s/wh_live_REPLACE_WITH_THE_DEMO_TOKEN_FROM_MAKE_DEV_0000000/$key_token/g" \
      -e "s/REPLACE_WITH_THE_ADMIN_TOKEN/$admin_token/g" "$f" >"$work/$f"
done

setsid cargo lambda watch -A 127.0.0.1 -P "$watch_port" --ignore-changes --env-file "$work/target/lambda.env" \
  >"$work/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
  (exec 3<>"/dev/tcp/127.0.0.1/$watch_port") 2>/dev/null && break
  sleep 0.5
done

# The answer each sample gets, as the README gives it.
expect() {
  case "$1" in
    admin-healthz.json)             echo "status 200" ;;
    admin-create-key.json)          echo "status 201" ;;
    admin-list-keys.json)           echo "status 200" ;;
    admin-list-failed-events.json)  echo "status 200" ;;
    ingest-hook-json.json)          echo "status 202" ;;
    ingest-hook-form.json)          echo "status 202" ;;
    ingest-hook-preflight.json)     echo "status 204" ;;
    ingest-hook-google-ads.json)    echo "status 200" ;;
    ingest-hook-plain-form.json)    echo "status 303" ;;
    ingest-hook-typeform.json)      echo "status 202" ;;
    ingest-hook-tally.json)         echo "status 202" ;;
    ingest-hook-jotform.json)       echo "status 202" ;;
    ingest-hook-linkedin-challenge.json) echo "status 200" ;;
    ingest-meta-leadgen.json)       echo "status 200" ;;
    meta-verify-handshake.json)     echo "challenge 1158201444" ;;
    process-*.json|deliver-*.json)  echo "batch" ;;
    sweep-*.json)                   echo "swept" ;;
    *)                              echo "unknown" ;;
  esac
}

failed=0
ran=0
for f in events/*.json; do
  name=$(basename "$f")
  case "$name" in
    meta-verify-*) fn=meta-verify ;;
    *) fn=${name%%-*} ;;
  esac
  want=$(expect "$name")
  if [ "$want" = unknown ]; then
    echo "FAIL $name: no expected answer in scripts/lambda-invoke.sh"; failed=1; continue
  fi
  # The first invocation of a function waits for its build.
  if ! out=$(timeout 300 cargo lambda invoke "$fn" -A 127.0.0.1 -P "$watch_port" --data-file "$work/$f" -o json 2>"$work/invoke.err"); then
    echo "FAIL $name ($fn): $(tail -3 "$work/invoke.err")"; failed=1; continue
  fi
  verdict=$("$PYTHON" - "$want" "$out" <<'PY'
import json, sys
want, out = (sys.argv[1].split(" ", 1) + [""])[:2], sys.argv[2]
try:
    r = json.loads(out)
except ValueError:
    print(f"not JSON: {out[:200]}"); sys.exit()
kind, arg = want[0], want[1]
if kind == "status":
    ok = r.get("statusCode") == int(arg)
    body = r.get("body") or ""
    if ok and 200 <= int(arg) < 300 and int(arg) != 204 and body:
        json.loads(body)
    print("ok" if ok else f"statusCode {r.get('statusCode')}, want {arg}: {body[:200]}")
elif kind == "challenge":
    ok = r.get("statusCode") == 200 and r.get("body") == arg
    print("ok" if ok else f"want 200 and the challenge {arg}: {out[:200]}")
elif kind == "batch":
    ok = r.get("batchItemFailures") == []
    print("ok" if ok else f"batch item failures: {out[:200]}")
elif kind == "swept":
    ok = isinstance(r.get("swept"), (int, dict))
    print("ok" if ok else f"no swept count: {out[:200]}")
PY
)
  if [ "$verdict" = ok ]; then
    printf 'ok   %-32s %-12s %s\n' "$name" "$fn" "$want"
    ran=$((ran + 1))
  else
    echo "FAIL $name ($fn): $verdict"; failed=1
  fi
done

fns=$(for f in events/*.json; do n=$(basename "$f"); case "$n" in meta-verify-*) echo meta-verify ;; *) echo "${n%%-*}" ;; esac; done | sort -u | tr '\n' ' ')
echo "cargo lambda invoke: $ran samples answered as documented; functions: $fns"
for fn in ingest meta-verify process deliver admin sweep; do
  case " $fns " in *" $fn "*) ;; *) echo "FAIL no sample in events/ for $fn"; failed=1 ;; esac
done
if [ "$failed" -ne 0 ]; then
  echo "--- cargo lambda watch (last lines)"; tail -20 "$work/watch.log"
  exit 1
fi
