//! Reading a feeds directory into an [`Intel`] set.
//!
//! Each regular file of the directory (not its subdirectories) is one feed, named by its file
//! name, read by its extension:
//!
//! | extension | format |
//! |---|---|
//! | `.txt`, `.list` | one indicator per line: a domain, an address, a CIDR network or a URL; `#` starts a comment |
//! | `.csv` | a header row naming an `indicator` (or `value`, `ioc`) column; optional `type` (domain, ip, cidr, url), `description`, `confidence` (0–100) columns |
//! | `.json` | a STIX 2.1 bundle; its `indicator` objects with a supported pattern ([`super::stix`]); revoked or expired ones are skipped |
//! | `.sig` | the detached signature of the file of the same name without `.sig` |
//!
//! **Signatures.** A STIX bundle is loaded only with a valid ed25519 signature over its exact
//! bytes, in `NAME.json.sig` (the 64 signature bytes, base64), made by one of
//! [`IntelConfig::public_keys`]. An unsigned or badly signed bundle is refused and reported,
//! unless [`IntelConfig::dangerous_allow_unsigned_bundles`] is set. Plain lists and CSV files are
//! the site's own, trusted as files in the configuration directory are.
//!
//! A feed that cannot be read is refused whole and reported; the others still load.

use super::stix;
use super::{Indicator, IndicatorKind, Intel};
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Threat-intelligence settings (the `[detect.intel]` section).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IntelConfig {
    /// The feeds directory; none (the default) means no feeds.
    pub dir: Option<PathBuf>,
    /// How often the directory is checked for changed feeds. Default "30s".
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
    /// ed25519 public keys (32 bytes, base64) whose signatures STIX bundles are accepted with.
    /// Default none.
    pub public_keys: Vec<String>,
    /// Load STIX bundles without a valid signature. Default false: anyone who can write to the
    /// feeds directory could otherwise make the sensor trust (or ignore) what they like.
    pub dangerous_allow_unsigned_bundles: bool,
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            dir: None,
            reload_interval: Duration::from_secs(30),
            public_keys: Vec::new(),
            dangerous_allow_unsigned_bundles: false,
        }
    }
}

/// Parses a base64 ed25519 public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("public key `{text}`: not base64: {e}"))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| format!("public key `{text}`: not 32 bytes (an ed25519 public key)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public key `{text}`: {e}"))
}

/// What one feed gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// The file name.
    pub name: String,
    /// Indicators loaded (one given again, here or in another feed, counts here and in
    /// [`Intel::duplicates`]).
    pub indicators: u64,
    /// Entries skipped: unparsable lines, unsupported STIX patterns, revoked or expired
    /// indicators.
    pub skipped: u64,
    /// Why the whole feed was refused, if it was.
    pub refused: Option<String>,
}

/// What a load gave, per feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// One per file looked at, in name order.
    pub feeds: Vec<FeedReport>,
}

impl LoadReport {
    /// Indicators loaded from all feeds.
    pub fn indicators(&self) -> u64 {
        self.feeds.iter().map(|f| f.indicators).sum()
    }

    /// Feeds refused.
    pub fn refused(&self) -> impl Iterator<Item = &FeedReport> {
        self.feeds.iter().filter(|f| f.refused.is_some())
    }
}

/// Loads every feed of `cfg.dir`. A directory that cannot be listed is an error; a bad feed is
/// refused and reported.
pub fn load(cfg: &IntelConfig) -> Result<(Intel, LoadReport), String> {
    let mut intel = Intel::default();
    let mut report = LoadReport::default();
    let Some(dir) = &cfg.dir else { return Ok((intel, report)) };
    let keys = cfg.public_keys.iter().map(|k| parse_public_key(k)).collect::<Result<Vec<_>, _>>()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "sig" || name.starts_with('.') {
            continue;
        }
        let feed: Arc<str> = name.as_str().into();
        let mut f = FeedReport { name, ..FeedReport::default() };
        let result = match ext.as_str() {
            "txt" | "list" => read(&path).map(|t| plain(&t, &feed)),
            "csv" => read(&path).and_then(|t| csv_feed(&t, &feed)),
            "json" => read(&path).and_then(|t| {
                check_signature(&path, &t, &keys, cfg.dangerous_allow_unsigned_bundles)?;
                stix_bundle(&t, &feed, SystemTime::now())
            }),
            _ => Err("unknown extension (expected .txt, .list, .csv or .json)".to_owned()),
        };
        match result {
            Ok(entries) => {
                f.skipped = entries.skipped;
                for (ind, key) in entries.indicators {
                    if intel.add(ind, &key) {
                        f.indicators += 1;
                    } else {
                        f.skipped += 1;
                    }
                }
            }
            Err(reason) => f.refused = Some(reason),
        }
        report.feeds.push(f);
    }
    Ok((intel, report))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

/// Indicators of one feed, each with its lookup key, and how many entries were skipped.
#[derive(Default)]
struct Entries {
    indicators: Vec<(Indicator, String)>,
    skipped: u64,
}

impl Entries {
    fn push(
        &mut self,
        feed: &Arc<str>,
        value: &str,
        kind: Option<IndicatorKind>,
        description: Option<String>,
        confidence: Option<u8>,
    ) {
        match classify(value, kind) {
            Some((kind, key)) => {
                let ind = Indicator { feed: feed.clone(), value: value.to_owned(), kind, description, confidence };
                self.indicators.push((ind, key));
            }
            None => self.skipped += 1,
        }
    }
}

/// What `value` is (checked against `kind` when the feed says), and its lookup key: the address,
/// the network, or the lower-case name (a URL's host).
fn classify(value: &str, kind: Option<IndicatorKind>) -> Option<(IndicatorKind, String)> {
    let value = value.trim();
    let guessed = if value.contains("://") {
        IndicatorKind::Url
    } else if value.parse::<core::net::IpAddr>().is_ok() {
        IndicatorKind::Ip
    } else if value.parse::<ipnet::IpNet>().is_ok() {
        IndicatorKind::Cidr
    } else {
        IndicatorKind::Domain
    };
    let kind = kind.unwrap_or(guessed);
    let key = match kind {
        IndicatorKind::Ip | IndicatorKind::Cidr if kind == guessed => value.to_owned(),
        IndicatorKind::Domain if kind == guessed => domain_key(value)?,
        IndicatorKind::Url => {
            let host = value.split_once("://")?.1.split(['/', '?', '#']).next()?;
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            let host = host.trim_start_matches('[').split(']').next()?;
            // `host:port`: an IPv6 address has colons too, and was in brackets.
            let host = if host.parse::<core::net::IpAddr>().is_ok() { host } else { host.split(':').next()? };
            return match host.parse::<core::net::IpAddr>() {
                Ok(_) => Some((IndicatorKind::Ip, host.to_owned())),
                Err(_) => Some((IndicatorKind::Url, domain_key(host)?)),
            };
        }
        _ => return None,
    };
    Some((kind, key))
}

/// A domain indicator's key: lower case, without `*.` and the trailing dot; `None` if it is not
/// a plausible name.
fn domain_key(value: &str) -> Option<String> {
    let name = value.trim_start_matches("*.").trim_end_matches('.').to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    plausible.then_some(name)
}

fn plain(text: &str, feed: &Arc<str>) -> Entries {
    let mut entries = Entries::default();
    for line in text.lines() {
        let value = line.split('#').next().unwrap_or("").trim();
        if !value.is_empty() {
            entries.push(feed, value, None, None, None);
        }
    }
    entries
}

fn csv_feed(text: &str, feed: &Arc<str>) -> Result<Entries, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let value_at = column(&["indicator", "value", "ioc"])
        .ok_or_else(|| format!("no `indicator` (or `value`, `ioc`) column in the header {headers:?}"))?;
    let (type_at, desc_at, conf_at) = (column(&["type"]), column(&["description", "comment"]), column(&["confidence"]));
    let mut entries = Entries::default();
    for row in reader.records() {
        let Ok(row) = row else {
            entries.skipped += 1;
            continue;
        };
        let Some(value) = row.get(value_at).filter(|v| !v.is_empty()) else {
            entries.skipped += 1;
            continue;
        };
        let kind = match type_at.and_then(|i| row.get(i)).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => None,
            Some("domain" | "domain-name" | "hostname") => Some(IndicatorKind::Domain),
            Some("ip" | "ipv4" | "ipv6" | "ipv4-addr" | "ipv6-addr") => Some(IndicatorKind::Ip),
            Some("cidr" | "network" | "net") => Some(IndicatorKind::Cidr),
            Some("url") => Some(IndicatorKind::Url),
            Some(_) => {
                entries.skipped += 1;
                continue;
            }
        };
        let description = desc_at.and_then(|i| row.get(i)).filter(|d| !d.is_empty()).map(str::to_owned);
        let confidence = conf_at.and_then(|i| row.get(i)).and_then(|c| c.parse::<u8>().ok()).map(|c| c.min(100));
        entries.push(feed, value, kind, description, confidence);
    }
    Ok(entries)
}

/// Refuses a bundle without a valid signature by one of `keys` (unless allowed).
fn check_signature(path: &Path, bytes: &str, keys: &[VerifyingKey], allow_unsigned: bool) -> Result<(), String> {
    let mut sig_path = path.as_os_str().to_owned();
    sig_path.push(".sig");
    let sig_text = match std::fs::read_to_string(&sig_path) {
        Ok(t) => t,
        Err(_) if allow_unsigned => return Ok(()),
        Err(_) => return Err("unsigned STIX bundle (no .sig file beside it) refused".to_owned()),
    };
    let verdict = (|| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sig_text.trim())
            .map_err(|e| format!("signature is not base64: {e}"))?;
        let raw: [u8; 64] = raw.try_into().map_err(|_| "signature is not 64 bytes".to_owned())?;
        let sig = Signature::from_bytes(&raw);
        if keys.is_empty() {
            return Err("no public key configured to check its signature".to_owned());
        }
        match keys.iter().any(|k| k.verify_strict(bytes.as_bytes(), &sig).is_ok()) {
            true => Ok(()),
            false => Err("signature does not verify with any configured public key".to_owned()),
        }
    })();
    match verdict {
        Err(_) if allow_unsigned => Ok(()),
        other => other,
    }
}

#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    objects: Vec<serde_json::Value>,
}

fn stix_bundle(text: &str, feed: &Arc<str>, now: SystemTime) -> Result<Entries, String> {
    let bundle: Bundle = serde_json::from_str(text).map_err(|e| format!("not a STIX bundle: {e}"))?;
    if bundle.kind != "bundle" {
        return Err(format!("not a STIX bundle: type `{}`", bundle.kind));
    }
    let mut entries = Entries::default();
    for obj in bundle.objects.iter().filter(|o| o["type"] == "indicator") {
        let expired = obj["valid_until"]
            .as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .is_some_and(|until| until <= now);
        let usable = obj["pattern_type"] == "stix" && obj["revoked"] != true && !expired;
        let comparisons = obj["pattern"].as_str().map(stix::parse);
        let (true, Some(Ok(comparisons))) = (usable, comparisons) else {
            entries.skipped += 1;
            continue;
        };
        let description = obj["name"].as_str().or(obj["description"].as_str()).map(str::to_owned);
        let confidence = obj["confidence"].as_u64().map(|c| c.min(100) as u8);
        for c in comparisons {
            let kind = match c.object.as_str() {
                "domain-name" => Some(IndicatorKind::Domain),
                "url" => Some(IndicatorKind::Url),
                // An address or a network: told apart by the value.
                _ => None,
            };
            entries.push(feed, &c.value, kind, description.clone(), confidence);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--1","objects":[
        {"type":"indicator","spec_version":"2.1","id":"indicator--1","pattern_type":"stix",
         "pattern":"[domain-name:value = 'c2.evil.example']","name":"C2 of a test family","confidence":90,
         "valid_from":"2026-01-01T00:00:00Z"},
        {"type":"indicator","spec_version":"2.1","id":"indicator--2","pattern_type":"stix",
         "pattern":"[ipv4-addr:value = '198.51.100.0/24'] OR [url:value = 'http://203.0.113.5:8080/gate.php']"},
        {"type":"indicator","id":"indicator--3","pattern_type":"stix","revoked":true,
         "pattern":"[domain-name:value = 'revoked.example']"},
        {"type":"indicator","id":"indicator--4","pattern_type":"stix","valid_until":"2020-01-01T00:00:00Z",
         "pattern":"[domain-name:value = 'expired.example']"},
        {"type":"indicator","id":"indicator--5","pattern_type":"sigma","pattern":"title: x"},
        {"type":"malware","id":"malware--1","name":"not an indicator"}
    ]}"#;

    /// A feeds directory with a plain list, a CSV file and a bundle signed by `signer` (or not).
    fn feeds(signer: Option<&SigningKey>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        w("list.txt", "# site blocklist\nbad.example\n192.0.2.66 # scanner\n10.66.0.0/16\nnot a name!\n");
        w(
            "partner.csv",
            "type,indicator,description,confidence\ndomain,Phish.Example.,phishing kit,70\nip,2001:db8::66,,\nsha256,abc,,\n",
        );
        w("vendor.json", BUNDLE);
        if let Some(key) = signer {
            w("vendor.json.sig", &b64(&key.sign(BUNDLE.as_bytes()).to_bytes()));
        }
        w("notes.md", "not a feed");
        dir
    }

    fn cfg(dir: &Path, keys: &[&SigningKey], dangerous: bool) -> IntelConfig {
        IntelConfig {
            dir: Some(dir.to_owned()),
            public_keys: keys.iter().map(|k| b64(k.verifying_key().as_bytes())).collect(),
            dangerous_allow_unsigned_bundles: dangerous,
            ..IntelConfig::default()
        }
    }

    fn report<'a>(r: &'a LoadReport, name: &str) -> &'a FeedReport {
        r.feeds.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn lists_csv_and_a_signed_bundle_load() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let dir = feeds(Some(&key));
        let (intel, r) = load(&cfg(dir.path(), &[&key], false)).unwrap();
        assert_eq!((report(&r, "list.txt").indicators, report(&r, "list.txt").skipped), (3, 1));
        assert_eq!((report(&r, "partner.csv").indicators, report(&r, "partner.csv").skipped), (2, 1));
        let vendor = report(&r, "vendor.json");
        assert_eq!((vendor.indicators, vendor.skipped, vendor.refused.as_deref()), (3, 3, None));
        assert!(report(&r, "notes.md").refused.is_some());
        let hit = intel.match_name("www.c2.evil.example").unwrap();
        assert_eq!(
            (&*hit.feed, hit.confidence, hit.description.as_deref()),
            ("vendor.json", Some(90), Some("C2 of a test family"))
        );
        assert_eq!(intel.match_name("x.phish.example").unwrap().confidence, Some(70));
        assert!(intel.match_addr("198.51.100.9".parse().unwrap()).is_some());
        assert_eq!(intel.match_addr("203.0.113.5".parse().unwrap()).unwrap().kind, IndicatorKind::Ip);
        assert!(intel.match_addr("10.66.1.1".parse().unwrap()).is_some());
        assert!(intel.match_addr("2001:db8::66".parse().unwrap()).is_some());
        assert!(intel.match_name("revoked.example").is_none() && intel.match_name("expired.example").is_none());
    }

    #[test]
    fn unsigned_or_wrongly_signed_bundles_are_refused_unless_dangerously_allowed() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let unsigned = feeds(None);
        let (intel, r) = load(&cfg(unsigned.path(), &[&key], false)).unwrap();
        assert!(report(&r, "vendor.json").refused.as_deref().unwrap().contains("unsigned"));
        assert!(intel.match_name("c2.evil.example").is_none());
        assert!(intel.match_name("bad.example").is_some(), "the other feeds still load");
        let wrong = feeds(Some(&other));
        let (_, r) = load(&cfg(wrong.path(), &[&key], false)).unwrap();
        assert!(report(&r, "vendor.json").refused.as_deref().unwrap().contains("does not verify"));
        // A bundle changed after signing.
        let tampered = feeds(Some(&key));
        std::fs::write(tampered.path().join("vendor.json"), BUNDLE.replace("c2.evil", "c3.evil")).unwrap();
        let (_, r) = load(&cfg(tampered.path(), &[&key], false)).unwrap();
        assert!(report(&r, "vendor.json").refused.is_some());
        let (intel, r) = load(&cfg(unsigned.path(), &[], true)).unwrap();
        assert_eq!(report(&r, "vendor.json").refused, None);
        assert!(intel.match_name("c2.evil.example").is_some());
    }

    #[test]
    fn bad_configuration_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(dir.path(), &[], false);
        c.public_keys = vec!["not base64!".into()];
        assert!(load(&c).unwrap_err().contains("not base64"));
        c.public_keys = vec![b64(&[1; 16])];
        assert!(load(&c).unwrap_err().contains("not 32 bytes"));
        let missing = IntelConfig { dir: Some(dir.path().join("missing")), ..IntelConfig::default() };
        assert!(load(&missing).unwrap_err().contains("missing"));
    }

    #[test]
    fn urls_match_by_host() {
        assert_eq!(
            classify("https://user@Evil.Example:8443/x?y", None),
            Some((IndicatorKind::Url, "evil.example".into()))
        );
        assert_eq!(classify("http://[2001:db8::5]:80/", None), Some((IndicatorKind::Ip, "2001:db8::5".into())));
        assert_eq!(classify("ftp://198.51.100.1/", None), Some((IndicatorKind::Ip, "198.51.100.1".into())));
        assert_eq!(classify("192.0.2.1", Some(IndicatorKind::Domain)), None, "a type that contradicts the value");
    }
}
