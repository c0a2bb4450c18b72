//! RDATA parsing per record type, mirroring Zeek's `DNS_Interpreter::ParseRR_*`
//! (`src/analyzer/protocol/dns/DNS.cc`, zeek/zeek) with the event handlers of Zeek's base scripts
//! (`scripts/base/protocols/dns/main.zeek`) in place: where base has no handler (HINFO, CAA,
//! TKEY) Zeek skips RDLENGTH bytes unread, and so does this.
//!
//! How far the cursor moves is part of the behaviour: the next record starts where Zeek's would.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::labels::{NAME_CAPACITY, TSIG_NAME_CAPACITY, extract_name};
use super::parser::{Ctx, Cursor, Section, Visitor};
use super::weird::Addl;
use super::wire::{CharStrings, RData, rr_type};
use super::{DnsTransport, weird};

/// The fixed part of a resource record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RrHeader {
    pub(crate) section: Section,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl: u32,
    pub(crate) rdlength: usize,
}

/// `ParseAnswer`'s type switch: parses RDATA at the cursor, reports the record, returns
/// whether parsing of the message may go on.
pub(crate) fn parse<V: Visitor + ?Sized>(ctx: &mut Ctx<'_>, cur: &mut Cursor<'_>, rr: &RrHeader, v: &mut V) -> bool {
    use rr_type as t;
    let rdlen = rr.rdlength;
    match rr.rtype {
        t::A => {
            if rdlen != 4 {
                v.weird(weird::RR_BAD_LENGTH, None);
                return false;
            }
            let a = Ipv4Addr::from(cur.u32());
            ctx.visit(rr, RData::A(a), v);
        }
        t::AAAA | t::A6 => {
            let mut octets = [0u8; 16];
            for chunk in octets.chunks_exact_mut(4) {
                chunk.copy_from_slice(&cur.u32().to_be_bytes());
            }
            let a = Ipv6Addr::from(octets);
            let rd = if rr.rtype == t::AAAA { RData::Aaaa(a) } else { RData::A6(a) };
            ctx.visit(rr, rd, v);
        }
        t::NS | t::CNAME | t::PTR => {
            let start = cur.pos();
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v) {
                return false;
            }
            length_check(cur.pos() - start, rdlen, v);
            let name = ctx.scratch.a.as_bytes();
            let rd = match rr.rtype {
                t::NS => RData::Ns(name),
                t::CNAME => RData::Cname(name),
                _ => RData::Ptr(name),
            };
            ctx.visit(rr, rd, v);
        }
        t::SOA => {
            let start = cur.pos();
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v)
                || !extract_name(cur, &mut ctx.scratch.b, NAME_CAPACITY, true, v)
                || cur.remaining() < 20
            {
                return false;
            }
            let (serial, refresh, retry, expire, minimum) = (cur.u32(), cur.u32(), cur.u32(), cur.u32(), cur.u32());
            length_check(cur.pos() - start, rdlen, v);
            let (mname, rname) = (ctx.scratch.a.as_bytes(), ctx.scratch.b.as_bytes());
            ctx.visit(rr, RData::Soa { mname, rname, serial, refresh, retry, expire, minimum }, v);
        }
        t::WKS => ctx.visit(rr, RData::Wks, v),
        t::MX => {
            let start = cur.pos();
            let preference = cur.u16();
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v) {
                return false;
            }
            length_check(cur.pos() - start, rdlen, v);
            ctx.visit(rr, RData::Mx { preference, exchange: ctx.scratch.a.as_bytes() }, v);
        }
        t::TXT | t::SPF => {
            let (strings, left) = char_strings(cur, rdlen, v);
            let rd = if rr.rtype == t::TXT { RData::Txt(strings) } else { RData::Spf(strings) };
            ctx.visit(rr, rd, v);
            return left == 0;
        }
        t::SRV => {
            let start = cur.pos();
            let (priority, weight, port) = (cur.u16(), cur.u16(), cur.u16());
            if !extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, true, v) {
                return false;
            }
            length_check(cur.pos() - start, rdlen, v);
            ctx.visit(rr, RData::Srv { priority, weight, port, target: ctx.scratch.a.as_bytes() }, v);
        }
        t::NAPTR => return naptr(ctx, cur, rr, v),
        t::OPT => return opt(ctx, cur, rr, v),
        t::TSIG => {
            if !extract_name(cur, &mut ctx.scratch.a, TSIG_NAME_CAPACITY, true, v) {
                return false;
            }
            let time_signed = cur.u32();
            let _time_low = cur.u16();
            let fudge = cur.u16();
            let mac = octets(cur);
            let original_id = cur.u16();
            let error = cur.u16();
            let _other = octets(cur);
            let algorithm = ctx.scratch.a.as_bytes();
            ctx.visit(rr, RData::Tsig { algorithm, time_signed, fudge, mac, original_id, error }, v);
        }
        t::HINFO | t::CAA | t::TKEY | t::NBS => {
            let raw = cur.take(rdlen as i64);
            ctx.visit(rr, RData::Skipped(raw), v);
        }
        t::LOC => {
            if rdlen != 16 {
                v.weird(weird::INVALID_LOC_LENGTH, None);
                return false;
            }
            let (vs, hv) = (cur.u16(), cur.u16());
            let (latitude, longitude, altitude) = (cur.u32(), cur.u32(), cur.u32());
            let version = (vs >> 8) as u8;
            if version != 0 {
                v.weird(weird::LOC_VERSION_UNRECOGNIZED, Some(Addl::num(version).as_str()));
            }
            let rd = RData::Loc {
                version,
                size: vs as u8,
                horiz_pre: (hv >> 8) as u8,
                vert_pre: hv as u8,
                latitude,
                longitude,
                altitude,
            };
            ctx.visit(rr, rd, v);
        }
        t::SVCB | t::HTTPS => return super::rdata_dnssec::svcb(ctx, cur, rr, v),
        t::RRSIG | t::DNSKEY | t::NSEC | t::NSEC3 | t::NSEC3PARAM | t::DS | t::BINDS | t::SSHFP => {
            return super::rdata_dnssec::parse(ctx, cur, rr, v);
        }
        other => {
            let raw = cur.take(rdlen as i64);
            ctx.visit(rr, RData::Unknown(raw), v);
            v.weird(weird::RR_UNKNOWN_TYPE, Some(Addl::num(other).as_str()));
        }
    }
    true
}

/// `DNS_RR_length_mismatch` when a name-bearing RDATA did not end at RDLENGTH.
fn length_check<V: Visitor + ?Sized>(consumed: usize, rdlength: usize, v: &mut V) {
    if consumed != rdlength {
        v.weird(weird::RR_LENGTH_MISMATCH, None);
    }
}

/// `ExtractOctets`: a 16-bit length and up to that many bytes.
fn octets<'a>(cur: &mut Cursor<'a>) -> &'a [u8] {
    let n = cur.u16();
    cur.take(i64::from(n))
}

/// `extract_char_string` in a loop, as TXT/SPF do: the complete strings and what was left of
/// RDLENGTH when it stopped (0 means success).
fn char_strings<'a, V: Visitor + ?Sized>(cur: &mut Cursor<'a>, rdlength: usize, v: &mut V) -> (CharStrings<'a>, usize) {
    let start = cur.pos();
    let mut left = rdlength;
    let mut end = start;
    while let Some(_s) = char_string(cur, &mut left, v) {
        end = cur.pos();
    }
    (CharStrings(&cur.message()[start..end]), left)
}

/// One `extract_char_string`: `None` when RDLENGTH is used up (nothing read) or the string
/// would run past it (its length byte read, `DNS_TXT_char_str_past_rdlen`).
fn char_string<'a, V: Visitor + ?Sized>(cur: &mut Cursor<'a>, left: &mut usize, v: &mut V) -> Option<&'a [u8]> {
    if *left == 0 {
        return None;
    }
    let size = usize::from(cur.u8());
    *left -= 1;
    if size > *left {
        v.weird(weird::TXT_CHAR_STR_PAST_RDLEN, None);
        return None;
    }
    *left -= size;
    Some(cur.take(size as i64))
}

/// `ParseRR_NAPTR`.
fn naptr<V: Visitor + ?Sized>(ctx: &mut Ctx<'_>, cur: &mut Cursor<'_>, rr: &RrHeader, v: &mut V) -> bool {
    let order = cur.u16();
    let preference = cur.u16();
    let Some(mut left) = rr.rdlength.checked_sub(4).filter(|&l| l > 0) else {
        v.violation(weird::VIOLATION_NAPTR_TOO_SHORT);
        return false;
    };
    if cur.remaining() == 0 {
        v.violation(weird::VIOLATION_NAPTR_TOO_SHORT);
        return false;
    }
    let flags = char_string(cur, &mut left, v);
    let services = char_string(cur, &mut left, v);
    let regexp = char_string(cur, &mut left, v);
    let replaced = extract_name(cur, &mut ctx.scratch.a, NAME_CAPACITY, false, v);
    let (Some(flags), Some(services), Some(regexp), true) = (flags, services, regexp, replaced) else {
        v.violation(weird::VIOLATION_NAPTR_RR_TOO_SHORT);
        return false;
    };
    let replacement = ctx.scratch.a.as_bytes();
    ctx.visit(rr, RData::Naptr { order, preference, flags, services, regexp, replacement }, v);
    true
}

/// EDNS option: client subnet (RFC 7871).
const EDNS_ECS: u16 = 8;
/// EDNS option: TCP keepalive (RFC 7828).
const EDNS_TCP_KEEPALIVE: u16 = 11;

/// `ParseRR_EDNS`: walks the options (anomalies only; Zeek's base scripts log none of it).
fn opt<V: Visitor + ?Sized>(ctx: &mut Ctx<'_>, cur: &mut Cursor<'_>, rr: &RrHeader, v: &mut V) -> bool {
    let start = cur.pos();
    let mut left = rr.rdlength;
    while left >= 4 {
        let code = cur.u16();
        let len = usize::from(cur.u16());
        left -= 4;
        if len > left {
            v.weird(weird::EDNS_TRUNCATED_OPTION, None);
            return false;
        }
        let (msg, at) = (cur.message(), cur.pos());
        let body = &msg[at..at + len.min(msg.len() - at)];
        match code {
            EDNS_ECS => ecs(body, v),
            EDNS_TCP_KEEPALIVE if (len == 0 || len == 2) && ctx.opts.transport == DnsTransport::Udp => {
                v.weird(weird::EDNS_TCP_KEEPALIVE_IN_UDP, None);
            }
            // Cookies (10) and the rest carry no anomaly Zeek reports.
            _ => {}
        }
        cur.skip(len);
        left -= len;
    }
    if left != 0 {
        v.weird(weird::EDNS_TRUNCATED_OPTION, None);
        return false;
    }
    let options = &cur.message()[start..cur.pos()];
    let rd = RData::Opt {
        udp_size: rr.class,
        ext_rcode: (rr.ttl >> 24) as u8,
        version: (rr.ttl >> 16) as u8,
        flags: rr.ttl as u16,
        options,
    };
    ctx.visit(rr, rd, v);
    true
}

/// EDNS client subnet (RFC 7871) checks.
fn ecs<V: Visitor + ?Sized>(body: &[u8], v: &mut V) {
    if body.len() <= 4 {
        v.weird(weird::EDNS_ECS_INVALID_OPTION_LEN, None);
        return;
    }
    let family = u16::from_be_bytes([body[0], body[1]]);
    let source_prefix = usize::from(body[2]);
    let have_bits = (body.len() - 4) * 8;
    let (max, bad_prefix, bad_addr) = match family {
        1 => (32, weird::EDNS_ECS_INVALID_ADDR_V4_PREFIX, weird::EDNS_ECS_INVALID_ADDR_V4),
        2 => (128, weird::EDNS_ECS_INVALID_ADDR_V6_PREFIX, weird::EDNS_ECS_INVALID_ADDR_V6),
        _ => return,
    };
    if source_prefix > max {
        v.weird(bad_prefix, Some(Addl::fmt(format_args!("{source_prefix} bits")).as_str()));
    } else if source_prefix > have_bits {
        v.weird(bad_addr, Some(Addl::fmt(format_args!("need {source_prefix} bits, have {have_bits} bits")).as_str()));
    }
}
