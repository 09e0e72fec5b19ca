#!/usr/bin/env bash
# Terraform checks that need neither credentials nor a network: fmt, then
# for the module (infra/modules/leadpipe) and the example root
# (infra/examples/basic) `init -backend=false` from a local provider mirror,
# `validate` and `terraform test` (mocked provider). Without terraform or
# without the mirror, the step says so and skips: it never downloads.
#
# TF_PLUGIN_DIR: the folder holding registry.terraform.io/ (found by itself
# in the usual places when unset).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v terraform >/dev/null; then
  echo "terraform not on PATH: fmt, validate and terraform test skipped"
  exit 0
fi

# A missing CLI config file only makes terraform print a warning each call.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  unset TF_CLI_CONFIG_FILE
fi
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

terraform fmt -check -recursive infra
echo "terraform fmt: ok"

find_plugin_dir() {
  local d provider
  for d in "${TF_PLUGIN_DIR:-}" /opt/tf-plugins "$HOME/.terraform.d/plugins" \
           "$HOME/.local/share/terraform/plugins" /usr/local/share/terraform/plugins \
           /usr/share/terraform/plugins; do
    [ -n "$d" ] && [ -d "$d/registry.terraform.io/hashicorp/aws" ] && { echo "$d"; return; }
  done
  provider=$(timeout 60 find / -xdev -path '*/registry.terraform.io/hashicorp/aws/*' \
    -name 'terraform-provider-aws_*' -print -quit 2>/dev/null || true)
  [ -n "$provider" ] && echo "${provider%%/registry.terraform.io/*}"
  return 0
}

plugin_dir=$(find_plugin_dir)
if [ -z "$plugin_dir" ]; then
  echo "no local provider mirror (registry.terraform.io/hashicorp/aws under a plugin dir; set TF_PLUGIN_DIR): terraform validate and terraform test skipped (nothing is downloaded)"
  exit 0
fi
echo "provider mirror: $plugin_dir"

for dir in infra/modules/leadpipe infra/examples/basic; do
  echo "-- $dir"
  terraform -chdir="$dir" init -backend=false -input=false -plugin-dir="$plugin_dir" >/dev/null
  terraform -chdir="$dir" validate -no-color
  log=$(mktemp)
  if terraform -chdir="$dir" test -no-color >"$log" 2>&1; then
    grep -E '^  run |^Success' "$log"
    rm -f "$log"
  else
    cat "$log"; rm -f "$log"
    echo "terraform test failed in $dir"
    exit 1
  fi
done

# A real plan of the example with the real provider (not a mock), offline:
# fake credentials and no account look-ups, in a scratch copy beside an
# override file, against the module's placeholder zips. It checks what the
# provider validates in the configuration itself (attribute values, ARNs
# and names it can see at plan time). No AWS API is called: nothing the
# default plan reads needs one.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r infra "$scratch/"
rm -rf "$scratch"/infra/*/*/.terraform
cat >"$scratch/infra/examples/basic/offline_override.tf" <<'TF'
provider "aws" {
  access_key                  = "AKIAOFFLINEPLAN00000"
  secret_key                  = "offline-plan-not-a-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
TF
echo "-- offline plan of infra/examples/basic (real provider, fake credentials)"
terraform -chdir="$scratch/infra/examples/basic" init -backend=false -input=false -plugin-dir="$plugin_dir" >/dev/null
env -u AWS_PROFILE -u AWS_ENDPOINT_URL AWS_EC2_METADATA_DISABLED=true \
  terraform -chdir="$scratch/infra/examples/basic" plan -input=false -no-color -lock=false \
    -var region=eu-west-1 -var lambda_package_dir="$scratch/infra/modules/leadpipe/tests/fixtures/lambda" \
    >"$scratch/plan.log" 2>&1 || { cat "$scratch/plan.log"; echo "offline plan failed"; exit 1; }
grep -E '^Plan:' "$scratch/plan.log"
