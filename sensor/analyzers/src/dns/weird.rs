//! Anomaly (`weird`) and analyzer-violation names of the DNS analyzer.
//!
//! Every `pub const` in the first groups is spelled exactly as in Zeek's
//! `src/analyzer/protocol/dns/DNS.cc` (zeek/zeek; the function that raises it is named beside
//! each). The last group holds this sensor's own names: they start with `sensor_dns_` so nobody
//! mistakes them for Zeek's. Zeek's old `dns_unmatched_msg`, `dns_unmatched_msg_quantity` and
//! `dns_unmatched_reply` were removed from Zeek (NEWS, 2.6) and are not raised.
//!
//! A weird's `addl` text reaches the sink as `Option<&str>`, formatted on the stack
//! (`Addl`): anomalies are frequent in tunnel traffic, and most are sampled out downstream.

use core::fmt;

// ---- Message and question (ParseMessage, ParseQuestion) ----

/// Fewer than 12 bytes: no header (`ParseMessage`).
pub const TRUNCATED_LEN_LT_HDR_LEN: &str = "DNS_truncated_len_lt_hdr_len";
/// Opcode other than query (0), notify (4), dynamic update (5); `addl` is the opcode
/// (`ParseMessage`).
pub const UNKNOWN_OPCODE: &str = "DNS_unknown_opcode";
/// More questions than `dns_max_queries` (25); `addl` is `"N > 25"` (`ParseMessage`, via
/// `LimitReachedWeird`). Also an analyzer violation of the same name.
pub const CONN_COUNT_TOO_LARGE: &str = "DNS_Conn_count_too_large";
/// Dynamic update whose zone count is not 1; `addl` is the count (`ParseMessage`).
pub const DU_INVALID_ZONE_COUNT: &str = "DNS_DU_invalid_zone_count";
/// Dynamic update whose zone is not of type SOA (`ParseMessage`).
pub const DU_INCORRECT_ZONE_TYPE: &str = "DNS_DU_incorrect_zone_type";
/// Question without room for its type and class (`ParseQuestion`).
pub const TRUNCATED_QUEST_TOO_SHORT: &str = "DNS_truncated_quest_too_short";

// ---- Resource records (ParseAnswerHeader, ParseAnswer) ----

/// RR name not followed by type and class (`ParseAnswerHeader`).
pub const TRUNCATED_ANS_TOO_SHORT: &str = "DNS_truncated_ans_too_short";
/// RDLENGTH beyond the end of the message (`ParseAnswer`).
pub const TRUNCATED_RR_RDLENGTH_LT_LEN: &str = "DNS_truncated_RR_rdlength_lt_len";
/// RDLENGTH 0 with bytes following, outside dynamic updates (`ParseAnswer`).
pub const ZERO_RDLENGTH: &str = "DNS_zero_rdlength";
/// A type the analyzer has no parser for; `addl` is the type (`ParseAnswer`).
pub const RR_UNKNOWN_TYPE: &str = "DNS_RR_unknown_type";
/// Update RR with a class that is neither NONE (TTL 0) nor the zone's (`ParseAnswer`).
pub const DYNAMIC_UPDATE_INVALID_UPDATE: &str = "DNS_dynamic_update_invalid_update";
/// Prerequisite with a TTL other than 0; `addl` is the TTL as a signed 32-bit number
/// (`ParseAnswer`).
pub const DYNAMIC_UPDATE_PREREQ_NONZERO_TTL: &str = "DNS_dynamic_update_prereq_nonzero_ttl";
/// Prerequisite whose class/RDLENGTH combination RFC 2136 does not allow (`ParseAnswer`).
pub const DYNAMIC_UPDATE_INVALID_PREREQ: &str = "DNS_dynamic_update_invalid_prereq";

// ---- Names (ExtractName, ExtractLabel) ----

/// More than `dns_max_compression_chain_depth` (20) pointers followed; `addl` is the depth
/// reached. The name ends where the chain was cut (`ExtractName`).
pub const MAX_COMPRESSION_CHAIN_DEPTH_EXCEEDED: &str = "DNS_max_compression_chain_depth_exceeded";
/// A name of 255 bytes or more in presentation form (`ExtractName`).
pub const NAME_TOO_LONG: &str = "DNS_NAME_too_long";
/// Name runs off the end of the message (`ExtractLabel`).
pub const INVALID_NAME: &str = "dns_invalid_name";
/// Compression pointer to its own position or later (`ExtractLabel`).
pub const LABEL_FORWARD_COMPRESS_OFFSET: &str = "DNS_label_forward_compress_offset";
/// Label length beyond the end of the message (`ExtractLabel`).
pub const LABEL_LEN_GT_PKT: &str = "DNS_label_len_gt_pkt";
/// Label longer than 63 bytes (`ExtractLabel`).
pub const LABEL_TOO_LONG: &str = "DNS_label_too_long";
/// Name does not fit Zeek's 512-byte name buffer (`ExtractLabel`).
pub const LABEL_LEN_GT_NAME_LEN: &str = "DNS_label_len_gt_name_len";

// ---- RDATA (ParseRR_*) ----

/// Name-bearing RDATA whose name does not end at RDLENGTH (`ParseRR_Name`, `_SOA`, `_MX`,
/// `_SRV`).
pub const RR_LENGTH_MISMATCH: &str = "DNS_RR_length_mismatch";
/// A record whose RDLENGTH is not 4 (`ParseRR_A`).
pub const RR_BAD_LENGTH: &str = "DNS_RR_bad_length";
/// Character-string running past RDLENGTH (`extract_char_string`: TXT, SPF, NAPTR).
pub const TXT_CHAR_STR_PAST_RDLEN: &str = "DNS_TXT_char_str_past_rdlen";
/// LOC RDLENGTH other than 16 (`ParseRR_LOC`).
pub const INVALID_LOC_LENGTH: &str = "dns_invalid_loc_length";
/// LOC version other than 0; `addl` is the version (`ParseRR_LOC`).
pub const LOC_VERSION_UNRECOGNIZED: &str = "DNS_LOC_version_unrecognized";
/// EDNS option longer than what is left of the OPT RDATA, or bytes left over (`ParseRR_EDNS`).
pub const EDNS_TRUNCATED_OPTION: &str = "EDNS_truncated_option";
/// EDNS client-subnet option of 4 bytes or fewer (`ParseRR_EDNS`).
pub const EDNS_ECS_INVALID_OPTION_LEN: &str = "EDNS_ECS_invalid_option_len";
/// ECS IPv4 source prefix above 32; `addl` `"N bits"` (`ParseRR_EDNS`).
pub const EDNS_ECS_INVALID_ADDR_V4_PREFIX: &str = "EDNS_ECS_invalid_addr_v4_prefix";
/// ECS IPv4 prefix longer than the address bytes present (`ParseRR_EDNS`).
pub const EDNS_ECS_INVALID_ADDR_V4: &str = "EDNS_ECS_invalid_addr_v4";
/// ECS IPv6 source prefix above 128 (`ParseRR_EDNS`).
pub const EDNS_ECS_INVALID_ADDR_V6_PREFIX: &str = "EDNS_ECS_invalid_addr_v6_prefix";
/// ECS IPv6 prefix longer than the address bytes present (`ParseRR_EDNS`).
pub const EDNS_ECS_INVALID_ADDR_V6: &str = "EDNS_ECS_invalid_addr_v6";
/// EDNS TCP keepalive option seen over UDP, which RFC 7828 forbids (`ParseRR_EDNS`).
pub const EDNS_TCP_KEEPALIVE_IN_UDP: &str = "EDNS_TCP_Keepalive_In_UDP";
/// RRSIG algorithm 1 (RSA/MD5) (`ParseRR_RRSIG`).
pub const RRSIG_NOT_RECOMMENDED_ALGO: &str = "DNSSEC_RRSIG_NotRecommended_ZoneSignAlgo";
/// RRSIG algorithm 252 (`ParseRR_RRSIG`).
pub const RRSIG_INDIRECT_ALGO: &str = "DNSSEC_RRSIG_Indirect_ZoneSignAlgo";
/// RRSIG algorithm 253 (`ParseRR_RRSIG`).
pub const RRSIG_PRIVATE_DNS_ALGO: &str = "DNSSEC_RRSIG_PrivateDNS_ZoneSignAlgo";
/// RRSIG algorithm 254 (`ParseRR_RRSIG`).
pub const RRSIG_PRIVATE_OID_ALGO: &str = "DNSSEC_RRSIG_PrivateOID_ZoneSignAlgo";
/// RRSIG algorithm Zeek does not know (0, 9, 11, 17–251, 255) (`ParseRR_RRSIG`).
pub const RRSIG_UNKNOWN_ALGO: &str = "DNSSEC_RRSIG_unknown_ZoneSignAlgo";
/// DNSKEY flags outside bits 7, 8 and 15; `addl` is the flags (`ParseRR_DNSKEY`).
pub const DNSKEY_INVALID_FLAG: &str = "DNSSEC_DNSKEY_Invalid_Flag";
/// DNSKEY with zone, revoked and SEP bits all set (`ParseRR_DNSKEY`).
pub const DNSKEY_REVOKED_KSK: &str = "DNSSEC_DNSKEY_Revoked_KSK";
/// DNSKEY protocol other than 3 (`ParseRR_DNSKEY`).
pub const DNSKEY_INVALID_PROTOCOL: &str = "DNSSEC_DNSKEY_Invalid_Protocol";
/// DNSKEY algorithm 1 (`ParseRR_DNSKEY`).
pub const DNSKEY_NOT_RECOMMENDED_ALGO: &str = "DNSSEC_DNSKEY_NotRecommended_ZoneSignAlgo";
/// DNSKEY algorithm 252 (`ParseRR_DNSKEY`).
pub const DNSKEY_INDIRECT_ALGO: &str = "DNSSEC_DNSKEY_Indirect_ZoneSignAlgo";
/// DNSKEY algorithm 253 (`ParseRR_DNSKEY`).
pub const DNSKEY_PRIVATE_DNS_ALGO: &str = "DNSSEC_DNSKEY_PrivateDNS_ZoneSignAlgo";
/// DNSKEY algorithm 254 (`ParseRR_DNSKEY`).
pub const DNSKEY_PRIVATE_OID_ALGO: &str = "DNSSEC_DNSKEY_PrivateOID_ZoneSignAlgo";
/// DNSKEY algorithm Zeek does not know (`ParseRR_DNSKEY`).
pub const DNSKEY_UNKNOWN_ALGO: &str = "DNSSEC_DNSKEY_unknown_ZoneSignAlgo";
/// NSEC type bitmap block of length 0; `addl` is the window (`ParseRR_NSEC`).
pub const NSEC_BITMAP_LEN0: &str = "DNSSEC_NSEC_bitmapLen0";
/// NSEC3 type bitmap block of length 0 (`ParseRR_NSEC3`).
pub const NSEC3_BITMAP_LEN0: &str = "DNSSEC_NSEC3_bitmapLen0";
/// DS digest type 0 (`ParseRR_DS`).
pub const DS_RESERVED_DIGEST_TYPE: &str = "DNSSEC_DS_ReservedDigestType";
/// DS digest type above 4 (`ParseRR_DS`).
pub const DS_UNKNOWN_DIGEST_TYPE: &str = "DNSSEC_DS_unknown_DigestType";
/// SVCB/HTTPS RDLENGTH below 3 (`ParseRR_SVCB`).
pub const SVCB_WRONG_LENGTH: &str = "DNS_SVCB_wrong_length";
/// SVCB AliasMode (priority 0) with parameters (`ParseRR_SVCB`).
pub const SVCB_ALIASMODE_WITH_PARAMS: &str = "DNS_SVCB_aliasmode_with_params";
/// SvcParam value longer than the parameters left; `addl` `"N capped to M"`
/// (`Parse_SvcParams`).
pub const SVCB_PARAM_VALUE_TOOBIG: &str = "DNS_SVCB_param_value_toobig";
/// `mandatory` SvcParam of odd or zero length (`Parse_SvcParams`).
pub const SVCB_MANDATORY_LENGTH_INVALID: &str = "DNS_SVCB_mandatory_length_invalid";
/// Malformed `alpn` SvcParam (`Parse_SvcParams`).
pub const SVCB_ALPN_LENGTH_INVALID: &str = "DNS_SVCB_alpn_length_invalid";
/// `no-default-alpn` SvcParam with a value (`Parse_SvcParams`).
pub const SVCB_NODEFAULTALPN_VALUE: &str = "DNS_SVCB_nodefaultalpn_value";
/// `port` SvcParam not 2 bytes long (`Parse_SvcParams`).
pub const SVCB_PORT_LENGTH_INVALID: &str = "DNS_SVCB_port_length_invalid";
/// Address-hint SvcParam not a multiple of the address size (`Parse_SvcParams`).
pub const SVCB_HINT_LENGTH_INVALID: &str = "DNS_SVCB_hint_length_invalid";
/// SvcParam key above 6 (`Parse_SvcParams`).
pub const SVCB_KEY_RESERVED_OR_INVALID: &str = "DNS_SVCB_key_reserved_or_invalid";

// ---- Analyzer violations (AnalyzerViolation; dpd.zeek disables the analyzer) ----

/// NAPTR too short for order and preference (`ParseRR_NAPTR`).
pub const VIOLATION_NAPTR_TOO_SHORT: &str = "DNS_NAPTR_too_short";
/// NAPTR whose strings or replacement name are cut (`ParseRR_NAPTR`).
pub const VIOLATION_NAPTR_RR_TOO_SHORT: &str = "DNS_NAPTR_RR_too_short";
/// Same condition as [`CONN_COUNT_TOO_LARGE`].
pub const VIOLATION_CONN_COUNT_TOO_LARGE: &str = CONN_COUNT_TOO_LARGE;

// ---- This sensor's own ----

/// A TCP content gap fell inside a length-prefixed message: the partial message is dropped
/// (Zeek would splice the bytes after the gap into it). `addl` is the gap length.
pub const SENSOR_TCP_GAP_IN_MESSAGE: &str = "sensor_dns_tcp_gap_in_message";
/// A TCP message longer than `DnsConfig::max_tcp_message` was skipped; `addl` is its length.
pub const SENSOR_TCP_MESSAGE_TOO_LARGE: &str = "sensor_dns_tcp_message_too_large";
/// A record reached [`super::MAX_ANSWERS_PER_RECORD`] or [`super::MAX_ANSWER_BYTES_PER_RECORD`];
/// later answers were counted, not stored.
pub const SENSOR_ANSWERS_TRUNCATED: &str = "sensor_dns_answers_truncated";

/// Longest `addl` text: the longest the analyzer writes is ECS's `need N bits, have M bits`
/// (45 bytes with a 64-bit M).
const ADDL_CAPACITY: usize = 48;

/// A weird's `addl` text, formatted without allocating. Text past [`ADDL_CAPACITY`] is cut.
pub(crate) struct Addl {
    buf: [u8; ADDL_CAPACITY],
    len: usize,
}

impl Addl {
    /// A number in decimal.
    pub(crate) fn num(n: impl Into<u64>) -> Self {
        let mut a = Addl { buf: [0; ADDL_CAPACITY], len: 0 };
        let mut scratch = itoa::Buffer::new();
        let digits = scratch.format::<u64>(n.into()).as_bytes();
        let len = digits.len();
        a.buf[..len].copy_from_slice(digits);
        a.len = len;
        a
    }

    /// Formatted text (`format_args!`).
    pub(crate) fn fmt(args: fmt::Arguments<'_>) -> Self {
        let mut a = Addl { buf: [0; ADDL_CAPACITY], len: 0 };
        let _ = fmt::Write::write_fmt(&mut a, args);
        a
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only whole characters are copied in (see `write_str`), so this never falls back.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Addl {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut n = s.len().min(ADDL_CAPACITY - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addl_text() {
        assert_eq!(Addl::num(0u8).as_str(), "0");
        assert_eq!(Addl::num(u64::MAX).as_str(), "18446744073709551615");
        assert_eq!(Addl::fmt(format_args!("{} > {}", 26, 25)).as_str(), "26 > 25");
        assert_eq!(Addl::fmt(format_args!("{}", -5i32)).as_str(), "-5");
        let long = Addl::fmt(format_args!("need {} bits, have {} bits", 255u8, u64::MAX));
        assert_eq!(long.as_str(), "need 255 bits, have 18446744073709551615 bits");
        let cut = Addl::fmt(format_args!("{}é", "x".repeat(ADDL_CAPACITY - 1)));
        assert_eq!(cut.as_str(), "x".repeat(ADDL_CAPACITY - 1), "cut before a split character");
    }
}
