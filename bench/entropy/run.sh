#!/usr/bin/env bash
# issue 25 §5: aws-lc's first randomness in a fresh process, CPU jitter
# entropy seeding on (aws-lc-sys's default) and off
# (AWS_LC_SYS_NO_JITTER_ENTROPY=1), unlimited and held to the CPU share
# Lambda gives a 256 MB function (14.5 % of a vCPU, cgroup v1 cpu quota,
# as bench/src/cpu_limit.rs does; needs root). Prints medians of N runs.
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-21}
T=${CARGO_TARGET_DIR:-../../target}/first-random
cargo build --release --quiet --target-dir "$T/on"
AWS_LC_SYS_NO_JITTER_ENTROPY=1 cargo build --release --quiet --target-dir "$T/off"
cg=/sys/fs/cgroup/cpu/leadpipe-first-random-$$
limited=0
if mkdir "$cg" 2>/dev/null; then
  echo 100000 > "$cg/cpu.cfs_period_us"
  echo 14471 > "$cg/cpu.cfs_quota_us"
  limited=1
  trap 'rmdir "$cg" 2>/dev/null || true' EXIT
fi
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for jitter in on off; do
  bin="$T/$jitter/release/first-random"
  for mode in unlimited limited; do
    [ "$mode" = limited ] && [ "$limited" = 0 ] && continue
    out=$(for _ in $(seq "$N"); do
      if [ "$mode" = limited ]; then
        sh -c "echo \$\$ > $cg/tasks && exec $bin"
      else
        "$bin"
      fi
    done)
    first=$(echo "$out" | awk '{print $1}' | median)
    second=$(echo "$out" | awk '{print $2}' | median)
    echo "jitter $jitter, $mode: first draw ${first} µs, second ${second} µs (median of $N)"
  done
done
