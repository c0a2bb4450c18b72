//! Wire-level vocabulary of DNS messages: the header, sections, record type numbers, decoded
//! RDATA ([`RData`]), and the cursor the parser reads with.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Bytes in a DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Most questions a message may declare before it is taken for non-DNS traffic (Zeek
/// `dns_max_queries`, `scripts/base/init-bare.zeek`): `DNS_Conn_count_too_large` and an analyzer
/// violation, nothing after the header is parsed.
pub const MAX_QUESTIONS: u16 = 25;

/// Opcode: standard query.
pub const OPCODE_QUERY: u8 = 0;
/// Opcode: NOTIFY (RFC 1996).
pub const OPCODE_NOTIFY: u8 = 4;
/// Opcode: UPDATE (RFC 2136).
pub const OPCODE_UPDATE: u8 = 5;

/// Class NONE (RFC 2136).
pub const CLASS_NONE: u16 = 254;
/// Class ANY / QTYPE `*`.
pub const CLASS_ANY: u16 = 255;
/// RR type SOA.
pub const TYPE_SOA: u16 = 6;

/// The fixed header, decoded as Zeek's `DNS_MsgInfo` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// QR: set in responses.
    pub qr: bool,
    /// Opcode (4 bits).
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Zeek's `Z`: the three bits between RA and RCODE (RFC 1035's Z, which now holds AD and CD).
    pub z: u8,
    /// Authentic data (RFC 4035).
    pub ad: bool,
    /// Checking disabled (RFC 4035).
    pub cd: bool,
    /// Response code (4 bits).
    pub rcode: u8,
    /// QDCOUNT (ZOCOUNT in updates).
    pub qdcount: u16,
    /// ANCOUNT (PRCOUNT in updates).
    pub ancount: u16,
    /// NSCOUNT (UPCOUNT in updates).
    pub nscount: u16,
    /// ARCOUNT.
    pub arcount: u16,
}

impl Header {
    /// Decodes the first [`HEADER_LEN`] bytes; `None` when there are fewer.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let h = bytes.get(..HEADER_LEN)?;
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let flags = word(2);
        Some(Header {
            id: word(0),
            qr: flags & 0x8000 != 0,
            opcode: ((flags & 0x7800) >> 11) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            z: ((flags & 0x0070) >> 4) as u8,
            ad: flags & 0x0020 != 0,
            cd: flags & 0x0010 != 0,
            rcode: (flags & 0x000f) as u8,
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// Whether this is a dynamic update (opcode 5), whose sections are zone, prerequisites,
    /// updates and additional records.
    pub fn is_dynamic_update(&self) -> bool {
        self.opcode == OPCODE_UPDATE
    }

    /// Whether Zeek analyses this opcode at all (query, notify, update).
    pub fn is_tracked_opcode(&self) -> bool {
        matches!(self.opcode, OPCODE_QUERY | OPCODE_NOTIFY | OPCODE_UPDATE)
    }
}

/// The section a resource record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Answer section.
    Answer,
    /// Authority section.
    Authority,
    /// Additional section.
    Additional,
    /// Prerequisite section of a dynamic update (the answer section's place).
    Prerequisite,
    /// Update section of a dynamic update (the authority section's place).
    Update,
}

/// RR types with a parser (Zeek's `RR_Type`); everything else is [`RData::Unknown`].
pub mod rr_type {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Well-known services.
    pub const WKS: u16 = 11;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Host information.
    pub const HINFO: u16 = 13;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text strings.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Location (RFC 1876).
    pub const LOC: u16 = 29;
    /// NetBIOS name (RFC 1002); NIMLOC in IANA's registry.
    pub const NBS: u16 = 32;
    /// Service location.
    pub const SRV: u16 = 33;
    /// Naming authority pointer.
    pub const NAPTR: u16 = 35;
    /// IPv6 address with indirection (RFC 2874).
    pub const A6: u16 = 38;
    /// EDNS OPT pseudo-record.
    pub const OPT: u16 = 41;
    /// Delegation signer.
    pub const DS: u16 = 43;
    /// SSH key fingerprint.
    pub const SSHFP: u16 = 44;
    /// DNSSEC signature.
    pub const RRSIG: u16 = 46;
    /// Next secure.
    pub const NSEC: u16 = 47;
    /// DNSSEC key.
    pub const DNSKEY: u16 = 48;
    /// Hashed next secure.
    pub const NSEC3: u16 = 50;
    /// NSEC3 parameters.
    pub const NSEC3PARAM: u16 = 51;
    /// Service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS service binding.
    pub const HTTPS: u16 = 65;
    /// Sender policy framework.
    pub const SPF: u16 = 99;
    /// Transaction key.
    pub const TKEY: u16 = 249;
    /// Transaction signature.
    pub const TSIG: u16 = 250;
    /// Certification authority authorization.
    pub const CAA: u16 = 257;
    /// BIND 9 private signing-state record.
    pub const BINDS: u16 = 65534;
}

/// A sequence of complete character-strings (`<len><bytes>`), as TXT and SPF carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharStrings<'a>(pub(crate) &'a [u8]);

impl<'a> CharStrings<'a> {
    /// Iterates over the strings.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let (&n, tail) = rest.split_first()?;
            let n = usize::from(n).min(tail.len());
            let (s, tail) = tail.split_at(n);
            rest = tail;
            Some(s)
        })
    }
}

/// Decoded RDATA. Names are lowercased presentation bytes (see `labels.rs`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RData<'a> {
    /// A.
    A(Ipv4Addr),
    /// AAAA (16 bytes read whatever RDLENGTH says, as Zeek does).
    Aaaa(Ipv6Addr),
    /// A6, read like AAAA.
    A6(Ipv6Addr),
    /// NS.
    Ns(&'a [u8]),
    /// CNAME.
    Cname(&'a [u8]),
    /// PTR.
    Ptr(&'a [u8]),
    /// SOA.
    Soa {
        /// Primary server.
        mname: &'a [u8],
        /// Responsible mailbox.
        rname: &'a [u8],
        /// Serial.
        serial: u32,
        /// Refresh, seconds.
        refresh: u32,
        /// Retry, seconds.
        retry: u32,
        /// Expire, seconds.
        expire: u32,
        /// Minimum / negative TTL, seconds.
        minimum: u32,
    },
    /// WKS: Zeek reads nothing of it (and leaves its RDATA for the next record to trip on).
    Wks,
    /// MX.
    Mx {
        /// Preference.
        preference: u16,
        /// Exchange.
        exchange: &'a [u8],
    },
    /// TXT.
    Txt(CharStrings<'a>),
    /// SPF.
    Spf(CharStrings<'a>),
    /// SRV.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target.
        target: &'a [u8],
    },
    /// NAPTR.
    Naptr {
        /// Order.
        order: u16,
        /// Preference.
        preference: u16,
        /// Flags.
        flags: &'a [u8],
        /// Services.
        services: &'a [u8],
        /// Regular expression.
        regexp: &'a [u8],
        /// Replacement name, case as sent (except compressed parts).
        replacement: &'a [u8],
    },
    /// OPT (EDNS).
    Opt {
        /// Requestor's UDP payload size (the CLASS field).
        udp_size: u16,
        /// Extended RCODE high bits.
        ext_rcode: u8,
        /// EDNS version.
        version: u8,
        /// DNSSEC OK and the rest of the flags.
        flags: u16,
        /// Options, undecoded.
        options: &'a [u8],
    },
    /// TSIG.
    Tsig {
        /// Algorithm name.
        algorithm: &'a [u8],
        /// Time signed, seconds (48-bit field: high 32 bits read as seconds, as Zeek does).
        time_signed: u32,
        /// Fudge, seconds.
        fudge: u16,
        /// MAC.
        mac: &'a [u8],
        /// Original id.
        original_id: u16,
        /// Error.
        error: u16,
    },
    /// RRSIG.
    Rrsig {
        /// Type covered.
        type_covered: u16,
        /// Algorithm.
        algorithm: u8,
        /// Labels.
        labels: u8,
        /// Original TTL.
        original_ttl: u32,
        /// Signature expiration (seconds since the epoch).
        expiration: u32,
        /// Signature inception.
        inception: u32,
        /// Key tag.
        key_tag: u16,
        /// Signer's name.
        signer: &'a [u8],
        /// Signature.
        signature: &'a [u8],
    },
    /// DNSKEY.
    Dnskey {
        /// Flags.
        flags: u16,
        /// Protocol (3).
        protocol: u8,
        /// Algorithm.
        algorithm: u8,
        /// Public key.
        public_key: &'a [u8],
    },
    /// NSEC.
    Nsec {
        /// Next owner name.
        next: &'a [u8],
        /// Type bitmap blocks as read.
        bitmaps: &'a [u8],
    },
    /// NSEC3.
    Nsec3 {
        /// Hash algorithm.
        hash_algorithm: u8,
        /// Flags.
        flags: u8,
        /// Iterations.
        iterations: u16,
        /// Salt.
        salt: &'a [u8],
        /// Next hashed owner name.
        next_hashed: &'a [u8],
        /// Type bitmap blocks as read.
        bitmaps: &'a [u8],
    },
    /// NSEC3PARAM.
    Nsec3Param {
        /// Hash algorithm.
        hash_algorithm: u8,
        /// Flags.
        flags: u8,
        /// Iterations.
        iterations: u16,
        /// Salt.
        salt: &'a [u8],
    },
    /// DS.
    Ds {
        /// Key tag.
        key_tag: u16,
        /// Algorithm.
        algorithm: u8,
        /// Digest type.
        digest_type: u8,
        /// Digest.
        digest: &'a [u8],
    },
    /// BIND 9 signing-state private record (type 65534).
    Binds {
        /// Algorithm.
        algorithm: u8,
        /// Key id.
        key_id: u16,
        /// Removal flag.
        removal: u8,
        /// Complete flag.
        complete: u8,
    },
    /// SSHFP.
    Sshfp {
        /// Algorithm.
        algorithm: u8,
        /// Fingerprint type.
        fp_type: u8,
        /// Fingerprint.
        fingerprint: &'a [u8],
    },
    /// LOC (only the fields Zeek keeps; all raw).
    Loc {
        /// Version.
        version: u8,
        /// Size.
        size: u8,
        /// Horizontal precision.
        horiz_pre: u8,
        /// Vertical precision.
        vert_pre: u8,
        /// Latitude.
        latitude: u32,
        /// Longitude.
        longitude: u32,
        /// Altitude.
        altitude: u32,
    },
    /// SVCB or HTTPS.
    Svcb {
        /// Whether the type was HTTPS.
        https: bool,
        /// SvcPriority.
        priority: u16,
        /// Target name (`.` for the root), case as sent except compressed parts.
        target: &'a [u8],
        /// SvcParams as consumed.
        params: &'a [u8],
    },
    /// A dynamic-update prerequisite (RDATA not read).
    Prerequisite,
    /// A dynamic-update "delete" (class ANY, TTL 0, no RDATA).
    UpdateDelete,
    /// A type Zeek's base scripts skip unread (HINFO, CAA, TKEY, NetBIOS NB): RDLENGTH bytes.
    Skipped(&'a [u8]),
    /// A type without a parser: RDLENGTH bytes; Zeek logs `<unknown type=N>`.
    Unknown(&'a [u8]),
}

/// Zeek's `(data, len)` pair: a position in the message; reads past the end yield 0 and do not
/// move, as `ExtractShort`/`ExtractLong` do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(msg: &'a [u8], pos: usize) -> Self {
        Cursor { msg, pos: pos.min(msg.len()) }
    }
    pub(crate) fn message(&self) -> &'a [u8] {
        self.msg
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.msg.len());
    }
    /// Bytes left to the end of the message (Zeek's `len`).
    pub(crate) fn remaining(&self) -> usize {
        self.msg.len() - self.pos
    }
    /// `ExtractByte`.
    pub(crate) fn u8(&mut self) -> u8 {
        match self.msg.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }
    /// `ExtractShort`.
    pub(crate) fn u16(&mut self) -> u16 {
        match self.msg.get(self.pos..self.pos + 2) {
            Some(b) => {
                self.pos += 2;
                u16::from_be_bytes([b[0], b[1]])
            }
            None => 0,
        }
    }
    /// `ExtractLong`.
    pub(crate) fn u32(&mut self) -> u32 {
        match self.msg.get(self.pos..self.pos + 4) {
            Some(b) => {
                self.pos += 4;
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            }
            None => 0,
        }
    }
    /// `ExtractStream`: up to `n` bytes (negative counts as 0), fewer at the end.
    pub(crate) fn take(&mut self, n: i64) -> &'a [u8] {
        let n = usize::try_from(n.max(0)).unwrap_or(0).min(self.remaining());
        let s = &self.msg[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    /// `data += n; len -= n` where Zeek has checked `n <= len`; saturates otherwise.
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.msg.len());
    }
}
