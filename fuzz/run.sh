#!/usr/bin/env bash
# fuzz/run.sh build | run SECONDS SHARED
# Builds the cargo-fuzz targets (libFuzzer; stable toolchain with RUSTC_BOOTSTRAP=1, since no
# nightly can be fetched here), seeds each corpus from the shared captures, runs every target for
# SECONDS, and prints what each run did. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
targets=(frame_decoder dns_message capture_reader pipeline store_record intel_feed tunnel_frame)
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cargo fuzz build --release
[[ ${1:-build} == build ]] && exit 0
seconds=${2:-60}
shared=${3:-../../shared}
python3 seed.py "$shared/data/pcaps" corpus
status=0
for t in "${targets[@]}"; do
  log=artifacts/$t.log
  mkdir -p artifacts/"$t" corpus/"$t"
  start=$(date +%s)
  if cargo fuzz run --release "$t" corpus/"$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
       -artifact_prefix=artifacts/"$t"/ >"$log" 2>&1; then result=ok; else result=CRASH; status=1; fi
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | awk '{print $2}' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  echo "$t: $result after $(( $(date +%s) - start )) s, ${runs:-?} runs, coverage ${cov:-?} edges (log: fuzz/$log)"
done
exit $status
