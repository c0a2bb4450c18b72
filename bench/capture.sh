#!/usr/bin/env bash
# bench/capture.sh SHARED OUTDIR — live capture, the sensor against Suricata 7 in the same run.
#
# A veth pair in a namespace of its own (one RX queue, MTU 1500); tcpreplay sends one copy of the
# shared captures merged (../shared/bench/make-bench-pcap, 1 copy: DNS-heavy, every category but
# malformed/), its frames of at most 1514 bytes (what an Ethernet SPAN port with MTU 1500 carries
# and an AF_XDP frame of 2048 bytes holds), LOOPS times, preloaded, into one end at PPS frames
# per second; one receiver at a time captures the other end doing the same job, flow and DNS
# records, no signatures:
#   sensor AF_XDP (native XDP), sensor AF_PACKET,
#   Suricata AF_PACKET (TPACKET_V3, one worker), Suricata AF_XDP (one worker), if it binds.
# For each: frames received, frames lost, and the receiver's CPU time (all its threads, from
# the scheduler's accounting, over the sending and a settle time) per frame received.
# On veth the driver-side work (XDP, the copy into the socket) runs in the sender's softirq, so
# this is the receiving process's own cost: ring handling, decoding, flows, DNS, records.
# Needs root, the peers (../shared/bench/install-peers) and a release build (make build).
set -euo pipefail
shared=${1:?usage: capture.sh SHARED OUTDIR}
out=${2:?usage: capture.sh SHARED OUTDIR}
LOOPS=${LOOPS:-3}
PPS=${PPS:-50000}
SETTLE=${SETTLE:-3}
sensor=$(pwd)/target/release/sensor
mkdir -p "$out"
out=$(cd "$out" && pwd)
pcap=$out/live-mix.pcap
if [[ ! -s $pcap ]]; then
  python3 "$shared/bench/make-bench-pcap" "$out/one-copy.pcap" 1 >/dev/null
  tshark -r "$out/one-copy.pcap" -Y "frame.len <= 1514" -F pcap -w "$pcap"
  rm -f "$out/one-copy.pcap"
fi
ns=sensor-bench-$$
pid=

cleanup() {
  if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" link set va up
ip -n "$ns" link set vb up

# CPU seconds of process $1, every thread, from the scheduler's own accounting (schedstat: exact
# run time in ns; /proc/PID/stat's tick samples miss threads that wake just after a tick and
# sleep before the next, as a capture thread woken by a ring timer does).
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{ns += $1} END {printf "%.3f", ns / 1e9}'; }

# wait_for FILE TEXT: until the receiver's log says it is ready (or 60 s).
wait_for() {
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$1"; return 1; }
    sleep 0.1
  done
  cat "$1"; return 1
}

suricata_yaml() { # suricata_yaml FILE CAPTURE-SECTION
  cat >"$1" <<YAML
%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]"
    EXTERNAL_NET: "!\$HOME_NET"
  port-groups: {}
default-log-dir: $out
stats: {enabled: yes, interval: 1}
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [dns, flow, stats]
app-layer:
  protocols:
    dns:
      tcp: {enabled: yes, detection-ports: {dp: 53}}
      udp: {enabled: yes, detection-ports: {dp: 53}}
logging:
  default-log-level: notice
  outputs:
    - console: {enabled: yes}
$2
YAML
}

# run NAME: starts the receiver (command in $cmd, ready text in $ready), sends, measures.
run() {
  local name=$1 dir=$out/$1
  rm -rf "$dir"; mkdir -p "$dir"
  ip netns exec "$ns" "${cmd[@]/@DIR@/$dir}" >"$dir/log" 2>&1 &
  pid=$!
  if ! wait_for "$dir/log" "$ready"; then
    echo "$name: did not start (see $dir/log)" | tee -a "$out/results.txt"
    kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; return 0
  fi
  sleep 1
  local before after
  before=$(cpu "$pid")
  ip netns exec "$ns" tcpreplay -i va -K --pps "$PPS" --loop "$LOOPS" "$pcap" >"$dir/tcpreplay" 2>&1
  sleep "$SETTLE"
  after=$(cpu "$pid")
  sent=$(awk '/Actual:/ {print $2}' "$dir/tcpreplay")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
  received=$($count "$dir")
  python3 - "$name" "$sent" "$received" "$before" "$after" <<'PY' | tee -a "$out/results.txt"
import sys
name, sent, received, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
cpu = after - before
per = cpu / received * 1e9 if received else float("nan")
if received == 0:
    print(f"{name:<20} sent {sent:>9}  captured nothing (see its log)")
else:
    print(f"{name:<20} sent {sent:>9}  received {received:>9}  lost {sent - received:>8}  cpu {cpu:6.2f} s  {per:7.0f} ns/frame")
PY
}

sensor_count() { awk '/^packets/ {print $2}' "$1/log"; }
suricata_count() { # decoder.pkts of the last stats record
  python3 - "$1/eve.json" <<'PY'
import json, sys
last = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") == "stats":
        last = e["stats"].get("decoder", {}).get("pkts", 0)
print(last)
PY
}

: >"$out/results.txt"
echo "capture: $(basename "$pcap") x $LOOPS at $PPS frames/s into veth; $(nproc) cores, $(uname -r)" | tee -a "$out/results.txt"

count=sensor_count ready="capturing on vb"
# SENSOR_ARGS: more flags for the sensor, e.g. "--config ring-sizes.toml" to try other rings.
read -r -a extra <<<"${SENSOR_ARGS:-}"
cmd=("$sensor" run -i vb --capture afxdp --xdp-mode native --no-store --out @DIR@ "${extra[@]}")
run sensor-afxdp-native
cmd=("$sensor" run -i vb --capture afpacket --no-store --out @DIR@ "${extra[@]}")
run sensor-afpacket
[[ -n ${ONLY_SENSOR:-} ]] && exit 0

count=suricata_count ready="Engine started"
suricata_yaml "$out/afpacket.yaml" "af-packet:
  - interface: vb
    threads: 1
    cluster-id: 99
    cluster-type: cluster_flow
    use-mmap: yes
    tpacket-v3: yes
    # A ring as large as the sensor's (64 x 1 MiB blocks): its default (2048 frames) drops.
    block-size: 1048576
    ring-size: 65536
    block-timeout: 10
    checksum-checks: no"
cmd=(suricata -c "$out/afpacket.yaml" -S /dev/null --af-packet=vb --runmode workers -k none -l @DIR@
  --set classification-file=/dev/null --set reference-config-file=/dev/null --set "default-log-dir=@DIR@")
run suricata-afpacket
suricata_yaml "$out/afxdp.yaml" "af-xdp:
  - interface: vb
    threads: 1
    force-bind-mode: copy
    mem-unaligned: no
    enable-busy-poll: no"
cmd=(suricata -c "$out/afxdp.yaml" -S /dev/null --af-xdp=vb --runmode workers -k none -l @DIR@
  --set classification-file=/dev/null --set reference-config-file=/dev/null --set "default-log-dir=@DIR@")
run suricata-afxdp
