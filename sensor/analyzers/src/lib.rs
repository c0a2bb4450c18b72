//! Application-layer analyzers of the sensor: they turn a flow's payload into records named and
//! shaped like Zeek's logs, plus Zeek-named anomalies (`weird`s).
//!
//! | module | Zeek log | status |
//! |---|---|---|
//! | [`dns`] | `dns.log`, DNS `weird`s | UDP 53/5353/5355, TCP 53 |
//! | [`stream`] | — | bounded in-order TCP reassembly shared by analyzers |
//!
//! Invariants: no input panics; every buffer and table is bounded by a named constant or a
//! configuration field; in the steady state the packet path allocates nothing per message:
//! records and anomaly text are lent to the sink, record buffers recycled (see [`dns`]). What
//! each analyzer does differently from Zeek is listed in `docs/<analyzer>.md`.
//! **Not here:** flow tracking, IP reassembly (sensor-flow, sensor-wire), log writing.

#![forbid(unsafe_code)]

pub mod dns;
pub mod stream;
