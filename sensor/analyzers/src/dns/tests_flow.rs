//! Transaction tests over UDP: Zeek's pairing, duplicates, unsolicited and unanswered messages,
//! role flip, multicast, bounds, violations. Real messages are named by capture and packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::time::Duration;

use sensor_wire::Timestamp;

use super::tests::{header, hex, query, response, rr};
use super::*;

#[derive(Default)]
pub(super) struct Out {
    pub(super) records: Vec<DnsRecord>,
    pub(super) weirds: Vec<&'static str>,
    pub(super) violations: Vec<&'static str>,
    pub(super) flips: usize,
}

impl DnsSink for Out {
    fn record(&mut self, rec: &DnsRecord) {
        self.records.push(rec.clone());
    }
    fn weird(&mut self, _: Timestamp, name: &'static str, _: Option<&str>) {
        self.weirds.push(name);
    }
    fn violation(&mut self, _: Timestamp, reason: &'static str) {
        self.violations.push(reason);
    }
    fn roles_flipped(&mut self, _: Timestamp) {
        self.flips += 1;
    }
}

pub(super) fn t(us: u64) -> Timestamp {
    Timestamp(1_000_000_000_000 + us * 1000)
}

/// Feeds `(µs, from_orig, bytes)` to a UDP flow and finishes it.
fn run(flow: &mut DnsFlow, cfg: &DnsConfig, msgs: &[(u64, bool, &[u8])]) -> Out {
    let mut out = Out::default();
    for (us, from_orig, bytes) in msgs {
        flow.udp(cfg, t(*us), *from_orig, bytes, &mut out);
    }
    flow.finish(&mut out);
    out
}

fn udp(msgs: &[(u64, bool, &[u8])]) -> Out {
    run(&mut DnsFlow::new(DnsTransport::Udp), &DnsConfig::default(), msgs)
}

#[test]
fn unanswered_query_is_logged_at_the_end() {
    // zeek-dns-original-case.pcap, packet 1: 192.168.3.138:63374 > 192.168.3.1:53
    let q = hex(&[
        "518d01200001000000000001025573035632370b4469537452694275546544034e",
        "455400000100010000291000000000000000",
    ]);
    let mut flow = DnsFlow::new(DnsTransport::Udp);
    let mut out = Out::default();
    flow.udp(&DnsConfig::default(), t(0), true, &q, &mut out);
    assert!(out.records.is_empty(), "waits for its response");
    assert_eq!(flow.pending(), 1);
    flow.finish(&mut out);
    let r = &out.records[0];
    assert_eq!(
        (r.trans_id, r.query(), r.original_query()),
        (20877, Some("us.v27.distributed.net"), Some("Us.V27.DiStRiBuTeD.NET"))
    );
    assert_eq!((r.qtype, r.qclass, r.rcode, r.rtt, r.rd, r.z), (Some(1), Some(1), None, None, true, 2));
    assert!(r.saw_query && !r.saw_reply);
    assert_eq!(r.request_len, Some(51));
}

// zeek-dns-two-responses.pcap, packet 1: 55.247.223.174:27285 > 222.195.43.124:53
const TWO_RESPONSES_QUERY: &[&str] =
    &["5294001000010000000000010377777703636d75036564750000010001000029", "1000000080000000"];

#[test]
fn duplicate_response_becomes_a_response_only_record() {
    let q = hex(TWO_RESPONSES_QUERY);
    let r = hex(super::tests::TWO_RESPONSES_REPLY);
    let out = udp(&[(0, true, &q), (214, false, &r), (302, false, &r)]);
    assert_eq!(out.records.len(), 2);
    let (first, dup) = (&out.records[0], &out.records[1]);
    // As Zeek's duplicate-reponses baseline.
    assert_eq!(first.rtt, Some(Duration::from_micros(214)));
    assert_eq!((first.qtype, first.z, first.aa), (Some(1), 1, true));
    assert_eq!(
        first.answers().collect::<Vec<_>>(),
        ["www-cmu.andrew.cmu.edu", "RRSIG 5 cmu.edu", "www-cmu-2.andrew.cmu.edu", "128.2.10.163"]
    );
    assert_eq!(first.ttls(), [86400, 86400, 5, 21600]);
    assert_eq!(first.answer_addrs(), ["128.2.10.163".parse::<core::net::IpAddr>().unwrap()]);
    assert_eq!((dup.trans_id, dup.qtype, dup.z, dup.rtt, dup.ts), (21140, None, 0, None, t(302)));
    assert_eq!(dup.query(), Some("www.cmu.edu"));
    assert!(dup.answers().eq(first.answers()));
    assert_eq!(dup.ttls(), first.ttls());
    assert!(!dup.saw_query && dup.saw_reply);
}

#[test]
fn unsolicited_response_waits_then_is_logged() {
    // sv-dns-unsolicited-response.pcap, packets 1-3: a query (0x99ab), an unsolicited
    // response (0x9941), the real response (0x99ab).
    let q = hex(&["99ab0100000100000000000009636c69656e742d63660764726f70626f780363", "6f6d0000010001"]);
    let unsolicited = hex(&[
        "99418180000100010000000009636c69656e742d63660764726f70626f780363",
        "6f6d0000010001c00c000100010000002f000434557015",
    ]);
    let answer = hex(&[
        "99ab8180000100010000000009636c69656e742d63660764726f70626f780363",
        "6f6d0000010001c00c000100010000002f000434557015",
    ]);
    let out = udp(&[(0, true, &q), (10, false, &unsolicited), (20, false, &answer)]);
    assert_eq!(out.records.len(), 2);
    assert_eq!((out.records[0].trans_id, out.records[0].rtt), (0x99ab, Some(Duration::from_micros(20))));
    let u = &out.records[1];
    assert_eq!((u.trans_id, u.qtype, u.rtt, u.ts), (0x9941, None, None, t(10)));
    assert_eq!((u.query(), u.answers().collect::<Vec<_>>()), (Some("client-cf.dropbox.com"), vec!["52.85.112.21"]));
}

#[test]
fn query_after_its_response_pairs_with_it() {
    let q = query(9, "late.example", 1);
    let r = response(9, "late.example", 1, &[rr("late.example", 1, 1, 30, &[192, 0, 2, 9])]);
    let out = udp(&[(0, false, &r), (50, true, &q)]);
    assert_eq!(out.records.len(), 1);
    let rec = &out.records[0];
    assert_eq!((rec.ts, rec.rtt, rec.qtype, rec.rcode), (t(0), None, Some(1), Some(0)));
    assert!(rec.saw_query && rec.saw_reply);
}

#[test]
fn response_only_flow_flips_roles() {
    // zeek-dns53-flip.pcap: one response, 207.158.192.40:53 > 10.20.1.31:53, first packet of the
    // flow (so its sender is the pipeline's originator). Zeek makes 10.20.1.31 the originator.
    // First 88 bytes: header, question and the first 3 of 8 answers; counts lowered to match.
    let mut r = hex(&[
        "646584800001000800070007027573037632370b6469737472696275746564036e",
        "65740000010001c00c00010001000003840004ce6d40bac00c0001000100000384",
        "0004d801cd51c00c00010001000003840004cd95a3d3",
    ]);
    r[7] = 3;
    r[9] = 0;
    r[11] = 0;
    let mut flow = DnsFlow::new(DnsTransport::Udp);
    let out = run(&mut flow, &DnsConfig::default(), &[(0, true, &r)]);
    assert_eq!(out.flips, 1);
    assert!(flow.roles_flipped());
    let rec = &out.records[0];
    assert_eq!(rec.answers().collect::<Vec<_>>(), ["206.109.64.186", "216.1.205.81", "205.149.163.211"]);
    assert_eq!((rec.aa, rec.ra, rec.rd, rec.ttls()[0], rec.rtt), (true, true, false, 900, None));
}

#[test]
fn multicast_messages_are_logged_one_each() {
    // zeek-mdns-no-assoc.pcap, packets 1 and 3: a query and an unrelated response, both from
    // 192.168.0.2:5353 to 224.0.0.251:5353.
    let q = hex(&["0000000000010000000000000f696e697469616c2d71756572792d61056c6f63", "616c0000010001"]);
    let r = hex(&[
        "00008400000000010000000011756e72656c617465642d7265706c792d61056c",
        "6f63616c0000010001000000780004c0a80002",
    ]);
    let mut flow =
        DnsFlow::with_addrs(DnsTransport::Udp, "192.168.0.2".parse().unwrap(), "224.0.0.251".parse().unwrap());
    let mut out = Out::default();
    flow.udp(&DnsConfig::default(), t(0), true, &q, &mut out);
    flow.udp(&DnsConfig::default(), t(1), true, &r, &mut out);
    assert_eq!(out.records.len(), 2, "logged as they come, not at the end");
    assert_eq!(out.flips, 0, "no flip towards a multicast responder");
    assert_eq!((out.records[0].query(), out.records[0].rcode), (Some("initial-query-a.local"), None));
    assert_eq!(
        (out.records[1].query(), out.records[1].answers().collect::<Vec<_>>()),
        (Some("unrelated-reply-a.local"), vec!["192.168.0.2"])
    );
}

#[test]
fn retransmitted_queries_pair_in_order() {
    let q = query(5, "retry.example", 1);
    let r = response(5, "retry.example", 1, &[rr("retry.example", 1, 1, 30, &[192, 0, 2, 5])]);
    let out = udp(&[(0, true, &q), (1000, true, &q), (2000, true, &q), (2500, false, &r)]);
    assert_eq!(out.records.len(), 3);
    assert_eq!(out.records[0].rtt, Some(Duration::from_micros(2500)), "the oldest query gets the answer");
    assert!(out.records[1..].iter().all(|r| r.rcode.is_none() && r.saw_query));
}

#[test]
fn zeek_flushes_a_queue_with_more_than_50_ids() {
    let cfg = DnsConfig { max_pending_per_flow: 1000, ..DnsConfig::default() };
    let mut flow = DnsFlow::new(DnsTransport::Udp);
    let mut out = Out::default();
    for id in 0..70u16 {
        flow.udp(&cfg, t(u64::from(id)), true, &query(id, "q.example", 1), &mut out);
    }
    // Query 0 waits in the fast slot; 1..=51 fill the queue; query 52 finds 51 ids and flushes.
    assert_eq!(out.records.len(), 51);
    assert_eq!(flow.stats().pending_evicted, 51);
    flow.finish(&mut out);
    assert_eq!(out.records.len(), 70);
}

#[test]
fn pending_queue_is_bounded_by_config() {
    let cfg = DnsConfig { max_pending_per_flow: 4, ..DnsConfig::default() };
    let mut flow = DnsFlow::new(DnsTransport::Udp);
    let mut out = Out::default();
    for id in 0..10u16 {
        flow.udp(&cfg, t(u64::from(id)), true, &query(id, "q.example", 1), &mut out);
    }
    assert_eq!(flow.pending(), 5, "fast slot + 4");
    assert_eq!(out.records.iter().map(|r| r.trans_id).collect::<Vec<_>>(), [1, 2, 3, 4, 5], "oldest first");
    let r = response(9, "q.example", 1, &[rr("q.example", 1, 1, 1, &[1, 1, 1, 1])]);
    flow.udp(&cfg, t(100), false, &r, &mut out);
    assert_eq!(out.records.last().unwrap().trans_id, 9);
    assert!(out.records.last().unwrap().rtt.is_some());
}

#[test]
fn rejected_and_rcode() {
    // zeek-dns-notify.pcap, packets 2 and 3: NOTIFY answered REFUSED with only the question.
    let notify = hex(&[
        "5131240000010001000000000464686370046c626e6c0275730000060001c00c",
        "0006000100000000003f096c6f63616c686f7374036c626c03676f76000a686f",
        "73746d6173746572036e7378036c626c03676f760081f6a03200003840000007",
        "080083d6000000a8c0",
    ]);
    let refused = hex(&["5131a00500010000000000000464686370046c626e6c0275730000060001"]);
    let out = udp(&[(0, true, &notify), (268, false, &refused)]);
    let r = &out.records[0];
    // Zeek's notify baseline: no answers from a request, rejected, opcode 4.
    assert_eq!((r.rejected, r.rcode, r.opcode, r.rtt, r.answers().len()), (true, Some(5), Some(4), None, 0));
    assert_eq!((r.query(), r.qtype, r.aa), (Some("dhcp.lbnl.us"), Some(6), false));
    assert_eq!(r.opcode_name().as_deref(), Some("notify"));
    assert_eq!(r.rcode_name().as_deref(), Some("REFUSED"));

    // An error without the question echoed is rejected too.
    let bare = header(4, 0x8182, [0, 0, 0, 0]);
    let out = udp(&[(0, false, &bare)]);
    assert!(out.records[0].rejected);
    // NXDOMAIN with an SOA in authority is not.
    let mut nx = response(4, "nx.example", 1, &[]);
    nx[3] = 0x83;
    nx[9] = 1;
    nx.extend(rr("example", 6, 1, 60, &[0u8; 22]));
    let out = udp(&[(0, true, &query(4, "nx.example", 1)), (9, false, &nx)]);
    assert_eq!((out.records[0].rejected, out.records[0].rcode), (false, Some(3)));
}

#[test]
fn reply_fields_need_a_logged_answer() {
    // WKS: a reply with empty text sets AA/RA/rtt but no answer (Zeek's wks baseline).
    let mut wks = response(3, "w.example", 11, &[rr("w.example", 11, 1, 60, &[10, 0, 0, 1, 6, 0])]);
    wks[2] |= 0x04;
    let out = udp(&[(0, true, &query(3, "w.example", 11)), (7, false, &wks)]);
    assert_eq!((out.records[0].aa, out.records[0].ra, out.records[0].rtt.is_some()), (true, true, true));
    assert!(out.records[0].answers().is_empty());
    // TKEY: skipped by Zeek's base scripts, so nothing is set (Zeek's tkey baseline).
    let mut tkey = response(3, "k.example", 249, &[rr("k.example", 249, 255, 0, &[0; 16])]);
    tkey[2] |= 0x04;
    let out = udp(&[(0, true, &query(3, "k.example", 249)), (7, false, &tkey)]);
    assert_eq!((out.records[0].aa, out.records[0].ra, out.records[0].rtt), (false, false, None));
    // Same timestamp: Zeek deletes a zero rtt.
    let a = response(3, "z.example", 1, &[rr("z.example", 1, 1, 60, &[1, 2, 3, 4])]);
    let out = udp(&[(0, true, &query(3, "z.example", 1)), (0, false, &a)]);
    assert_eq!(out.records[0].rtt, None);
}

#[test]
fn violation_stops_the_flow_but_pending_is_logged() {
    let many = header(8, 0x0100, [26, 0, 0, 0]);
    let q = query(1, "ok.example", 1);
    let out = udp(&[(0, true, &q), (1, true, &many), (2, true, &query(2, "after.example", 1))]);
    assert_eq!(out.violations, [weird::VIOLATION_CONN_COUNT_TOO_LARGE]);
    assert_eq!(out.weirds, [weird::CONN_COUNT_TOO_LARGE]);
    let ids: Vec<u16> = out.records.iter().map(|r| r.trans_id).collect();
    assert_eq!(ids, [1, 8], "query 2 came after the analyzer was disabled");

    let cfg = DnsConfig { disable_on_violation: false, ..DnsConfig::default() };
    let out =
        run(&mut DnsFlow::new(DnsTransport::Udp), &cfg, &[(1, true, &many), (2, true, &query(2, "after.example", 1))]);
    assert_eq!(out.records.len(), 2);
}

#[test]
fn abandoned_dynamic_update_never_completes() {
    // A non-SOA zone: Zeek returns without `dns_end`, so the query is not marked as seen.
    let mut du = header(6, 0x2800, [1, 0, 0, 0]);
    du.extend(super::tests::wire_name("e.org"));
    du.extend_from_slice(&[0, 1, 0, 1]);
    let out = udp(&[(0, true, &du)]);
    assert_eq!(out.weirds, [weird::DU_INCORRECT_ZONE_TYPE]);
    assert_eq!(out.records.len(), 1);
    assert!(!out.records[0].saw_query);
}

#[test]
fn answers_per_record_are_bounded() {
    let n = MAX_ANSWERS_PER_RECORD + 5;
    let answers: Vec<Vec<u8>> = (0..n).map(|i| rr("b.example", 1, 1, 1, &(i as u32).to_be_bytes())).collect();
    let r = response(1, "b.example", 1, &answers);
    let out = udp(&[(0, true, &query(1, "b.example", 1)), (1, false, &r)]);
    assert_eq!(out.records[0].answers().len(), MAX_ANSWERS_PER_RECORD);
    assert_eq!(out.records[0].ttls().len(), MAX_ANSWERS_PER_RECORD);
    assert_eq!(out.weirds, [weird::SENSOR_ANSWERS_TRUNCATED]);
}

#[test]
fn not_dns_is_counted() {
    let mut flow = DnsFlow::new(DnsTransport::Udp);
    let out = run(&mut flow, &DnsConfig::default(), &[(0, true, b"GET / HTTP/1.1\r\n"), (1, true, &[1, 2, 3])]);
    assert!(out.records.is_empty());
    assert_eq!(out.weirds, [weird::UNKNOWN_OPCODE, weird::TRUNCATED_LEN_LT_HDR_LEN]);
    assert_eq!(flow.stats().not_dns, 2);
}

#[test]
fn records_are_recycled_in_the_steady_state() {
    let q = query(7, "Steady.Example", 1);
    let answers = [rr("steady.example", 1, 1, 60, &[192, 0, 2, 1]), rr("steady.example", 1, 1, 60, &[192, 0, 2, 2])];
    let r = response(7, "steady.example", 1, &answers);
    let transaction = || udp(&[(0, true, &q), (3, false, &r), (5, true, &query(8, "lost.example", 1))]);
    transaction(); // fills this thread's pool
    let before = record_pool_stats();
    for _ in 0..100 {
        let out = transaction();
        assert_eq!(out.records.len(), 2);
        assert!(out.records[0].answers().eq(["192.0.2.1", "192.0.2.2"]));
    }
    let after = record_pool_stats();
    assert_eq!(after.allocated, before.allocated, "no record allocated once the pool is warm");
    assert_eq!(after.reused - before.reused, 200);
    assert_eq!(after.spare, before.spare);
}

#[test]
fn recycled_records_carry_nothing_over() {
    // Records that used every field go back to the pool; the next transactions on this thread
    // reuse them and must equal the same transactions run on a fresh thread (fresh records).
    let n = MAX_ANSWERS_PER_RECORD + 1;
    let answers: Vec<Vec<u8>> = (0..n).map(|i| rr("Rich.Example", 28, 1, 9, &[i as u8; 16])).collect();
    let mut full = response(1, "rich.example", 28, &answers);
    full[2] |= 0x04;
    let rich = udp(&[(0, true, &query(1, "Rich.Example", 28)), (1, false, &full)]);
    assert!(rich.records[0].answers_truncated() && rich.records[0].original_query().is_some());
    let lean = || {
        let notify = header(2, 0x2000, [0, 0, 0, 0]);
        let mut nx = response(3, "nx.example", 1, &[]);
        nx[3] = 0x83;
        udp(&[(10, true, &notify), (11, false, &nx), (12, true, &query(4, "lean.example", 1))]).records
    };
    let here = lean();
    let fresh = std::thread::spawn(lean).join().unwrap();
    assert_eq!(here, fresh);
    assert_eq!(here.len(), 3);
    assert!(
        here.iter().all(|r| r.answers().is_empty() && r.ttls().is_empty() && r.answer_addrs().is_empty() && !r.aa),
        "{here:?}"
    );
}
