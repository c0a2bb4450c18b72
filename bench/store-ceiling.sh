#!/usr/bin/env bash
# bench/store-ceiling.sh SHARED OUTDIR
# How small the store benchmark's records can get with general-purpose compression at its
# strongest, as a yardstick for the store's own ratio (make bench-store prints both):
#   1. replays the same shared captures as store_bench (all but malformed/) into conn and dns
#      JSON lines;
#   2. compresses them whole (not in blocks: every record can refer to every other) with
#      xz -9e, as they are and with each `\xNN` of Zeek's rendering turned back into its byte
#      (the tunnel payloads as raw bytes, which no record format can store in less);
#   3. prints bytes per record and the ratio to the JSON lines, with and without the
#      dns-tunnel/ captures, as the store benchmark does.
# A benchmark, never a test.
set -euo pipefail
shared=$(cd "${1:?usage: store-ceiling.sh SHARED OUTDIR}" && pwd)
out=${2:?usage: store-ceiling.sh SHARED OUTDIR}/ceiling
sensor=$(pwd)/target/release/sensor

for skip in none dns-tunnel; do
  rm -rf "$out" && mkdir -p "$out"
  mapfile -t pcaps < <(find "$shared/data/pcaps" -mindepth 2 -maxdepth 2 \( -name '*.pcap' -o -name '*.pcapng' \) \
    -not -path '*/malformed/*' -not -path "*/$skip/*" | sort)
  "$sensor" replay --seed 1 --no-store --out "$out" "${pcaps[@]}" >/dev/null 2>&1
  python3 - "$out" "$skip" <<'PY'
import lzma, re, sys
out, skip = sys.argv[1:3]
data = open(f"{out}/conn.jsonl", "rb").read() + open(f"{out}/dns.jsonl", "rb").read()
records = data.count(b"\n")
raw = re.sub(rb"\\\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
label = "all captures" if skip == "none" else "without DNS tunnels"
print(f"ceiling ({label}): {records} records, JSON lines {len(data) / records:.1f} B/record")
for name, blob in (("JSON", data), ("JSON, \\xNN as bytes", raw)):
    packed = len(lzma.compress(blob, preset=9 | lzma.PRESET_EXTREME))
    print(f"  xz -9e whole, {name:<20} {packed / records:7.1f} B/record = {len(data) / packed:5.1f}x smaller than JSON lines")
PY
done
rm -rf "$out"
