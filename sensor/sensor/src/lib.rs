//! The sensor: the pipeline that turns frames into Zeek-compatible records, its configuration,
//! and the commands of the `sensor` binary.
//!
//! | file | what it holds |
//! |---|---|
//! | `config.rs` | [`config::Config`]: the TOML configuration, defaults, validation |
//! | `pipeline.rs` | [`pipeline::Pipeline`]: decode → flows → DNS → records → detectors, one per worker |
//! | `feeds.rs` | [`feeds::Feeds`]: threat-intelligence feeds loaded at start and reloaded on change |
//! | `replay.rs` | [`replay::replay`]: capture files through a pipeline, with a [`replay::Summary`] |
//! | `run.rs` | [`run::run`]: `sensor run`, live capture until SIGINT or SIGTERM |
//! | `metrics.rs` | [`metrics`]: the Prometheus endpoint of `sensor run` |
//! | `demo.rs` | [`demo::write_pcap`]: the synthesised demo scenario |
//! | `evidence.rs` | [`evidence::Evidence`]: first and last packets of selected flows, stored at their end |
//! | `query.rs` | [`query`]: `sensor query`'s time parsing and output formats |
//! | `control.rs` | [`control`]: the control socket a running sensor answers queries on |
//! | `sync.rs` | [`sync`]: alerts also queued for the SOC hub (`--data DIR`), and the wait for its acknowledgements |
//! | `main.rs` | the command line (`sensor replay`, `run`, `query`, `evidence`, `enroll`, `demo`) |

#![forbid(unsafe_code)]

pub mod config;
pub mod control;
pub mod demo;
pub mod evidence;
pub mod feeds;
pub mod metrics;
pub mod pipeline;
pub mod query;
pub mod replay;
pub mod run;
pub mod sync;
