#!/usr/bin/env python3
"""seed.py SHARED_PCAPS CORPUS_DIR

Seeds the fuzz corpora from the shared captures (standard library only):
  frame_decoder/  one frame per file, prefixed with the link-type selector byte the target reads
  dns_message/    UDP payloads to or from ports 53, 5353, 5355 (Ethernet/IPv4/IPv6, SLL)
  capture_reader/ whole capture files up to 64 KiB
  pipeline/       up to 64 Ethernet frames of a capture, separated by 0xFE
"""
import os, struct, sys, hashlib

LINK_SELECTOR = {1: 0, 113: 1, 276: 2, 101: 3, 0: 4, 108: 5, 228: 6, 229: 7}
DNS_PORTS = {53, 5353, 5355}


def frames(path):
    data = open(path, "rb").read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        off, links = 0, []
        while off + 12 <= len(data):
            btype, blen = struct.unpack("<II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                return
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                links.append(struct.unpack("<H", body[:2])[0])
            elif btype == 6 and links:
                iface, _, _, cap = struct.unpack("<IIII", body[:16])
                yield links[min(iface, len(links) - 1)], body[20:20 + cap]
            off += blen
        return
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield link, data[off:off + incl]
        off += incl


def ip_payload(link, f):
    """Returns (l4 proto, l4 bytes) for simple framings, else None."""
    if link == 1:
        off, et = 12, None
        while off + 2 <= len(f):
            et = struct.unpack("!H", f[off:off + 2])[0]
            if et in (0x8100, 0x88A8):
                off += 4
                continue
            break
        ip = f[off + 2:]
    elif link == 113:
        et, ip = struct.unpack("!H", f[14:16])[0], f[16:]
    elif link == 101:
        ip = f
        et = 0x0800 if f[:1] and f[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0xF) * 4
        return ip[9], ip[ihl:]
    if et == 0x86DD and len(ip) >= 40:
        return ip[6], ip[40:]
    return None


def write(dirpath, blob):
    os.makedirs(dirpath, exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()
    with open(os.path.join(dirpath, name), "wb") as f:
        f.write(blob)


def main():
    src, corpus = sys.argv[1], sys.argv[2]
    counts = {}
    for d, _, names in os.walk(src):
        for n in sorted(names):
            if not n.endswith((".pcap", ".pcapng")):
                continue
            path = os.path.join(d, n)
            if os.path.getsize(path) <= 65536:
                write(os.path.join(corpus, "capture_reader"), open(path, "rb").read())
            seq = []
            for i, (link, f) in enumerate(frames(path)):
                if i < 200 and link in LINK_SELECTOR:
                    write(os.path.join(corpus, "frame_decoder"), bytes([LINK_SELECTOR[link]]) + f)
                if link == 1 and len(seq) < 64:
                    seq.append(f)
                p = ip_payload(link, f)
                if p and p[0] == 17 and len(p[1]) > 8:
                    sport, dport = struct.unpack("!HH", p[1][:4])
                    if (sport in DNS_PORTS or dport in DNS_PORTS) and counts.get(n, 0) < 50:
                        counts[n] = counts.get(n, 0) + 1
                        write(os.path.join(corpus, "dns_message"), p[1][8:])
            if seq:
                write(os.path.join(corpus, "pipeline"), b"\xfe".join(seq))
    # Feeds: the first byte picks plain list, CSV, STIX bundle or STIX pattern (intel_feed.rs).
    feeds = [
        b"\x00# list\nevil.example\n192.0.2.1\n10.0.0.0/8\nhttp://x.example:8080/a?b\n",
        b"\x01type,indicator,description,confidence\ndomain,a.example,kit,90\nip,2001:db8::1,,\n",
        b'\x02{"type":"bundle","objects":[{"type":"indicator","pattern_type":"stix",'
        b'"pattern":"[domain-name:value = \'a.example\']","valid_until":"2030-01-01T00:00:00Z"}]}',
        b"\x03[domain-name:value = 'a.example' OR ipv4-addr:value = '1.2.3.0/24'] OR [url:value = 'http://b/x']",
    ]
    for f in feeds:
        write(os.path.join(corpus, "intel_feed"), f)
    # Tunnel frame bodies: flags byte, then postcard (variant index, fields) - tunnel_frame.rs.
    frames = [
        b"\x00\x00\x01\x01\x050.1.0",             # Up::Hello 1..=1 "0.1.0"
        b"\x00\x01\x01\x05\x02{}",                # Up::Alerts [{seq 5, "{}"}]
        b"\x00\x02\x01\x02\x03\x04\x05\x06",      # Up::Heartbeat
        b"\x00\x03\x02ab\x03\x01\x02\x03",        # Up::Enroll "ab" [1,2,3]
        b"\x00\x01\x02\x01\x02",                  # Down::Acks [1, 2]
    ]
    for f in frames:
        write(os.path.join(corpus, "tunnel_frame"), f)
    for t in ("frame_decoder", "dns_message", "capture_reader", "pipeline", "intel_feed", "tunnel_frame"):
        print(f"{t}: {len(os.listdir(os.path.join(corpus, t)))} seeds")


if __name__ == "__main__":
    main()
