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

/// Character classes for [`Shape::of`].
const OTHER: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const DOT: u8 = 4;
const CLASS: [u8; 256] = {
    let mut classes = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        classes[i] = match b {
            b'a'..=b'z' | b'A'..=b'Z' => LETTER,
            b'0'..=b'9' => DIGIT,
            b'.' => DOT,
            _ => OTHER,
        };
        i += 1;
    }
    classes
};

/// `c · log2(c)` for every count a name can give a character (names are at most 255 bytes, as
/// rendered they can be longer: counts saturate at 255), computed once.
fn c_log2_c(c: u8) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| core::array::from_fn(|c| if c == 0 { 0.0 } else { c as f64 * (c as f64).log2() }));
    table[usize::from(c)]
}

impl Shape {
    /// Measures `sub`: one pass over its bytes, then one term per distinct character
    /// (`H = log2 n − Σ c·log2 c / n`).
    pub(crate) fn of(sub: &str) -> Shape {
        let bytes = sub.as_bytes();
        if bytes.len() < MIN_ENCODED_LEN {
            // Too short to be judged (dots only make it shorter): a poll, a hostname.
            return Shape { len: bytes.iter().filter(|&&b| b != b'.').count(), entropy: 0.0, binary: false };
        }
        let mut counts = [0u8; 256];
        let mut distinct = [0u8; 256];
        let mut n_distinct = 0usize;
        let (mut len, mut alternations, mut run, mut longest_run) = (0usize, 0usize, 0usize, 0usize);
        // The class of the last letter or digit since the last dot (`OTHER`: none yet).
        let mut prev = 0u8;
        let mut last = u16::MAX;
        let mut binary = false;
        // No branch on the bytes (tunnel labels make any such branch a coin toss): each step is
        // table lookups, selects and adds. Dots only end runs of alternation.
        for (i, &b) in bytes.iter().enumerate() {
            run = if last == u16::from(b) { run + 1 } else { 1 };
            last = u16::from(b);
            let class = CLASS[usize::from(b)];
            let counted = usize::from(class != DOT);
            longest_run = longest_run.max(run * counted);
            binary |= (b >= 0x80) | ((b == b'\\') & (bytes.get(i + 1) == Some(&b'x')));
            let count = &mut counts[usize::from(b)];
            // At most 255 characters other than the dot are distinct, so this stays in bounds.
            distinct[n_distinct] = b;
            n_distinct += usize::from(*count == 0) & counted;
            *count = count.saturating_add(counted as u8);
            len += counted;
            alternations += usize::from((class | prev) == (LETTER | DIGIT));
            prev = (class & (LETTER | DIGIT)) | if class == OTHER { prev } else { 0 };
        }
        if len < MIN_ENCODED_LEN {
            // Never judged encoded: the rest does not matter.
            return Shape { len, entropy: 0.0, binary: false };
        }
        let n = len as f64;
        let sum: f64 = distinct[..n_distinct].iter().map(|&b| c_log2_c(counts[usize::from(b)])).sum();
        let entropy = n.log2() - sum / n;
        let alternation = alternations as f64 / n;
        let patterned = alternation >= ENCODED_ALTERNATION || longest_run >= ENCODED_RUN;
        Shape { len, entropy, binary: binary || patterned }
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
    fn entropy_is_shannons() {
        // 32 distinct characters once each: 5 bits; two characters half each: 1 bit.
        assert!((Shape::of("abcdefghijklmnopqrstuvwxyz234567").entropy - 5.0).abs() < 1e-9);
        assert!((Shape::of("abababababababababab").entropy - 1.0).abs() < 1e-9);
    }

    #[test]
    fn dots_end_alternations_and_runs() {
        // Letters and digits alternating inside labels look encoded; across dots they do not.
        assert!(Shape::of("a1a1a1a1a1a1a1a1").encoded());
        assert!(!Shape::of("a.1.a.1.a.1.a.1.a.1.a.1.a.1.a.1").encoded());
        // A run of eight looks encoded; four and four across a dot do not.
        assert!(Shape::of("kkkkkkkkmailhost").encoded());
        assert!(!Shape::of("kkkk.kkkk.kkkk.kkkk").encoded());
        assert_eq!(Shape::of("kkkk.kkkk.kkkk.kkkk").len, 16);
        // Escaped bytes and raw high bytes are binary; a backslash alone is not.
        assert!(Shape::of("mailhost\\xe6mailhost").binary);
        assert!(Shape::of("mailhostémailhost").binary);
        assert!(!Shape::of("mailhost\\\\mailhost").binary);
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
