//! RDATA of DNSSEC and key-related types (RRSIG, DNSKEY, NSEC, NSEC3, NSEC3PARAM, DS, SSHFP,
//! BIND's signing-state record) and of SVCB/HTTPS, mirroring Zeek's `ParseRR_*` and
//! `Parse_SvcParams` (`src/analyzer/protocol/dns/DNS.cc`, zeek/zeek), cursor movement included.

use super::labels::{NAME_CAPACITY, extract_name};
use super::parser::{Ctx, Cursor, Visitor};
use super::rdata::RrHeader;
use super::weird::{self, Addl};
use super::wire::{RData, rr_type as t};

/// Parses RRSIG, DNSKEY, NSEC, NSEC3, NSEC3PARAM, DS, BINDS and SSHFP.
pub(crate) fn parse<V: Visitor + ?Sized>(ctx: &mut Ctx<'_>, cur: &mut Cursor<'_>, rr: &RrHeader, v: &mut V) -> bool {
    let rdlen = rr.rdlength as i64;
    match rr.rtype {
        t::RRSIG => {
            if cur.remaining() < 18 {
                return false;
            }
            let type_covered = cur.u16();
            let [algorithm, labels] = cur.u16().to_be_bytes();
            let (original_ttl, expiration, inception) = (cur.u32(), cur.u32(), cur.u32());
            let key_tag = cur.u16();
            let start = cur.pos();
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v) {
                return false;
            }
            let signature = cur.take(rdlen - ((cur.pos() - start) as i64 + 18));
            if let Some(name) = algorithm_weird(algorithm, &RRSIG_ALGO_WEIRDS) {
                v.weird(name, Some(Addl::num(algorithm).as_str()));
            }
            let signer = ctx.scratch.a.as_bytes();
            let rd = RData::Rrsig {
                type_covered,
                algorithm,
                labels,
                original_ttl,
                expiration,
                inception,
                key_tag,
                signer,
                signature,
            };
            ctx.visit(rr, rd, v);
        }
        t::DNSKEY => {
            if cur.remaining() < 4 {
                return false;
            }
            let flags = cur.u16();
            let [protocol, algorithm] = cur.u16().to_be_bytes();
            let public_key = cur.take(rdlen - 4);
            if flags & 0xfe7e != 0 {
                v.weird(weird::DNSKEY_INVALID_FLAG, Some(Addl::num(flags).as_str()));
            }
            if flags & 0x0181 == 0x0181 {
                v.weird(weird::DNSKEY_REVOKED_KSK, Some(Addl::num(flags).as_str()));
            }
            if protocol != 3 {
                v.weird(weird::DNSKEY_INVALID_PROTOCOL, Some(Addl::num(protocol).as_str()));
            }
            if let Some(name) = algorithm_weird(algorithm, &DNSKEY_ALGO_WEIRDS) {
                v.weird(name, Some(Addl::num(algorithm).as_str()));
            }
            ctx.visit(rr, RData::Dnskey { flags, protocol, algorithm, public_key }, v);
        }
        t::NSEC => {
            let start = cur.pos();
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v) {
                return false;
            }
            let bitmaps = type_bitmaps(cur, rdlen - (cur.pos() - start) as i64, weird::NSEC_BITMAP_LEN0, v);
            ctx.visit(rr, RData::Nsec { next: ctx.scratch.a.as_bytes(), bitmaps }, v);
        }
        t::NSEC3 => {
            if cur.remaining() < 6 {
                return false;
            }
            let start = cur.pos();
            let [hash_algorithm, flags] = cur.u16().to_be_bytes();
            let iterations = cur.u16();
            let salt_len = cur.u8();
            let salt = cur.take(i64::from(salt_len));
            let hash_len = cur.u8();
            let next_hashed = cur.take(i64::from(hash_len));
            let bitmaps = type_bitmaps(cur, rdlen - (cur.pos() - start) as i64, weird::NSEC3_BITMAP_LEN0, v);
            let rd = RData::Nsec3 { hash_algorithm, flags, iterations, salt, next_hashed, bitmaps };
            ctx.visit(rr, rd, v);
        }
        t::NSEC3PARAM => {
            if cur.remaining() < 5 {
                return false;
            }
            let [hash_algorithm, flags] = cur.u16().to_be_bytes();
            let iterations = cur.u16();
            let salt_len = cur.u8();
            let salt = cur.take(i64::from(salt_len));
            ctx.visit(rr, RData::Nsec3Param { hash_algorithm, flags, iterations, salt }, v);
        }
        t::DS => {
            if cur.remaining() < 4 {
                return false;
            }
            let key_tag = cur.u16();
            let [algorithm, digest_type] = cur.u16().to_be_bytes();
            let digest = cur.take(rdlen - 4);
            match digest_type {
                1..=4 => {}
                0 => v.weird(weird::DS_RESERVED_DIGEST_TYPE, Some(Addl::num(digest_type).as_str())),
                _ => v.weird(weird::DS_UNKNOWN_DIGEST_TYPE, Some(Addl::num(digest_type).as_str())),
            }
            ctx.visit(rr, RData::Ds { key_tag, algorithm, digest_type, digest }, v);
        }
        t::BINDS => {
            if cur.remaining() < 5 {
                return false;
            }
            let [algorithm, id_hi, id_lo, removal] = cur.u32().to_be_bytes();
            let complete = cur.u8();
            let key_id = u16::from_be_bytes([id_hi, id_lo]);
            ctx.visit(rr, RData::Binds { algorithm, key_id, removal, complete }, v);
        }
        t::SSHFP => {
            if cur.remaining() < 2 {
                return false;
            }
            let [algorithm, fp_type] = cur.u16().to_be_bytes();
            let fingerprint = cur.take(rdlen - 2);
            ctx.visit(rr, RData::Sshfp { algorithm, fp_type, fingerprint }, v);
        }
        _ => {}
    }
    true
}

/// NSEC/NSEC3 type bitmap blocks: reads while `left > 0` and bytes remain; a zero-length
/// block is an anomaly (`addl` the window) and ends the walk. Returns the bytes read.
fn type_bitmaps<'a, V: Visitor + ?Sized>(
    cur: &mut Cursor<'a>,
    mut left: i64,
    zero_len: &'static str,
    v: &mut V,
) -> &'a [u8] {
    let start = cur.pos();
    while left > 0 && cur.remaining() > 0 {
        let [window, len] = cur.u16().to_be_bytes();
        if len == 0 {
            v.weird(zero_len, Some(Addl::num(window).as_str()));
            break;
        }
        cur.take(i64::from(len));
        left -= 2 + i64::from(len);
    }
    &cur.message()[start..cur.pos()]
}

/// Weird names for algorithm 1, 252, 253, 254 and unknown ones, in that order.
type AlgoWeirds = [&'static str; 5];

const RRSIG_ALGO_WEIRDS: AlgoWeirds = [
    weird::RRSIG_NOT_RECOMMENDED_ALGO,
    weird::RRSIG_INDIRECT_ALGO,
    weird::RRSIG_PRIVATE_DNS_ALGO,
    weird::RRSIG_PRIVATE_OID_ALGO,
    weird::RRSIG_UNKNOWN_ALGO,
];

const DNSKEY_ALGO_WEIRDS: AlgoWeirds = [
    weird::DNSKEY_NOT_RECOMMENDED_ALGO,
    weird::DNSKEY_INDIRECT_ALGO,
    weird::DNSKEY_PRIVATE_DNS_ALGO,
    weird::DNSKEY_PRIVATE_OID_ALGO,
    weird::DNSKEY_UNKNOWN_ALGO,
];

/// Zeek's `DNSSEC_Algo` switch: which anomaly, if any, an algorithm number raises.
fn algorithm_weird(algorithm: u8, names: &AlgoWeirds) -> Option<&'static str> {
    match algorithm {
        1 => Some(names[0]),
        2..=8 | 10 | 12..=16 => None,
        252 => Some(names[1]),
        253 => Some(names[2]),
        254 => Some(names[3]),
        _ => Some(names[4]),
    }
}

/// SvcParamKeys (RFC 9460 §14.3.2).
mod svc_key {
    pub(super) const MANDATORY: u16 = 0;
    pub(super) const ALPN: u16 = 1;
    pub(super) const NO_DEFAULT_ALPN: u16 = 2;
    pub(super) const PORT: u16 = 3;
    pub(super) const IPV4HINT: u16 = 4;
    pub(super) const ECH: u16 = 5;
    pub(super) const IPV6HINT: u16 = 6;
}

/// `ParseRR_SVCB` (SVCB and HTTPS).
pub(crate) fn svcb<V: Visitor + ?Sized>(ctx: &mut Ctx<'_>, cur: &mut Cursor<'_>, rr: &RrHeader, v: &mut V) -> bool {
    if rr.rdlength < 3 {
        v.weird(weird::SVCB_WRONG_LENGTH, None);
        return false;
    }
    let start = cur.pos();
    let priority = cur.u16();
    if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, false, v) {
        return false;
    }
    if ctx.scratch.a.as_bytes().is_empty() {
        ctx.scratch.a.set(b".");
    }
    let params_len = rr.rdlength as i64 - (cur.pos() - start) as i64;
    let params_start = cur.pos();
    if params_len > 0 {
        if priority == 0 {
            v.weird(weird::SVCB_ALIASMODE_WITH_PARAMS, None);
        }
        svc_params(cur, params_len, v);
    }
    let params = &cur.message()[params_start..cur.pos()];
    let rd = RData::Svcb { https: rr.rtype == t::HTTPS, priority, target: ctx.scratch.a.as_bytes(), params };
    ctx.visit(rr, rd, v);
    true
}

/// `Parse_SvcParams`: the anomalies and the cursor movement (values are not kept).
fn svc_params<V: Visitor + ?Sized>(cur: &mut Cursor<'_>, mut left: i64, v: &mut V) {
    while left >= 4 {
        let key = cur.u16();
        let mut len = i64::from(cur.u16());
        left -= 4;
        let malformed = if len > left {
            v.weird(weird::SVCB_PARAM_VALUE_TOOBIG, Some(Addl::fmt(format_args!("{len} capped to {left}")).as_str()));
            len = left;
            true
        } else {
            match key {
                svc_key::MANDATORY if len == 0 || len % 2 != 0 => {
                    v.weird(weird::SVCB_MANDATORY_LENGTH_INVALID, None);
                    true
                }
                svc_key::ALPN => !alpn(cur, len, v),
                svc_key::NO_DEFAULT_ALPN if len > 0 => {
                    v.weird(weird::SVCB_NODEFAULTALPN_VALUE, None);
                    true
                }
                svc_key::PORT if len != 2 => {
                    v.weird(weird::SVCB_PORT_LENGTH_INVALID, None);
                    true
                }
                svc_key::IPV4HINT | svc_key::IPV6HINT => {
                    let size = if key == svc_key::IPV4HINT { 4 } else { 16 };
                    if len % size != 0 {
                        v.weird(weird::SVCB_HINT_LENGTH_INVALID, None);
                        true
                    } else {
                        cur.take(len);
                        false
                    }
                }
                svc_key::MANDATORY | svc_key::PORT | svc_key::ECH => {
                    cur.take(len);
                    false
                }
                svc_key::NO_DEFAULT_ALPN => false,
                _ => {
                    v.weird(weird::SVCB_KEY_RESERVED_OR_INVALID, None);
                    true
                }
            }
        };
        if malformed {
            cur.take(len);
        }
        left -= len;
    }
}

/// The `alpn` value: length-prefixed ids filling exactly `len` bytes. On failure the cursor is
/// put back at the start of the value and false returned.
fn alpn<V: Visitor + ?Sized>(cur: &mut Cursor<'_>, len: i64, v: &mut V) -> bool {
    let start = cur.pos();
    let mut parsed = 0i64;
    while parsed + 2 <= len {
        let id_len = i64::from(cur.u8());
        parsed += 1;
        if id_len == 0 || id_len + parsed > len {
            v.weird(weird::SVCB_ALPN_LENGTH_INVALID, None);
            cur.set_pos(start);
            return false;
        }
        cur.take(id_len);
        parsed += id_len;
    }
    if parsed != len {
        v.weird(weird::SVCB_ALPN_LENGTH_INVALID, None);
        cur.set_pos(start);
        return false;
    }
    true
}
