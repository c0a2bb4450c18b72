//! The SOC hub: where the sensors' alerts arrive, and where analysts read them.
//!
//! | file | what it holds |
//! |---|---|
//! | `ca.rs` | the hub's CA: its server certificate, the sensors' certificates |
//! | `db.rs` | the sled database: tokens, sensors, alerts (stored once, flushed before the ack) |
//! | `commands.rs` | commands for sensors: the command key, signing, queue, results, evidence |
//! | `tunnel.rs` | the sensors' TLS 1.3 endpoint: enrollment, alert ingest, heartbeats, revocation |
//! | `triage.rs` | the analysts' workflow: SLA queue, actions, audit trail, MTTD/MTTR, accounts |
//! | `api.rs` | the HTTP+JSON API (admin token or analyst sessions) |
//! | `https.rs` | the API's TLS listener |
//! | `main.rs` | `soc-hub serve`, and the commands that talk to a running hub's API |

#![forbid(unsafe_code)]

pub mod api;
pub mod ca;
pub mod commands;
pub mod db;
pub mod https;
pub mod triage;
pub mod tunnel;
