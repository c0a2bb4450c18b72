//! What a query name looks like: its registered domain (through the Public Suffix List bundled by
//! the `psl` crate), the part below it, and whether that part looks like encoded data.
//!
//! Tunnel tools put their payload in the labels below a domain they control, encoded so that it
//! survives resolvers: base32 (iodine's default), base64 and base64u (iodine, dns2tcp), hex
//! (dnscat2), base128 and raw (iodine: bytes above 0x7f, which the DNS renderer writes as
//! `\xNN`). [`Shape`] measures what separates those from names people and CDNs make: length,
//! character entropy, and how often letters and digits alternate.

/// A name split at its registered domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The registered domain (`example.co.uk`).
    pub(crate) registered: &'a str,
    /// The labels below it, without the joining dot (empty for the registered domain itself).
    pub(crate) sub: &'a str,
}

/// Splits a query name (as rendered, without a trailing dot). `None` for names with no
/// registered domain (a public suffix, a single label) and for names the detectors leave alone:
/// reverse lookups (`.arpa`: long hex nibble names by design) and link-local names (`.local`).
pub(crate) fn split(name: &str) -> Option<Split<'_>> {
    let name = name.trim_end_matches('.');
    let lower_tail =
        |suffix: &str| name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    if lower_tail(".arpa") || lower_tail(".local") || !name.is_char_boundary(name.len()) {
        return None;
    }
    let registered = psl::domain_str(name)?;
    let sub = name[..name.len() - registered.len()].trim_end_matches('.');
    Some(Split { registered, sub })
}

/// Shorter subdomains are never judged encoded: too little to tell, and CDN and service names
/// are mostly shorter.
pub(crate) const MIN_ENCODED_LEN: usize = 16;
/// Shannon entropy (bits per character) above which a long subdomain looks random. Random
/// base32 of 60 characters measures about 4.6, base64 about 5.2; hostnames with words about
/// 3.2 to 3.8.
const RANDOM_ENTROPY: f64 = 4.0;
/// Letter/digit alternations per character above which a subdomain looks encoded: about 0.3 for
/// random base32, 0.45 for hex; words with a number in them stay under 0.1.
const ENCODED_ALTERNATION: f64 = 0.15;
/// A run of this many identical characters: how base32 and base64 encode zero bytes (padding,
/// counters, empty fields), which hostnames never contain.
const ENCODED_RUN: usize = 8;

/// Measurements of a subdomain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    /// Characters, dots excluded.
    pub(crate) len: usize,
    /// Shannon entropy of its characters, bits per character.
    pub(crate) entropy: f64,
    /// It holds bytes outside printable ASCII (rendered `\xNN`: base128 or raw encodings), or
    /// is long and patterned the way encoders write (letters and digits alternating often, long
    /// runs of one character).
    pub(crate) binary: bool,
}

impl Shape {
    /// Measures `sub`.
    pub(crate) fn of(sub: &str) -> Shape {
        let mut counts = [0u32; 256];
        let mut len = 0usize;
        let mut alternations = 0usize;
        let mut prev_digit: Option<bool> = None;
        let bytes = sub.as_bytes();
        let mut binary = false;
        let mut run = 0usize;
        let mut longest_run = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            run = if i > 0 && bytes[i - 1] == b { run + 1 } else { 1 };
            if b == b'.' {
                prev_digit = None;
                continue;
            }
            longest_run = longest_run.max(run);
            if b == b'\\' && bytes.get(i + 1) == Some(&b'x') || b >= 0x80 {
                binary = true;
            }
            counts[usize::from(b)] += 1;
            len += 1;
            if b.is_ascii_alphanumeric() {
                let digit = b.is_ascii_digit();
                if prev_digit.is_some_and(|p| p != digit) {
                    alternations += 1;
                }
                prev_digit = Some(digit);
            }
        }
        let n = len.max(1) as f64;
        let entropy = counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum();
        let alternation = alternations as f64 / n;
        let patterned = alternation >= ENCODED_ALTERNATION || longest_run >= ENCODED_RUN;
        Shape { len, entropy, binary: binary || (len >= MIN_ENCODED_LEN && patterned) }
    }

    /// Whether the subdomain looks like encoded data.
    pub(crate) fn encoded(&self) -> bool {
        self.len >= MIN_ENCODED_LEN && (self.binary || self.entropy >= RANDOM_ENTROPY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_registered_domain() {
        assert_eq!(split("www.example.co.uk"), Some(Split { registered: "example.co.uk", sub: "www" }));
        assert_eq!(split("example.com."), Some(Split { registered: "example.com", sub: "" }));
        // A top-level domain the list does not know still splits (the list's default rule).
        assert_eq!(split("abc.def.example.attack").map(|s| s.registered), Some("example.attack"));
        assert_eq!(split("com"), None);
        assert_eq!(split("4.3.2.1.in-addr.arpa"), None);
        assert_eq!(split("printer.local"), None);
    }

    #[test]
    fn tunnel_labels_look_encoded_and_hostnames_do_not() {
        // Labels from the shared captures: iodine base32 and base64, dnscat2 hex, dns2tcp base64,
        // iodine base128 (rendered with \x escapes).
        for encoded in [
            "paaaaaaaab3xwmz2ng4ytenbqgq3dmm2d",
            "0ebgAAAb0Y6vuHQsaMlYRWmEOW2c9JBdVWzn5sO4Ga7lh6j",
            "3f0b01b7c2a90000000000000b61cd8a3ad6",
            "hvmaaaavcgiaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "hvmaaaapcdgty2jjlgflcze5mi1jymmsywvzmju2lwniyyxhcmnmb3vylhjpam5",
            "0iaj\\xc3\\xa0\\xc9\\xb5m\\xe8\\xe4k\\xdaa\\xc4",
        ] {
            assert!(Shape::of(encoded).encoded(), "{encoded}: {:?}", Shape::of(encoded));
        }
        for plain in [
            "www",
            "mail.corp",
            "login.microsoftonline",
            "settings-win.data",
            "ec2-54-12-1-9.compute-1",
            "clients2.google",
            "safebrowsing.googleapis",
            "internal-my-loadbalancer-west",
        ] {
            assert!(!Shape::of(plain).encoded(), "{plain}: {:?}", Shape::of(plain));
        }
    }
}
