//! `sensor query`: records from the store, as JSON lines or a table.

use sensor_output::json;
use sensor_store::{Decoded, Hit, Query, StoreError};
use sensor_wire::Timestamp;
use std::io::Write;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line, as in the `.jsonl` files, with `_path` naming the record type
    /// (the field Zeek's JSON streaming logs use).
    Json,
    /// Aligned columns for a terminal.
    Table,
    /// Alerts as OCSF Detection Findings (class 2004), one JSON object per line.
    Ocsf,
}

/// Parses a time given as Unix seconds (`1700000000`, `1700000000.25`) or RFC 3339
/// (`2026-11-01T08:00:00Z`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(Timestamp((secs * 1e9) as u64));
    }
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("`{text}` is neither Unix seconds nor an RFC 3339 time: {e}"))?;
    let since = t.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("`{text}` is before 1970"))?;
    Ok(Timestamp(since.as_nanos() as u64))
}

/// One line of a query's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A row of the output (a JSON object, the table header, a table row), without newline.
    Row(&'a [u8]),
    /// A damaged block or record that was skipped.
    Warning(&'a str),
}

/// Renders every result of `results` in `format`, handing each line to `emit`; returns how many
/// records were rendered and how many damaged blocks or records were skipped.
pub fn render(
    results: impl Iterator<Item = Result<Hit, StoreError>>,
    format: Format,
    emit: &mut dyn FnMut(Line<'_>) -> std::io::Result<()>,
) -> std::io::Result<(u64, u64)> {
    let (mut rendered, mut damaged) = (0, 0);
    let mut line = Vec::new();
    if format == Format::Table {
        let header = format!("{:<24} {:<5} {:<20} {:<47} details", "ts", "type", "uid", "orig → resp");
        emit(Line::Row(header.as_bytes()))?;
    }
    for hit in results {
        let record = match hit.as_ref().map_err(|e| anyhow::anyhow!("{e}")).and_then(|h| Ok(h.decoded()?)) {
            Ok(record) => record,
            Err(e) => {
                damaged += 1;
                emit(Line::Warning(&format!("{e:#}")))?;
                continue;
            }
        };
        line.clear();
        match format {
            Format::Json => json_line(&record, &mut line),
            Format::Table => table_row(&record, &mut line),
            Format::Ocsf => match &record {
                Decoded::Alert(a) => {
                    let finding = sensor_detect::ocsf::detection_finding(a, env!("CARGO_PKG_VERSION"));
                    line.extend_from_slice(finding.to_string().as_bytes());
                }
                // The CLI asks for alerts only with this format; anything else is shown as is.
                other => json_line(other, &mut line),
            },
        }
        emit(Line::Row(&line))?;
        rendered += 1;
    }
    Ok((rendered, damaged))
}

/// Prints every result of `results` to `out`, warnings to stderr; returns how many were printed
/// and how many damaged blocks or records were skipped.
pub fn print(
    results: impl Iterator<Item = Result<Hit, StoreError>>,
    format: Format,
    out: &mut impl Write,
) -> std::io::Result<(u64, u64)> {
    let counts = render(results, format, &mut |line| match line {
        Line::Row(row) => {
            out.write_all(row)?;
            out.write_all(b"\n")
        }
        Line::Warning(w) => {
            eprintln!("sensor: warning: {w}");
            Ok(())
        }
    })?;
    out.flush()?;
    Ok(counts)
}

/// The record's JSON line with `_path` first.
fn json_line(record: &Decoded<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"_path\":");
    json::string(out, record.kind().name());
    out.push(b',');
    let start = out.len();
    record.write_json(out);
    // The record's own object starts with `{`: drop it, the one above opens the object.
    out.remove(start);
}

fn table_row(record: &Decoded<'_>, out: &mut Vec<u8>) {
    use std::fmt::Write as _;
    let mut row = String::new();
    let time = humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + record.ts().since(Timestamp(0)));
    let endpoints = |id: &sensor_output::ConnId| format!("{}:{} → {}:{}", id.orig_h, id.orig_p, id.resp_h, id.resp_p);
    let _ = match record {
        Decoded::Conn(c) => write!(
            row,
            "{time:<24} {:<5} {:<20} {:<47} {} {} {} {} {}/{} bytes",
            "conn",
            c.uid,
            endpoints(&c.id),
            c.proto,
            c.service.unwrap_or("-"),
            c.conn_state,
            if c.history.is_empty() { "-" } else { c.history },
            c.orig_bytes.unwrap_or(0),
            c.resp_bytes.unwrap_or(0),
        ),
        Decoded::Dns(d) => {
            let r = &*d.rec;
            let answers: Vec<&str> = r.answers().collect();
            write!(
                row,
                "{time:<24} {:<5} {:<20} {:<47} {} {} {} {}",
                "dns",
                d.uid,
                endpoints(&d.id),
                r.query().unwrap_or("-"),
                r.qtype_name().as_deref().unwrap_or("-"),
                r.rcode_name().as_deref().unwrap_or("-"),
                if answers.is_empty() { "-".to_owned() } else { answers.join(",") },
            )
        }
        Decoded::Evidence(e) => write!(
            row,
            "{time:<24} {:<5} {:<20} {:<47} {} packets, {} bytes, {} skipped",
            "evid",
            e.uid,
            endpoints(&e.id),
            e.packets.len(),
            e.packets.iter().map(|p| p.data.len()).sum::<usize>(),
            e.skipped,
        ),
        Decoded::Alert(a) => write!(
            row,
            "{time:<24} {:<5} {:<20} {:<47} {} {}",
            "alert",
            a.id,
            match &a.dst {
                Some(dst) => format!("{} → {}", a.src.ip, dst.ip),
                None => a.src.ip.to_string(),
            },
            a.severity,
            a.title,
        ),
        Decoded::Weird(w) => write!(
            row,
            "{time:<24} {:<5} {:<20} {:<47} {} {}",
            "weird",
            w.uid.unwrap_or("-"),
            w.id.as_ref().map_or_else(|| "-".to_owned(), endpoints),
            w.name,
            w.addl.unwrap_or(""),
        ),
    };
    out.extend_from_slice(row.trim_end().as_bytes());
}

/// A query with nothing but defaults would print the whole store: the CLI caps it unless asked.
pub const DEFAULT_LIMIT: usize = 1000;

/// Whether a query is unrestricted (no filter at all).
pub fn is_unfiltered(q: &Query) -> bool {
    q.host.is_none() && q.domain.is_none() && q.uid.is_none() && q.community_id.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_seconds_or_rfc3339() {
        assert_eq!(parse_time("1700000000").unwrap(), Timestamp(1_700_000_000_000_000_000));
        assert_eq!(parse_time("1700000000.5").unwrap(), Timestamp(1_700_000_000_500_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), Timestamp(1_700_000_000_000_000_000));
        assert!(parse_time("yesterday").unwrap_err().contains("yesterday"));
        assert!(parse_time("-5").is_err());
    }
}
