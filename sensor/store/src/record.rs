//! What the store holds: record kinds, the [`Record`] trait a kind implements, the keys a record
//! is indexed by, and records read back ([`Decoded`]).

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;
use sensor_analyzers::dns::DnsQueryName;
use sensor_output::{Alert, ConnRecord, DnsRecordLine, EvidenceRecord, WeirdRecord};
use sensor_wire::Timestamp;
use serde::Serialize;

/// A kind of record. Each kind has its own blocks and dictionary; the code is part of the
/// on-disk format (docs/store.md) and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `conn`: one per flow.
    Conn,
    /// `dns`: one per DNS transaction.
    Dns,
    /// `weird`: anomalies.
    Weird,
    /// `evidence`: the packets kept of a flow.
    Evidence,
    /// `alert`: what the detectors raised (not in blocks: the `alerts` tree).
    Alert,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 5] = [Kind::Conn, Kind::Dns, Kind::Weird, Kind::Evidence, Kind::Alert];

    /// The kind's code on disk.
    pub fn code(self) -> u8 {
        match self {
            Kind::Conn => 1,
            Kind::Dns => 2,
            Kind::Weird => 3,
            Kind::Evidence => 4,
            Kind::Alert => 5,
        }
    }

    /// The kind of an on-disk code.
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind's name, as in `conn.jsonl` and `sensor query --type`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Conn => "conn",
            Kind::Dns => "dns",
            Kind::Weird => "weird",
            Kind::Evidence => "evidence",
            Kind::Alert => "alert",
        }
    }

    /// Whether records of this kind are telemetry, kept in segment blocks that retention evicts
    /// under disk pressure. Alerts are not: they have their own tree and are never evicted.
    pub fn is_telemetry(self) -> bool {
        match self {
            Kind::Conn | Kind::Dns | Kind::Weird | Kind::Evidence => true,
            Kind::Alert => false,
        }
    }

    /// Position in [`Kind::ALL`], for per-kind arrays.
    pub(crate) fn index(self) -> usize {
        usize::from(self.code() - 1)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown record type `{s}` (expected conn, dns, weird, evidence or alert)"))
    }
}

/// What a record is found by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    /// The hosts it involves (either side).
    pub hosts: [Option<IpAddr>; 2],
    /// The connection uid.
    pub uid: Option<&'a str>,
    /// The Community ID of the connection.
    pub community_id: Option<&'a str>,
    /// The DNS query name.
    pub query: Option<&'a str>,
}

impl<'a> Keys<'a> {
    /// The keys every record of a connection has: its endpoints and uid.
    fn of_connection(id: &sensor_output::ConnId, uid: &'a str) -> Keys<'a> {
        Keys { hosts: [Some(id.orig_h), Some(id.resp_h)], uid: Some(uid), community_id: None, query: None }
    }
}

/// A record the store can hold: serialised with serde (postcard) in field order.
pub trait Record: Serialize {
    /// Its kind.
    const KIND: Kind;
    /// Its time: what time-range queries and retention go by.
    fn ts(&self) -> Timestamp;
    /// What it is indexed by.
    fn keys(&self) -> Keys<'_>;
}

impl Record for ConnRecord<'_> {
    const KIND: Kind = Kind::Conn;

    fn ts(&self) -> Timestamp {
        self.ts
    }

    fn keys(&self) -> Keys<'_> {
        Keys { community_id: Some(&self.community_id), ..Keys::of_connection(&self.id, self.uid) }
    }
}

impl Record for DnsRecordLine<'_> {
    const KIND: Kind = Kind::Dns;

    fn ts(&self) -> Timestamp {
        self.rec.ts
    }

    fn keys(&self) -> Keys<'_> {
        Keys { query: self.rec.query(), ..Keys::of_connection(&self.id, self.uid) }
    }
}

impl Record for WeirdRecord<'_> {
    const KIND: Kind = Kind::Weird;

    fn ts(&self) -> Timestamp {
        self.ts
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            hosts: [self.id.map(|id| id.orig_h), self.id.map(|id| id.resp_h)],
            uid: self.uid,
            community_id: None,
            query: None,
        }
    }
}

/// The leading fields of a stored record (its time, uid and hosts), read without decoding the
/// rest: what most queries filter on, at a fraction of the cost of [`Decoded::decode`].
///
/// The tuples below mirror the first fields of each record type in declaration order (postcard
/// encodes a struct as its fields one after the other); `peek_agrees_with_decode` in the tests
/// keeps them in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peek<'a> {
    pub(crate) ts: Timestamp,
    pub(crate) uid: Option<&'a str>,
    pub(crate) hosts: [Option<IpAddr>; 2],
}

impl<'a> Peek<'a> {
    pub(crate) fn read(kind: Kind, bytes: &'a [u8]) -> Result<Peek<'a>, postcard::Error> {
        use sensor_output::ConnId;
        let hosts = |id: Option<ConnId>| [id.map(|i| i.orig_h), id.map(|i| i.resp_h)];
        Ok(match kind {
            Kind::Conn | Kind::Evidence => {
                let ((ts, uid, id), _) = postcard::take_from_bytes::<(Timestamp, &str, ConnId)>(bytes)?;
                Peek { ts, uid: Some(uid), hosts: hosts(Some(id)) }
            }
            Kind::Dns => {
                let ((uid, id, _proto, ts), _) = postcard::take_from_bytes::<(&str, ConnId, &str, Timestamp)>(bytes)?;
                Peek { ts, uid: Some(uid), hosts: hosts(Some(id)) }
            }
            Kind::Weird => {
                let ((ts, uid, id), _) = postcard::take_from_bytes::<(Timestamp, Option<&str>, Option<ConnId>)>(bytes)?;
                Peek { ts, uid, hosts: hosts(id) }
            }
            // No block holds alerts (they have their own tree): a header claiming so is damaged.
            Kind::Alert => return Err(postcard::Error::DeserializeBadEnum),
        })
    }
}

/// The query name of a stored DNS record, read without its answers ([`DnsQueryName`]): what a
/// query by domain checks before decoding a record whole.
pub(crate) fn dns_query_name(bytes: &[u8]) -> Result<Option<String>, postcard::Error> {
    use sensor_output::ConnId;
    // `DnsRecordLine`'s fields before `rec`, as in [`Peek::read`].
    let ((_uid, _id, _proto, name), _) = postcard::take_from_bytes::<(&str, ConnId, &str, DnsQueryName)>(bytes)?;
    Ok(name.0)
}

impl Record for EvidenceRecord<'_> {
    const KIND: Kind = Kind::Evidence;

    fn ts(&self) -> Timestamp {
        self.ts
    }

    fn keys(&self) -> Keys<'_> {
        Keys::of_connection(&self.id, self.uid)
    }
}

/// A record read back from a block, borrowing from the block's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<'a> {
    /// A conn record.
    Conn(ConnRecord<'a>),
    /// A dns record.
    Dns(DnsRecordLine<'a>),
    /// A weird record.
    Weird(WeirdRecord<'a>),
    /// Evidence packets.
    Evidence(EvidenceRecord<'a>),
    /// An alert.
    Alert(Box<Alert>),
}

impl<'a> Decoded<'a> {
    /// Decodes one record of `kind`.
    pub fn decode(kind: Kind, bytes: &'a [u8]) -> Result<Decoded<'a>, String> {
        let bad = |e: postcard::Error| e.to_string();
        Ok(match kind {
            Kind::Conn => {
                let mut conn: ConnRecord<'a> = postcard::from_bytes(bytes).map_err(bad)?;
                conn.restore_community_id();
                Decoded::Conn(conn)
            }
            Kind::Dns => Decoded::Dns(postcard::from_bytes(bytes).map_err(bad)?),
            Kind::Weird => Decoded::Weird(postcard::from_bytes(bytes).map_err(bad)?),
            Kind::Evidence => Decoded::Evidence(postcard::from_bytes(bytes).map_err(bad)?),
            Kind::Alert => Decoded::Alert(serde_json::from_slice(bytes).map_err(|e| e.to_string())?),
        })
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Decoded::Conn(_) => Kind::Conn,
            Decoded::Dns(_) => Kind::Dns,
            Decoded::Weird(_) => Kind::Weird,
            Decoded::Evidence(_) => Kind::Evidence,
            Decoded::Alert(_) => Kind::Alert,
        }
    }

    /// Its time.
    pub fn ts(&self) -> Timestamp {
        match self {
            Decoded::Conn(r) => r.ts(),
            Decoded::Dns(r) => r.ts(),
            Decoded::Weird(r) => r.ts(),
            Decoded::Evidence(r) => r.ts(),
            Decoded::Alert(a) => a.ts,
        }
    }

    /// What it is indexed by.
    pub fn keys(&self) -> Keys<'_> {
        match self {
            Decoded::Conn(r) => r.keys(),
            Decoded::Dns(r) => r.keys(),
            Decoded::Weird(r) => r.keys(),
            Decoded::Evidence(r) => r.keys(),
            Decoded::Alert(a) => Keys {
                hosts: [Some(a.src.ip), a.dst.as_ref().map(|d| d.ip)],
                uid: Some(&a.id),
                community_id: None,
                query: a.evidence.domain.as_deref(),
            },
        }
    }

    /// Appends its JSON line (without the newline): the same bytes as in `conn.jsonl`,
    /// `dns.jsonl`, `weird.jsonl` or `alerts.jsonl`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Decoded::Conn(r) => r.write_json(out),
            Decoded::Dns(r) => r.write_json(out),
            Decoded::Weird(r) => r.write_json(out),
            Decoded::Evidence(r) => r.write_json(out),
            // Serialising plain data into a Vec cannot fail.
            Decoded::Alert(a) => drop(serde_json::to_writer(out, a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_analyzers::dns::DnsRecord;
    use sensor_output::ConnId;
    use std::borrow::Cow;

    fn id() -> ConnId {
        ConnId { orig_h: [10, 0, 0, 1].into(), orig_p: 5353, resp_h: "2001:db8::53".parse().unwrap(), resp_p: 53 }
    }

    fn check<R: Record>(rec: &R) {
        let bytes = postcard::to_allocvec(rec).unwrap();
        let peek = Peek::read(R::KIND, &bytes).unwrap();
        let decoded = Decoded::decode(R::KIND, &bytes).unwrap();
        assert_eq!(peek.ts, decoded.ts());
        assert_eq!(peek.uid, decoded.keys().uid);
        assert_eq!(peek.hosts, decoded.keys().hosts);
    }

    #[test]
    fn peek_agrees_with_decode() {
        check(&ConnRecord {
            ts: Timestamp(1_700_000_000_123_456_789),
            uid: "CabcdefghijklmnopQ",
            id: id(),
            proto: "udp",
            service: Some("dns"),
            duration: None,
            orig_bytes: None,
            resp_bytes: None,
            conn_state: "SF",
            local_orig: true,
            local_resp: false,
            missed_bytes: 0,
            history: "Dd",
            orig_pkts: 1,
            orig_ip_bytes: 70,
            resp_pkts: 1,
            resp_ip_bytes: 90,
            ip_proto: 17,
            community_id: Cow::Borrowed(""),
            vlan: Some(7),
            inner_vlan: None,
        });
        let mut rec = DnsRecord::new(Timestamp(1_700_000_000_500_000_000), 7);
        rec.set_query(Some("example.com"));
        let line = DnsRecordLine { uid: "Cdns", id: id(), proto: "udp", rec: Cow::Owned(rec) };
        check(&line);
        assert_eq!(dns_query_name(&postcard::to_allocvec(&line).unwrap()).unwrap().as_deref(), Some("example.com"));
        for (uid, id) in [(None, None), (Some("Cweird"), Some(id()))] {
            check(&WeirdRecord {
                ts: Timestamp(3),
                uid,
                id,
                name: "bad_UDP_checksum",
                addl: None,
                notice: false,
                peer: "sensor",
                source: "decode",
            });
        }
        let packet =
            sensor_output::EvidencePacket { ts: Timestamp(4), link: 1, orig_len: 60, data: Cow::Borrowed(&[1, 2, 3]) };
        check(&EvidenceRecord { ts: Timestamp(4), uid: "Cev", id: id(), packets: vec![packet], skipped: 2 });
    }
}
