#!/usr/bin/env bash
# Fails when a Lambda binary needs a newer glibc than provided.al2023 ships
# (2.34). Usage: scripts/check-glibc.sh target/lambda/*/bootstrap
set -euo pipefail
max_allowed="2.34"
status=0
for bin in "$@"; do
  need=$(readelf -V --wide "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  need=${need:-none}
  if [ "$need" != none ] && [ "$(printf '%s\n%s\n' "$need" "$max_allowed" | sort -V | tail -n 1)" != "$max_allowed" ]; then
    echo "FAIL $bin needs GLIBC_$need (provided.al2023 has $max_allowed)"
    status=1
  else
    echo "ok   $bin needs GLIBC_$need (<= $max_allowed), $(du -h "$bin" | cut -f1)"
  fi
done
exit $status
