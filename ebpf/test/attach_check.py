#!/usr/bin/env python3
"""Attach sensor.bpf.o to a veth pair between two throwaway network
namespaces, send frames through it and check the program's counters.

    attach_check.py SENSOR_BPF_O XSK_RX_BINARY

Needs root (CAP_NET_ADMIN, CAP_BPF), iproute2 built with libbpf, bpftool,
ping and tcpreplay. Standard library only. All traffic stays inside the two
namespaces it creates (documentation addresses 192.0.2.0/24, 2001:db8::/32,
203.0.113.0/24, 198.51.100.0/24), which are deleted on exit, even on failure.

The run is repeated for native (xdpdrv) and generic (xdpgeneric) attachment.
Each step reads the per-CPU counters (summed over CPUs) before and after and
checks the difference: errors, dropped_by_filter and bypassed exactly;
passed and redirected at least the expected number (the sending side's own
IPv6 chatter, e.g. MLD reports, may add a few); and always
seen == redirected + dropped_by_filter + passed + bypassed, with
errors <= redirected + passed (malformed frames are delivered unfiltered).
"""

import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

COUNTERS = ["seen", "redirected", "dropped_by_filter", "passed", "errors", "bypassed"]
EXACT = ["dropped_by_filter", "errors", "bypassed"]

A_V4, B_V4 = "192.0.2.1", "192.0.2.2"
A_V6, B_V6 = "2001:db8:5e::1", "2001:db8:5e::2"
ICMP_FRAME_BYTES = 14 + 20 + 8 + 56  # Ethernet + IPv4 + ICMP + ping's default payload

PID = os.getpid()
NS_A, NS_B = f"sensorchk-a-{PID}", f"sensorchk-b-{PID}"

IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 1, 6, 17
ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
ETH_P_8021Q, ETH_P_8021AD = 0x8100, 0x88A8


def run(*cmd, check=True, capture=True):
    res = subprocess.run(cmd, check=False, text=True,
                         stdout=subprocess.PIPE if capture else None,
                         stderr=subprocess.PIPE if capture else None)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def in_ns(ns, *cmd, **kw):
    return run("ip", "netns", "exec", ns, *cmd, **kw)


def hexbytes(data):
    return ["hex"] + [f"{b:02x}" for b in data]


# --- map keys (layouts of sensor_maps.h) --------------------------------------------------

def lpm_key(cidr):
    net = ipaddress.ip_network(cidr)
    return struct.pack("<I", net.prefixlen) + net.network_address.packed


def mapped(addr):
    ip = ipaddress.ip_address(addr)
    if ip.version == 4:
        return ipaddress.IPv6Address("::ffff:" + addr).packed
    return ip.packed


def flow_key(src, dst, sport, dport, proto):
    # struct sensor_flow_key: 16 + 16 bytes addresses, ports in network order, protocol, pad[3]
    return mapped(src) + mapped(dst) + struct.pack("!HHB3x", sport, dport, proto)


RULE_ID = struct.pack("<I", 1)          # struct sensor_cidr_value
FLOW_VALUE_ZERO = bytes(24)             # struct sensor_flow_value


# --- frames for tcpreplay ------------------------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ether(dst_mac, src_mac, ethertype, payload, vlans=()):
    """vlans: TPIDs of the tags, outermost first (VLAN ids 100, 101, ...)."""
    hdr = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
    types = list(vlans) + [ethertype]
    hdr += struct.pack("!H", types[0])
    for i, next_type in enumerate(types[1:]):
        hdr += struct.pack("!HH", 100 + i, next_type)
    return hdr + payload


def ipv4(src, dst, proto, payload, frag_off=0, options=b"", version=4):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, 4 * ihl + len(payload), 1,
                      frag_off, 64, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    hdr += options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nexthdr, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nexthdr, 64,
                       ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def udp(sport, dport, data=b"sensor"):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)


def icmp_echo():
    body = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def arp_request(src_mac, src_ip, dst_ip):
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1,
                       bytes.fromhex(src_mac.replace(":", "")),
                       ipaddress.IPv4Address(src_ip).packed, bytes(6),
                       ipaddress.IPv4Address(dst_ip).packed)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(frame), len(frame)))
            f.write(frame)


# --- the check -----------------------------------------------------------------------------

class Sensor:
    def __init__(self, mode, obj):
        self.mode = mode
        run("ip", "-n", NS_B, "link", "set", "dev", "vb", mode, "obj", obj, "sec", "xdp")
        link = json.loads(run("ip", "-n", NS_B, "-j", "link", "show", "dev", "vb").stdout)[0]
        self.prog_id = link["xdp"]["prog"]["id"]
        prog = json.loads(run("bpftool", "-j", "prog", "show", "id", str(self.prog_id)).stdout)
        self.maps = {}
        for map_id in prog["map_ids"]:
            info = json.loads(run("bpftool", "-j", "map", "show", "id", str(map_id)).stdout)
            self.maps[info["name"]] = map_id
        print(f"[{mode}] prog id {self.prog_id}, maps {self.maps}")

    def detach(self):
        run("ip", "-n", NS_B, "link", "set", "dev", "vb", self.mode, "off")

    def counters(self):
        out = json.loads(run("bpftool", "-j", "map", "lookup", "id", str(self.maps["counters"]),
                             "key", "0", "0", "0", "0").stdout)
        total = dict.fromkeys(COUNTERS, 0)
        for per_cpu in out["formatted"]["values"]:
            for name in COUNTERS:
                total[name] += per_cpu["value"][name]
        return total

    def update(self, name, key, value):
        run("bpftool", "map", "update", "id", str(self.maps[name]),
            "key", *hexbytes(key), "value", *hexbytes(value))

    def delete(self, name, key):
        run("bpftool", "map", "delete", "id", str(self.maps[name]), "key", *hexbytes(key))

    def flow_value(self, key):
        out = json.loads(run("bpftool", "-j", "map", "lookup", "id",
                             str(self.maps["bypassed_flows"]), "key", *hexbytes(key)).stdout)
        return out["formatted"]["value"]


class Checker:
    def __init__(self):
        self.failures = []
        self.passes = 0

    def step(self, sensor, name, action, **expect):
        before = sensor.counters()
        extra = action()
        after = sensor.counters()
        delta = {k: after[k] - before[k] for k in COUNTERS}
        problems = []
        for k in EXACT:
            if delta[k] != expect.get(k, 0):
                problems.append(f"{k}={delta[k]} (want {expect.get(k, 0)})")
        for k in ("passed", "redirected"):
            if delta[k] < expect.get(k, 0):
                problems.append(f"{k}={delta[k]} (want >= {expect.get(k, 0)})")
        rest = sum(delta[k] for k in COUNTERS if k not in ("seen", "errors"))
        if delta["seen"] != rest:
            problems.append(f"seen={delta['seen']} != sum of outcomes {rest}")
        if delta["errors"] > delta["redirected"] + delta["passed"]:
            problems.append(f"errors={delta['errors']} not all delivered")
        if extra:
            problems.extend(extra)
        shown = " ".join(f"{k}={v}" for k, v in delta.items())
        label = f"[{sensor.mode}] {name}"
        if problems:
            self.failures.append(f"{label}: {'; '.join(problems)}")
            print(f"FAIL {label}: {shown} -- {'; '.join(problems)}")
        else:
            self.passes += 1
            print(f"ok   {label}: {shown}")
        return delta


def ping(version, count=3, expect_ok=True):
    dst = B_V4 if version == 4 else B_V6
    res = in_ns(NS_A, "ping", f"-{version}", "-c", str(count), "-i", "0.2", "-W", "1", dst,
                check=False)
    if (res.returncode == 0) != expect_ok:
        return [f"ping -{version} exit {res.returncode}, expected {'success' if expect_ok else 'failure'}"]
    return []


def send_udp(src, dst, sport, dport, count):
    family = "AF_INET" if ":" not in src else "AF_INET6"
    code = (f"import socket; s = socket.socket(socket.{family}, socket.SOCK_DGRAM); "
            f"s.bind(('{src}', {sport}))\n"
            f"for _ in range({count}): s.sendto(b'sensor', ('{dst}', {dport}))")
    in_ns(NS_A, "python3", "-c", code)
    time.sleep(0.2)
    return []


def setup():
    run("ip", "netns", "add", NS_A)
    run("ip", "netns", "add", NS_B)
    run("ip", "-n", NS_A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", NS_B)
    for ns, dev, v4, v6 in ((NS_A, "va", A_V4, A_V6), (NS_B, "vb", B_V4, B_V6)):
        in_ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.router_solicitations=0")
        run("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
        run("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "link", "set", dev, "up")
    macs = {}
    for ns, dev in ((NS_A, "va"), (NS_B, "vb")):
        macs[dev] = json.loads(run("ip", "-n", ns, "-j", "link", "show", "dev", dev).stdout)[0]["address"]
    # Static neighbours: no ARP/ND, so frame counts are exact.
    for ns, dev, peer, v4, v6 in ((NS_A, "va", "vb", B_V4, B_V6), (NS_B, "vb", "va", A_V4, A_V6)):
        for addr in (v4, v6):
            run("ip", "-n", ns, "neigh", "replace", addr, "lladdr", macs[peer], "dev", dev,
                "nud", "permanent")
    return macs


def teardown():
    for ns in (NS_A, NS_B):
        run("ip", "netns", "del", ns, check=False)


def crafted_frames(macs):
    """Frames for tcpreplay, with the counter changes they must cause."""
    a, b = macs["va"], macs["vb"]
    q, ad = ETH_P_8021Q, ETH_P_8021AD
    frames = [
        # dropped_by_filter: 203.0.113.0/24 and 2001:db8:ff::/48 are ignored during this step
        ether(b, a, ETH_P_IP, ipv4("203.0.113.5", "198.51.100.9", IPPROTO_UDP, udp(1000, 53)), (ad, q)),
        ether(b, a, ETH_P_IPV6, ipv6("2001:db8:5e::9", "2001:db8:ff::5", IPPROTO_TCP, tcp(1000, 443)), (q,)),
        # bypassed: flows inserted during this step
        ether(b, a, ETH_P_IP, ipv4("198.51.100.1", "198.51.100.2", IPPROTO_UDP, udp(5000, 6000)), (q,)),
        ether(b, a, ETH_P_IP, ipv4("198.51.100.3", "198.51.100.4", IPPROTO_TCP, tcp(7000, 8000),
                                   options=b"\x01\x01\x01\x00")),        # IHL 6: options skipped
        ether(b, a, ETH_P_IP, ipv4("198.51.100.7", "198.51.100.8", IPPROTO_UDP, b"tail-of-datagram",
                                   frag_off=100)),                         # non-first fragment: ports 0
        # passed (no socket): not IP for the program
        ether(b, a, ETH_P_IP, ipv4("203.0.113.5", "198.51.100.9", IPPROTO_UDP, udp(1, 2)), (ad, q, q)),
        ether("ff:ff:ff:ff:ff:ff", a, ETH_P_ARP, arp_request(a, "198.51.100.1", "198.51.100.2")),
        # passed: plain IPv4 ICMP, no filter matches
        ether(b, a, ETH_P_IP, ipv4("198.51.100.1", "198.51.100.2", IPPROTO_ICMP, icmp_echo())),
        # errors (malformed): delivered unfiltered (passed here: no socket)
        ether(b, a, ETH_P_IP, bytes(10)),                                  # truncated IPv4 header
        ether(b, a, ETH_P_IP, b"\x44" + ipv4("198.51.100.1", "198.51.100.2", IPPROTO_UDP, udp(1, 2))[1:]),  # IHL 4
        ether(b, a, ETH_P_IP, ipv4("198.51.100.1", "198.51.100.2", IPPROTO_UDP, b"\x13\x88")),  # 2 of 4 port bytes
        ether(b, a, ETH_P_IPV6, ipv4("198.51.100.1", "198.51.100.2", IPPROTO_UDP,
                                     udp(1, 2, bytes(32)))),               # IPv6 EtherType, version 4
        ether(b, a, q, b"\x00\x64"),                                       # VLAN tag cut short
        ether(b, a, ETH_P_IP, ipv4("198.51.100.1", "198.51.100.2", IPPROTO_TCP, tcp(1, 2), version=6)),
    ]
    expect = {"dropped_by_filter": 2, "bypassed": 3, "passed": 3 + 6, "errors": 6}
    return frames, expect


def run_mode(mode, obj, xsk_rx, macs, checker, workdir):
    s = Sensor(mode, obj)
    c = checker
    try:
        c.step(s, "ping IPv4, no socket: passed", lambda: ping(4), passed=3)
        c.step(s, "ping IPv6, no socket: passed", lambda: ping(6), passed=3)

        key = lpm_key(f"{A_V4}/32")
        s.update("ignored_v4", key, RULE_ID)
        c.step(s, "ignored source 192.0.2.1/32", lambda: ping(4, expect_ok=False), dropped_by_filter=3)
        s.delete("ignored_v4", key)

        key = lpm_key("192.0.2.0/30")
        s.update("ignored_v4", key, RULE_ID)
        c.step(s, "ignored 192.0.2.0/30 (both ends)", lambda: ping(4, expect_ok=False), dropped_by_filter=3)
        s.delete("ignored_v4", key)

        key = lpm_key(f"{B_V6}/128")
        s.update("ignored_v6", key, RULE_ID)
        c.step(s, "ignored destination 2001:db8:5e::2/128", lambda: ping(6, expect_ok=False),
               dropped_by_filter=3)
        s.delete("ignored_v6", key)
        c.step(s, "filters removed: ping IPv4 again", lambda: ping(4), passed=3)

        key = flow_key(A_V4, B_V4, 0, 0, IPPROTO_ICMP)
        s.update("bypassed_flows", key, FLOW_VALUE_ZERO)

        def bypass_icmp_same_direction():
            problems = ping(4, expect_ok=False)
            v = s.flow_value(key)
            if v["packets"] != 3 or v["bytes"] != 3 * ICMP_FRAME_BYTES or v["last_seen_ns"] == 0:
                problems.append(f"flow value {v}")
            return problems
        c.step(s, "bypassed ICMP flow, stored as seen", bypass_icmp_same_direction, bypassed=3)
        s.delete("bypassed_flows", key)

        key = flow_key(B_V4, A_V4, 0, 0, IPPROTO_ICMP)
        s.update("bypassed_flows", key, FLOW_VALUE_ZERO)
        c.step(s, "bypassed ICMP flow, stored reversed", lambda: ping(4, expect_ok=False), bypassed=3)
        s.delete("bypassed_flows", key)

        key = flow_key(B_V4, A_V4, 9999, 40000, IPPROTO_UDP)
        s.update("bypassed_flows", key, FLOW_VALUE_ZERO)
        c.step(s, "bypassed UDP 4-tuple, stored reversed",
               lambda: send_udp(A_V4, B_V4, 40000, 9999, 4), bypassed=4)
        c.step(s, "same UDP flow, other source port: not bypassed",
               lambda: send_udp(A_V4, B_V4, 40001, 9999, 2), passed=2)
        s.delete("bypassed_flows", key)

        key = flow_key(A_V6, B_V6, 40000, 9999, IPPROTO_UDP)
        s.update("bypassed_flows", key, FLOW_VALUE_ZERO)
        c.step(s, "bypassed UDP over IPv6", lambda: send_udp(A_V6, B_V6, 40000, 9999, 2), bypassed=2)
        s.delete("bypassed_flows", key)

        frames, expect = crafted_frames(macs)
        pcap = os.path.join(workdir, "crafted.pcap")
        write_pcap(pcap, frames)
        filters = [("ignored_v4", lpm_key("203.0.113.0/24"), RULE_ID),
                   ("ignored_v6", lpm_key("2001:db8:ff::/48"), RULE_ID),
                   ("bypassed_flows", flow_key("198.51.100.1", "198.51.100.2", 5000, 6000, IPPROTO_UDP),
                    FLOW_VALUE_ZERO),
                   ("bypassed_flows", flow_key("198.51.100.4", "198.51.100.3", 8000, 7000, IPPROTO_TCP),
                    FLOW_VALUE_ZERO),
                   ("bypassed_flows", flow_key("198.51.100.7", "198.51.100.8", 0, 0, IPPROTO_UDP),
                    FLOW_VALUE_ZERO)]
        for name, key, value in filters:
            s.update(name, key, value)

        def replay():
            in_ns(NS_A, "tcpreplay", "-q", "-i", "va", "--pps", "200", pcap)
            time.sleep(0.2)
            return []
        c.step(s, f"tcpreplay {len(frames)} crafted frames (VLAN, QinQ, malformed)", replay, **expect)
        for name, key, _ in filters:
            s.delete(name, key)

        # AF_XDP socket on queue 0: frames are now redirected to it.
        def with_socket():
            proc = subprocess.Popen(["ip", "netns", "exec", NS_B, xsk_rx, "vb", "0",
                                     str(s.maps["xsks"]), "2"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = proc.stdout.readline().strip()
            if line != "ready":
                proc.wait()
                return [f"xsk_rx did not start: {line} {proc.stderr.read().strip()}"]
            send_udp(A_V4, B_V4, 40002, 9999, 5)
            out, err = proc.communicate(timeout=30)
            got = int(out.split()[1]) if out.startswith("received") else -1
            print(f"     xsk_rx: {out.strip()}")
            with_socket.received = got
            return []
        delta = c.step(s, "AF_XDP socket bound to queue 0: redirected", with_socket,
                       redirected=5)
        if delta["redirected"] != with_socket.received:
            c.failures.append(f"[{mode}] socket received {with_socket.received} frames, "
                              f"program redirected {delta['redirected']}")
            print(f"FAIL [{mode}] socket received {with_socket.received} != redirected {delta['redirected']}")
        c.step(s, "socket closed: passed again", lambda: ping(4), passed=3)
        print(f"[{mode}] totals: {s.counters()}")
    finally:
        s.detach()


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    obj, xsk_rx = (os.path.abspath(p) for p in sys.argv[1:])
    checker = Checker()
    try:
        macs = setup()
        time.sleep(1)  # let the links settle
        with tempfile.TemporaryDirectory() as workdir:
            for mode in ("xdpdrv", "xdpgeneric"):
                run_mode(mode, obj, xsk_rx, macs, checker, workdir)
    finally:
        teardown()
    print(f"{checker.passes} passed, {len(checker.failures)} failed")
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
