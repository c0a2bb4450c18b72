#!/usr/bin/env bash
# bench/replay.sh SHARED OUTDIR
# Replay throughput of the sensor against Suricata 7 on the large mixed capture, in one run:
#   1. installs the peers (Debian packages) and builds the capture with ../shared/bench tools;
#   2. replays it with `sensor replay --no-store` (one thread, conn/dns/weird JSON lines, the
#      records Suricata writes too; the store has its own benchmark, `make bench-store`);
#   3. runs Suricata on it (one thread, flow + dns eve records, no rules);
#   4. prints packets/s of both, the ratio, and our peak RSS;
#   5. replays again with the detectors off, and prints what the detectors cost.
# A benchmark, never a test: nothing here asserts a time.
set -euo pipefail
shared=$(cd "${1:?usage: replay.sh SHARED OUTDIR}" && pwd)
out=${2:?usage: replay.sh SHARED OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
sensor=$(pwd)/target/release/sensor

"$shared/bench/install-peers" >/dev/null
pcap="$out/bench-mix.pcap"
if [[ ! -s $pcap ]]; then
  echo "building $pcap ..."
  python3 "$shared/bench/make-bench-pcap" "$pcap"
fi

# Fresh output directories: suricata-baseline appends to an existing eve.json.
rm -rf "$out/sensor" "$out/suricata"

# The capture in the page cache for both runs. (Output pages cannot be warmed the same way: these
# VMs report freed guest memory to the host at once — virtio-balloon free page reporting — so
# every page a tool writes is faulted in by the host again, for both tools alike.)
cat "$pcap" >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# Ours: peak RSS from the kernel's accounting of the child. Extra arguments go to `sensor replay`.
ours() {
python3 - "$sensor" "$pcap" "$@" <<'PY'
import resource, subprocess, sys, time
sensor, pcap, outdir = sys.argv[1:4]
t = time.monotonic()
p = subprocess.run([sensor, "replay", "--seed", "1", "--no-store", "--out", outdir, *sys.argv[4:], pcap], capture_output=True, text=True)
wall = time.monotonic() - t
sys.stderr.write(p.stderr)
if p.returncode:
    sys.exit(p.returncode)
pkts = int(next(l.split()[1] for l in p.stderr.splitlines() if l.startswith("packets")))
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
rss, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
print(f"sensor: {pkts} packets in {wall:.2f} s = {pkts / wall / 1e6:.3f} Mpps (one thread); cpu {cpu:.2f} s; peak RSS {rss:.0f} MiB")
PY
}
ours "$out/sensor" | tee "$out/sensor.txt"

# The detectors' cost: the same replay with them off, three times each, in the order
# with-without, without-with, with-without (so that the machine's load drifting during the runs
# favours neither); the least CPU time of each (user + system: less sensitive than wall time to
# the VM's I/O stalls).
printf '[detect]\nenabled = false\n' >"$out/no-detect.toml"
: >"$out/detect-runs.txt"
cost_run() {
  rm -rf "$out/sensor-cost"
  case $1 in
    with) ours "$out/sensor-cost" 2>/dev/null | sed 's/^sensor:/with detectors:/' ;;
    without) ours "$out/sensor-cost" --config "$out/no-detect.toml" 2>/dev/null | sed 's/^sensor:/without:/' ;;
  esac | tee -a "$out/detect-runs.txt"
}
for order in "with without" "without with" "with without"; do
  for setting in $order; do cost_run "$setting"; done
done
rm -rf "$out/sensor-cost"
python3 - "$out/detect-runs.txt" <<'PY'
import re, sys
runs = open(sys.argv[1]).read().splitlines()
best = lambda tag: min(float(re.search(r"cpu ([0-9.]+) s", l).group(1)) for l in runs if l.startswith(tag))
with_d, without = best("with detectors"), best("without")
print(f"detectors cost {100 * (with_d - without) / with_d:.1f}% of the CPU time ({with_d:.2f} s against {without:.2f} s, least of three each; target: at most 25%)")
PY

"$shared/bench/suricata-baseline" "$pcap" "$out/suricata" | tee "$out/suricata.txt"

python3 - "$out/sensor.txt" "$out/suricata.txt" <<'PY'
import re, sys
ours = float(re.search(r"= ([0-9.]+) Mpps", open(sys.argv[1]).read()).group(1))
peer = float(re.search(r"= ([0-9.]+) Mpps", open(sys.argv[2]).read()).group(1))
print(f"ratio sensor/suricata: {ours / peer:.1f}x  (targets: >= 5x, and >= 1 Mpps)")
PY
