//! The `[[export]]` sections of the hub's configuration file: one per destination.
//!
//! ```toml
//! [[export]]
//! name = "splunk"
//! kind = "splunk_hec"
//! url = "https://splunk.example:8088"    # /services/collector/event is appended
//! token = "…"                            # HEC token (never logged)
//! index = "security"                     # optional
//! ca_file = "/etc/soc-hub/splunk-ca.pem" # optional: trust only this CA (default: public CAs)
//!
//! [[export]]
//! name = "elastic"
//! kind = "elasticsearch"
//! url = "https://es.example:9200"        # /_bulk is appended
//! index = "soc-alerts"
//! api_key = "…"                          # optional (never logged)
//!
//! [[export]]
//! name = "syslog"
//! kind = "syslog"
//! address = "siem.example:6514"          # TLS (RFC 5425)
//! server_name = "siem.example"           # optional: the host part of address by default
//! facility = "auth"                      # optional: auth (default), authpriv, local0–local7
//! ```

use serde::Deserialize;
use std::path::PathBuf;

/// One destination. (Unknown keys are refused by [`Destination`], which receives every key
/// this struct does not take.)
#[derive(Clone, Deserialize)]
pub struct ExportConfig {
    /// Its name: in logs, stats, and its queue's name. Letters, digits, `-`, `_`.
    pub name: String,
    /// Where and how.
    #[serde(flatten)]
    pub destination: Destination,
    /// A CA certificate (PEM) to trust instead of the public CAs.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The kinds of destination.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Destination {
    /// Splunk HTTP Event Collector.
    SplunkHec {
        /// Base URL (`http://` or `https://`).
        url: String,
        /// The HEC token.
        token: String,
        /// The Splunk index; the token's default without.
        #[serde(default)]
        index: Option<String>,
    },
    /// Elasticsearch (or OpenSearch) bulk API.
    Elasticsearch {
        /// Base URL.
        url: String,
        /// The index.
        index: String,
        /// An API key (`Authorization: ApiKey …`); none without.
        #[serde(default)]
        api_key: Option<String>,
    },
    /// Syslog over TLS.
    Syslog {
        /// `HOST:PORT`.
        address: String,
        /// The name the receiver's certificate is checked against (the host of `address`
        /// without).
        #[serde(default)]
        server_name: Option<String>,
        /// The facility.
        #[serde(default)]
        facility: Facility,
    },
}

/// Syslog facilities a security event may go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    /// Security/authorization messages (4).
    #[default]
    Auth,
    /// Private security/authorization messages (10).
    Authpriv,
    /// Local use 0–7 (16–23).
    Local0,
    /// Local use 1.
    Local1,
    /// Local use 2.
    Local2,
    /// Local use 3.
    Local3,
    /// Local use 4.
    Local4,
    /// Local use 5.
    Local5,
    /// Local use 6.
    Local6,
    /// Local use 7.
    Local7,
}

/// Secrets stay out of logs and debug output.
impl std::fmt::Debug for ExportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, target) = match &self.destination {
            Destination::SplunkHec { url, .. } => ("splunk_hec", url),
            Destination::Elasticsearch { url, .. } => ("elasticsearch", url),
            Destination::Syslog { address, .. } => ("syslog", address),
        };
        write!(f, "{} ({kind} {target})", self.name)
    }
}

impl ExportConfig {
    /// Checks what serde cannot: the name, the URL's scheme.
    pub fn check(&self) -> Result<(), crate::ExportError> {
        let bad = |why: String| Err(crate::ExportError::Config(self.name.clone(), why));
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
            return bad("name: letters, digits, '-' and '_' only".into());
        }
        match &self.destination {
            Destination::SplunkHec { url, .. } | Destination::Elasticsearch { url, .. }
                if !(url.starts_with("http://") || url.starts_with("https://")) =>
            {
                bad("url: http:// or https://".into())
            }
            // Credentials go in `token` or `api_key`, which are never shown; a URL is (logs,
            // errors, the exports view).
            Destination::SplunkHec { url, .. } | Destination::Elasticsearch { url, .. }
                if url.split('/').nth(2).is_some_and(|authority| authority.contains('@')) =>
            {
                bad("url: no credentials in the URL (use token or api_key)".into())
            }
            Destination::Syslog { address, .. } if !address.contains(':') => {
                bad(format!("address {address:?}: HOST:PORT"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        export: Vec<ExportConfig>,
    }

    #[test]
    fn the_documented_example_parses_and_hides_its_secrets() {
        let doc: String = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start().to_owned() + "\n")
            .collect();
        let file: File = toml::from_str(&doc).unwrap();
        assert_eq!(file.export.len(), 3);
        for e in &file.export {
            e.check().unwrap();
            assert!(!format!("{e:?}").contains('…'), "{e:?}");
        }
        assert!(matches!(file.export[2].destination, Destination::Syslog { facility: Facility::Auth, .. }));
    }

    #[test]
    fn unknown_keys_and_bad_names_are_refused() {
        let unknown = "[[export]]\nname='x'\nkind='syslog'\naddress='h:1'\nfacilty='auth'\n";
        assert!(toml::from_str::<File>(unknown).is_err());
        let file: File = toml::from_str("[[export]]\nname='a/b'\nkind='syslog'\naddress='h:1'\n").unwrap();
        assert!(file.export[0].check().is_err());
        let file: File =
            toml::from_str("[[export]]\nname='e'\nkind='elasticsearch'\nurl='ftp://x'\nindex='i'\n").unwrap();
        assert!(file.export[0].check().is_err());
        let file: File =
            toml::from_str("[[export]]\nname='e'\nkind='elasticsearch'\nurl='https://u:pw@es:9200'\nindex='i'\n")
                .unwrap();
        let refused = file.export[0].check().unwrap_err().to_string();
        assert!(refused.contains("no credentials") && !refused.contains("pw"), "{refused}");
    }
}
