//! Names Zeek gives to DNS numbers in `dns.log`: `qtype_name`, `qclass_name`, `rcode_name`,
//! `opcode_name`.
//!
//! The tables follow `scripts/base/protocols/dns/consts.zeek` (zeek/zeek) entry for entry,
//! including its `&default` functions for numbers without a name (`query-N`, `qclass-N`,
//! `rcode-N`, `opcode-N`). NetBIOS opcode names are not here: port 137 is not analysed as DNS by
//! this crate (see `docs/dns.md`).
//!
//! The `*_name` functions return a [`NameText`]: the table's `&'static str`, or the default text
//! built inline, so logging a record never allocates for its names.

use core::fmt;
use core::ops::Deref;

/// Zeek's name for a number: a table entry, or the `&default` text (`query-N`, `qclass-N`,
/// `rcode-N`, `opcode-N`) built without allocating. Dereferences to `str`.
#[derive(Clone, Copy)]
pub struct NameText(Repr);

#[derive(Clone, Copy)]
enum Repr {
    Table(&'static str),
    /// `prefix-N`: at most 7 + 5 bytes.
    Default {
        buf: [u8; 12],
        len: u8,
    },
}

impl NameText {
    /// `prefix` (at most 7 bytes) and `n` in decimal.
    fn default_text(prefix: &'static str, n: u16) -> Self {
        let mut buf = [0u8; 12];
        let p = prefix.len().min(7);
        buf[..p].copy_from_slice(&prefix.as_bytes()[..p]);
        let mut scratch = itoa::Buffer::new();
        let digits = scratch.format(n).as_bytes();
        let d = digits.len();
        buf[p..p + d].copy_from_slice(digits);
        NameText(Repr::Default { buf, len: (p + d) as u8 })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Table(s) => s,
            // ASCII by construction, so this never falls back.
            Repr::Default { buf, len } => core::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or_default(),
        }
    }
}

impl Deref for NameText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for NameText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for NameText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NameText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for NameText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for NameText {}

impl PartialEq<str> for NameText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for NameText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `DNS::query_types`: the name of an RR/query type, `None` when Zeek uses its default.
pub fn qtype_table(qtype: u16) -> Option<&'static str> {
    Some(match qtype {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        56 => "NINFO",
        57 => "RKEY",
        58 => "TALINK",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "*",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        65281 => "WINS",
        65282 => "WINS-R",
        65422 => "XPF",
        65521 => "INTEGRITY",
        _ => return None,
    })
}

/// `DNS::query_types[qtype]` with its default: `query-N` for unnamed types.
pub fn qtype_name(qtype: u16) -> NameText {
    match qtype_table(qtype) {
        Some(name) => NameText(Repr::Table(name)),
        None => NameText::default_text("query-", qtype),
    }
}

/// `DNS::classes`: the name of a class, `None` when Zeek uses its default.
pub fn qclass_table(qclass: u16) -> Option<&'static str> {
    Some(match qclass {
        1 => "C_INTERNET",
        2 => "C_CSNET",
        3 => "C_CHAOS",
        4 => "C_HESIOD",
        254 => "C_NONE",
        255 => "C_ANY",
        _ => return None,
    })
}

/// `DNS::classes[qclass]` with its default: `qclass-N` for unnamed classes.
pub fn qclass_name(qclass: u16) -> NameText {
    match qclass_table(qclass) {
        Some(name) => NameText(Repr::Table(name)),
        None => NameText::default_text("qclass-", qclass),
    }
}

/// `DNS::base_errors[rcode]` with its default `rcode-N`. The header carries 4 bits; Zeek does
/// not merge the EDNS extended rcode into `dns.log`, so only 0–15 occur in practice.
pub fn rcode_name(rcode: u16) -> NameText {
    NameText(Repr::Table(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSet",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "unassigned-11",
        12 => "unassigned-12",
        13 => "unassigned-13",
        14 => "unassigned-14",
        15 => "unassigned-15",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        3842 => "BADSIG",
        _ => return NameText::default_text("rcode-", rcode),
    }))
}

/// `DNS::opcodes[opcode]` with its default `opcode-N`.
pub fn opcode_name(opcode: u8) -> NameText {
    NameText(Repr::Table(match opcode {
        0 => "query",
        1 => "iquery",
        2 => "server-status",
        4 => "notify",
        5 => "dynamic-update",
        6 => "dso",
        _ => return NameText::default_text("opcode-", u16::from(opcode)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_consts_zeek() {
        assert_eq!(qtype_name(65534), "query-65534");
        assert_eq!(qtype_name(255), "*");
        assert_eq!(qtype_name(30), "NXT");
        assert_eq!(qtype_name(54), "query-54");
        assert_eq!(qclass_name(1), "C_INTERNET");
        assert_eq!(qclass_name(32769), "qclass-32769");
        assert_eq!(rcode_name(8), "NXRRSet");
        assert_eq!(rcode_name(24), "rcode-24");
        assert_eq!(opcode_name(5), "dynamic-update");
        assert_eq!(opcode_name(3), "opcode-3");
        assert_eq!(qtype_name(65535).as_str(), "query-65535");
        assert_eq!(qclass_name(65535).to_string(), "qclass-65535");
        assert_eq!(rcode_name(65535), "rcode-65535");
        assert_eq!(opcode_name(255), "opcode-255");
        assert_eq!(qtype_name(0), "query-0");
        assert_eq!(format!("{:?}", qtype_name(1)), "\"A\"");
    }
}
