#!/usr/bin/env bash
# The whole path on one machine, loopback only (`make run`): a local SOC hub, a sensor enrolled
# with a fresh one-time token, the demo scenario (synthesised by the sensor: DNS, web, SMB, an
# NXDOMAIN burst, a DNS tunnel, a port sweep) replayed with its alerts synced over mutual TLS,
# then the alerts as the hub's API serves them to analysts.
#
#   provisioning/demo.sh [OUT]     OUT: working directory (default sensor-demo)
#   BIN=target/debug provisioning/demo.sh   binaries from elsewhere (default target/release)
set -euo pipefail
out=${1:-sensor-demo}
bin=${BIN:-target/release}
hub_dir=$out/hub
sensor_dir=$out/sensor-identity

# A fresh hub and identity each run (the hub's CA, database and the sensor's key).
rm -rf "$hub_dir" "$sensor_dir"
mkdir -p "$out"
"$bin/soc-hub" serve --data "$hub_dir" --listen 127.0.0.1:0 --api 127.0.0.1:0 2>"$out/hub.log" &
hub=$!
trap 'kill "$hub" 2>/dev/null; wait "$hub" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [[ -s $hub_dir/tunnel.addr && -s $hub_dir/api.addr ]] && break
  kill -0 "$hub" 2>/dev/null || { cat "$out/hub.log" >&2; exit 1; }
  sleep 0.1
done
port=$(sed 's/.*://' "$hub_dir/tunnel.addr")
echo "== a SOC hub on 127.0.0.1:$port (sensors, mutual TLS) and https://$(cat "$hub_dir/api.addr") (analysts, the hub CA's certificate); log in $out/hub.log"

token=$("$bin/soc-hub" token create --data "$hub_dir" --tenant demo --site office --ttl 10m)
fingerprint=$("$bin/soc-hub" ca-fingerprint --data "$hub_dir")
echo "== sensor enroll --hub localhost:$port --token (one-time) --hub-ca-sha256 $fingerprint"
"$bin/sensor" enroll --hub "localhost:$port" --token "$token" --hub-ca-sha256 "$fingerprint" --data "$sensor_dir"

echo
"$bin/sensor" demo --out "$out" --data "$sensor_dir"

echo
echo "== the alerts at the hub (soc-hub alerts: GET /api/v1/alerts with the admin credential)"
"$bin/soc-hub" alerts --data "$hub_dir" --format table
