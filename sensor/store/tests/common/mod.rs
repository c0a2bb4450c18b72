//! What the store's tests share: a conn record to write.

use sensor_output::{ConnId, ConnRecord};
use sensor_wire::Timestamp;
use std::borrow::Cow;

/// A one-packet TCP attempt (`S0`) at `ts` between the endpoints of `id`.
pub fn attempt(ts: Timestamp, uid: &str, id: ConnId) -> ConnRecord<'_> {
    ConnRecord {
        ts,
        uid,
        id,
        proto: "tcp",
        service: None,
        duration: None,
        orig_bytes: None,
        resp_bytes: None,
        conn_state: "S0",
        local_orig: true,
        local_resp: false,
        missed_bytes: 0,
        history: "S",
        orig_pkts: 1,
        orig_ip_bytes: 60,
        resp_pkts: 0,
        resp_ip_bytes: 0,
        ip_proto: 6,
        community_id: Cow::Borrowed(""),
        vlan: None,
        inner_vlan: None,
    }
}
