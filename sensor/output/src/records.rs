//! The record shapes, serialised with Zeek's JSON field names.

use core::net::IpAddr;
use sensor_analyzers::dns::DnsRecord;
use sensor_wire::Timestamp;
use serde::Serialize;

/// Seconds as Zeek's JSON writes times and intervals.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A connection's endpoints (Zeek's `id` record, flattened as `id.orig_h` …).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConnId {
    /// Originator address.
    #[serde(rename = "id.orig_h")]
    pub orig_h: IpAddr,
    /// Originator port.
    #[serde(rename = "id.orig_p")]
    pub orig_p: u16,
    /// Responder address.
    #[serde(rename = "id.resp_h")]
    pub resp_h: IpAddr,
    /// Responder port.
    #[serde(rename = "id.resp_p")]
    pub resp_p: u16,
}

/// One `conn.jsonl` line.
#[derive(Debug, Serialize)]
pub struct ConnRecord<'a> {
    /// First packet, seconds since the epoch.
    pub ts: f64,
    /// Connection uid.
    pub uid: &'a str,
    /// Endpoints.
    #[serde(flatten)]
    pub id: ConnId,
    /// `tcp`, `udp`, `icmp` or `unknown_transport`.
    pub proto: &'static str,
    /// Application protocol identified (`dns`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<&'static str>,
    /// Seconds between first and last packet; omitted when zero, as Zeek does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Originator payload bytes; omitted with `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_bytes: Option<u64>,
    /// Responder payload bytes; omitted with `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resp_bytes: Option<u64>,
    /// Zeek's connection state code.
    pub conn_state: &'static str,
    /// Whether the originator is in the configured local networks.
    pub local_orig: bool,
    /// Whether the responder is in the configured local networks.
    pub local_resp: bool,
    /// Bytes acknowledged but never seen.
    pub missed_bytes: u64,
    /// Zeek's history string.
    #[serde(skip_serializing_if = "str::is_empty")]
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
    /// Community ID v1.
    pub community_id: &'a str,
    /// Outer VLAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Inner VLAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_vlan: Option<u16>,
}

/// One `dns.jsonl` line: a [`DnsRecord`] with the connection it belongs to.
#[derive(Debug)]
pub struct DnsRecordLine<'a> {
    /// Connection uid.
    pub uid: &'a str,
    /// Endpoints.
    pub id: ConnId,
    /// `udp` or `tcp`.
    pub proto: &'static str,
    /// The transaction.
    pub rec: &'a DnsRecord,
}

#[derive(Serialize)]
struct DnsJson<'a> {
    ts: f64,
    uid: &'a str,
    #[serde(flatten)]
    id: ConnId,
    proto: &'static str,
    trans_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qclass: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qclass_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qtype: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qtype_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcode: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcode_name: Option<&'a str>,
    #[serde(rename = "AA")]
    aa: bool,
    #[serde(rename = "TC")]
    tc: bool,
    #[serde(rename = "RD")]
    rd: bool,
    #[serde(rename = "RA")]
    ra: bool,
    #[serde(rename = "Z")]
    z: u8,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    answers: &'a [String],
    #[serde(rename = "TTLs", skip_serializing_if = "<[f64]>::is_empty")]
    ttls: &'a [f64],
    rejected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    opcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opcode_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_query: Option<&'a str>,
}

impl DnsRecordLine<'_> {
    /// Writes the line's JSON (without the newline). `ttls` is scratch space, reused across calls.
    pub fn write_json(&self, out: &mut impl std::io::Write, ttls: &mut Vec<f64>) -> serde_json::Result<()> {
        let r = self.rec;
        ttls.clear();
        ttls.extend(r.ttls.iter().map(|&t| f64::from(t)));
        let qtype_name = r.qtype_name();
        let rcode_name = r.rcode_name();
        let opcode_name = r.opcode_name();
        let qclass_name = r.qclass_label();
        let json = DnsJson {
            ts: secs(r.ts.nanos()),
            uid: self.uid,
            id: self.id,
            proto: self.proto,
            trans_id: r.trans_id,
            rtt: r.rtt.map(|d| d.as_secs_f64()),
            query: r.query.as_deref(),
            qclass: r.qclass,
            qclass_name: qclass_name.as_deref(),
            qtype: r.qtype,
            qtype_name: qtype_name.as_deref(),
            rcode: r.rcode,
            rcode_name: rcode_name.as_deref(),
            aa: r.aa,
            tc: r.tc,
            rd: r.rd,
            ra: r.ra,
            z: r.z,
            answers: &r.answers,
            ttls,
            rejected: r.rejected,
            opcode: r.opcode,
            opcode_name: opcode_name.as_deref(),
            // Logged only when the case differs: the same name twice would double the size of
            // tunnel records for nothing (docs/records.md).
            original_query: r.original_query.as_deref().filter(|o| r.query.as_deref() != Some(*o)),
        };
        serde_json::to_writer(out, &json)
    }
}

/// One `weird.jsonl` line: an anomaly in a packet, a flow, a DNS message or the capture itself.
#[derive(Debug, Serialize)]
pub struct WeirdRecord<'a> {
    /// When it was seen.
    pub ts: f64,
    /// The connection, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// Its endpoints, when known.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub id: Option<ConnId>,
    /// Zeek-style name (e.g. `truncated_IP`, `DNS_RR_length_mismatch`).
    pub name: &'a str,
    /// Extra detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addl: Option<&'a str>,
    /// Whether Zeek would raise a notice for it (always false for now).
    pub notice: bool,
    /// Which sensor saw it.
    pub peer: &'a str,
    /// Which part of the sensor raised it: `capture`, `decode`, `flow`, `dns`.
    pub source: &'static str,
}

impl WeirdRecord<'_> {
    /// Timestamp helper.
    pub fn at(ts: Timestamp) -> f64 {
        secs(ts.nanos())
    }
}
