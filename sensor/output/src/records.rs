//! The record shapes and their JSON lines, with Zeek's JSON field names.
//!
//! The records are also serde types, which the telemetry store encodes in field order: adding,
//! removing or reordering a field changes the store's on-disk format (docs/store.md).

use crate::json::Object;
use core::net::IpAddr;
use core::time::Duration;
use sensor_analyzers::dns::DnsRecord;
use sensor_wire::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A connection's endpoints (Zeek's `id` record, flattened as `id.orig_h` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnId {
    /// Originator address.
    pub orig_h: IpAddr,
    /// Originator port.
    pub orig_p: u16,
    /// Responder address.
    pub resp_h: IpAddr,
    /// Responder port.
    pub resp_p: u16,
}

impl ConnId {
    fn write(&self, o: &mut Object<'_>) {
        o.addr("id.orig_h", &self.orig_h)
            .uint("id.orig_p", u64::from(self.orig_p))
            .addr("id.resp_h", &self.resp_h)
            .uint("id.resp_p", u64::from(self.resp_p));
    }
}

/// One `conn.jsonl` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnRecord<'a> {
    /// First packet.
    pub ts: Timestamp,
    /// Connection uid.
    pub uid: &'a str,
    /// Endpoints.
    pub id: ConnId,
    /// `tcp`, `udp`, `icmp` or `unknown_transport`.
    pub proto: &'a str,
    /// Application protocol identified (`dns`), if any.
    pub service: Option<&'a str>,
    /// Last packet minus first; `None` when zero (Zeek leaves it out then).
    pub duration: Option<Duration>,
    /// Originator payload bytes; left out with `duration`.
    pub orig_bytes: Option<u64>,
    /// Responder payload bytes; left out with `duration`.
    pub resp_bytes: Option<u64>,
    /// Zeek's connection state code.
    pub conn_state: &'a str,
    /// Whether the originator is in the configured local networks.
    pub local_orig: bool,
    /// Whether the responder is in the configured local networks.
    pub local_resp: bool,
    /// Bytes acknowledged but never seen.
    pub missed_bytes: u64,
    /// Zeek's history string (left out when empty).
    pub history: &'a str,
    /// Originator packets.
    pub orig_pkts: u64,
    /// Originator IP bytes.
    pub orig_ip_bytes: u64,
    /// Responder packets.
    pub resp_pkts: u64,
    /// Responder IP bytes.
    pub resp_ip_bytes: u64,
    /// IP protocol number.
    pub ip_proto: u8,
    /// Community ID v1 (seed 0). Not serialised: it is a hash of `id` and `ip_proto`, and 20
    /// bytes no compressor can shrink, so the store recomputes it when reading
    /// ([`ConnRecord::restore_community_id`]).
    #[serde(skip)]
    pub community_id: Cow<'a, str>,
    /// Outer VLAN.
    pub vlan: Option<u16>,
    /// Inner VLAN.
    pub inner_vlan: Option<u16>,
}

impl ConnRecord<'_> {
    /// Sets `community_id` from `id` and `ip_proto` (after deserialising, which skips it).
    pub fn restore_community_id(&mut self) {
        let key = sensor_flow::FlowKey {
            orig_h: self.id.orig_h,
            resp_h: self.id.resp_h,
            orig_p: self.id.orig_p,
            resp_p: self.id.resp_p,
            proto: self.ip_proto,
            vlan: None,
            inner_vlan: None,
        };
        self.community_id = Cow::Owned(sensor_flow::community_id(&key, 0));
    }

    /// Appends the record's JSON object (without the newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Object::new(out);
        o.secs("ts", self.ts.nanos()).str("uid", self.uid);
        self.id.write(&mut o);
        o.str("proto", self.proto)
            .opt_str("service", self.service)
            .opt_secs("duration", self.duration.map(|d| d.as_nanos() as u64))
            .opt_uint("orig_bytes", self.orig_bytes)
            .opt_uint("resp_bytes", self.resp_bytes)
            .str("conn_state", self.conn_state)
            .bool("local_orig", self.local_orig)
            .bool("local_resp", self.local_resp)
            .uint("missed_bytes", self.missed_bytes)
            .opt_str("history", (!self.history.is_empty()).then_some(self.history))
            .uint("orig_pkts", self.orig_pkts)
            .uint("orig_ip_bytes", self.orig_ip_bytes)
            .uint("resp_pkts", self.resp_pkts)
            .uint("resp_ip_bytes", self.resp_ip_bytes)
            .uint("ip_proto", u64::from(self.ip_proto))
            .str("community_id", &self.community_id)
            .opt_uint("vlan", self.vlan.map(u64::from))
            .opt_uint("inner_vlan", self.inner_vlan.map(u64::from))
            .end();
    }
}

/// One `dns.jsonl` line: a [`DnsRecord`] with the connection it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordLine<'a> {
    /// Connection uid.
    pub uid: &'a str,
    /// Endpoints.
    pub id: ConnId,
    /// `udp` or `tcp`.
    pub proto: &'a str,
    /// The transaction: borrowed from the analyser when written, owned when read back.
    pub rec: Cow<'a, DnsRecord>,
}

impl DnsRecordLine<'_> {
    /// Appends the record's JSON object (without the newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let r = &*self.rec;
        let mut o = Object::new(out);
        o.secs("ts", r.ts.nanos()).str("uid", self.uid);
        self.id.write(&mut o);
        o.str("proto", self.proto)
            .uint("trans_id", u64::from(r.trans_id))
            .opt_secs("rtt", r.rtt.map(|d| d.as_nanos() as u64))
            .opt_str("query", r.query())
            .opt_uint("qclass", r.qclass.map(u64::from))
            .opt_str("qclass_name", r.qclass_label().as_deref())
            .opt_uint("qtype", r.qtype.map(u64::from))
            .opt_str("qtype_name", r.qtype_name().as_deref())
            .opt_uint("rcode", r.rcode.map(u64::from))
            .opt_str("rcode_name", r.rcode_name().as_deref())
            .bool("AA", r.aa)
            .bool("TC", r.tc)
            .bool("RD", r.rd)
            .bool("RA", r.ra)
            .uint("Z", u64::from(r.z))
            .strs("answers", r.answers())
            .whole_secs("TTLs", r.ttls())
            .bool("rejected", r.rejected)
            .opt_uint("opcode", r.opcode.map(u64::from))
            .opt_str("opcode_name", r.opcode_name().as_deref())
            // Logged only when the case differs: the same long tunnel name twice would double
            // the size of tunnel records for nothing (docs/records.md).
            .opt_str("original_query", r.original_query().filter(|o| r.query() != Some(*o)))
            .end();
    }
}

/// One `weird.jsonl` line: an anomaly in a packet, a flow, a DNS message or the capture itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeirdRecord<'a> {
    /// When it was seen.
    pub ts: Timestamp,
    /// The connection, when there is one.
    pub uid: Option<&'a str>,
    /// Its endpoints, when known.
    pub id: Option<ConnId>,
    /// Zeek-style name (e.g. `truncated_IP`, `DNS_RR_length_mismatch`).
    pub name: &'a str,
    /// Extra detail.
    pub addl: Option<&'a str>,
    /// Whether Zeek would raise a notice for it (always false for now).
    pub notice: bool,
    /// Which sensor saw it.
    pub peer: &'a str,
    /// Which part of the sensor raised it: `capture`, `decode`, `flow`, `dns`.
    pub source: &'a str,
}

impl WeirdRecord<'_> {
    /// Appends the record's JSON object (without the newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Object::new(out);
        o.secs("ts", self.ts.nanos()).opt_str("uid", self.uid);
        if let Some(id) = &self.id {
            id.write(&mut o);
        }
        o.str("name", self.name)
            .opt_str("addl", self.addl)
            .bool("notice", self.notice)
            .str("peer", self.peer)
            .str("source", self.source)
            .end();
    }
}

/// The packets kept of one flow, stored as evidence (not a JSON log: `sensor evidence` exports
/// them as pcapng).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord<'a> {
    /// The first packet kept.
    pub ts: Timestamp,
    /// The connection uid.
    pub uid: &'a str,
    /// Endpoints.
    pub id: ConnId,
    /// Packets, in capture order: the flow's first ones, then its last ones.
    #[serde(borrow)]
    pub packets: Vec<EvidencePacket<'a>>,
    /// Packets of the flow between the first and the last ones kept, or refused by the memory
    /// cap, that are not here.
    pub skipped: u64,
}

/// One packet of an [`EvidenceRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidencePacket<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// LINKTYPE_ of `data`.
    pub link: u32,
    /// Length on the wire.
    pub orig_len: u32,
    /// The bytes kept (cut at the snap length).
    #[serde(borrow)]
    pub data: Cow<'a, [u8]>,
}

impl EvidenceRecord<'_> {
    /// Appends a JSON summary (without the packets' bytes; without the newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Object::new(out);
        o.secs("ts", self.ts.nanos()).str("uid", self.uid);
        self.id.write(&mut o);
        let bytes: u64 = self.packets.iter().map(|p| p.data.len() as u64).sum();
        o.uint("packets", self.packets.len() as u64).uint("bytes", bytes).uint("skipped", self.skipped).end();
    }
}
