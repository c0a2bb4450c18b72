//! HTTP destinations, one request per batch:
//!
//! - **Splunk HEC**: `POST URL/services/collector/event`, `Authorization: Splunk TOKEN`, the
//!   events one after another, each `{time, host (the sensor), source "soc-hub", sourcetype
//!   "ocsf:detection_finding", [index], event (the finding)}`. Taken when the answer is 200
//!   with `code` 0.
//! - **Elasticsearch bulk**: `POST URL/_bulk` (`application/x-ndjson`), for each finding a
//!   `create` action with `_id` = `SENSOR:SEQ`, then the finding. Taken when every item was
//!   created or exists already (409): sending a batch again never makes a second document.

use crate::exporter::{Doc, Refused, Sink};
use serde_json::{Value, json};

/// Bytes of an error answer kept for the log.
const ERROR_EXCERPT: usize = 300;

pub(crate) enum Api {
    Hec { token: String, index: Option<String> },
    Elastic { index: String, api_key: Option<String> },
}

pub(crate) struct HttpSink {
    agent: ureq::Agent,
    url: String,
    api: Api,
}

impl HttpSink {
    pub fn new(agent: ureq::Agent, base: &str, api: Api) -> HttpSink {
        let base = base.trim_end_matches('/');
        let url = match api {
            Api::Hec { .. } => format!("{base}/services/collector/event"),
            Api::Elastic { .. } => format!("{base}/_bulk"),
        };
        HttpSink { agent, url, api }
    }

    fn body(&self, batch: &[Doc]) -> Vec<u8> {
        let mut body = Vec::new();
        for doc in batch {
            let lines = match &self.api {
                Api::Hec { index, .. } => {
                    let mut event = json!({
                        "time": doc.finding["time"].as_f64().unwrap_or(0.0) / 1000.0,
                        "host": doc.stored["sensor_id"],
                        "source": "soc-hub",
                        "sourcetype": "ocsf:detection_finding",
                        "event": doc.finding,
                    });
                    if let Some(index) = index {
                        event["index"] = index.as_str().into();
                    }
                    vec![event]
                }
                Api::Elastic { index, .. } => {
                    vec![json!({"create": {"_index": index, "_id": doc.uid}}), doc.finding.clone()]
                }
            };
            for line in lines {
                body.extend_from_slice(line.to_string().as_bytes());
                body.push(b'\n');
            }
        }
        body
    }

    /// Whether the answer says every event was taken; which were refused for good otherwise.
    fn accepted(&self, answer: &Value, batch: &[Doc]) -> Result<(), Refused> {
        match &self.api {
            Api::Hec { .. } if answer["code"] == 0 => Ok(()),
            Api::Hec { .. } => Err(Refused::Retry(format!("HEC answered {answer}"))),
            Api::Elastic { .. } if answer["errors"] == false => Ok(()),
            Api::Elastic { .. } => {
                let items = answer["items"].as_array().ok_or(Refused::Retry("bulk answer without items".into()))?;
                let status = |i: &Value| i["create"]["status"].as_u64().unwrap_or(0);
                if let Some(item) =
                    items.iter().find(|i| !matches!(status(i), 200 | 201 | 409) && !permanent(status(i)))
                {
                    return Err(Refused::Retry(format!("bulk item refused: {}", item["create"])));
                }
                let never: Vec<String> =
                    items.iter().zip(batch).filter(|(i, _)| permanent(status(i))).map(|(_, d)| d.uid.clone()).collect();
                match never.is_empty() {
                    true => Ok(()),
                    false => Err(Refused::Never(never, "bulk items refused as malformed".into())),
                }
            }
        }
    }
}

/// An HTTP status saying the request itself is wrong (malformed, too large, unprocessable):
/// sending it again cannot succeed. Credentials refused (401, 403), throttling (429) and server
/// errors are retried.
fn permanent(status: u64) -> bool {
    matches!(status, 400 | 413 | 422)
}

impl Sink for HttpSink {
    fn send(&mut self, batch: &[Doc]) -> Result<(), Refused> {
        let body = self.body(batch);
        let request = self.agent.post(&self.url);
        let request = match &self.api {
            Api::Hec { token, .. } => {
                request.header("Authorization", &format!("Splunk {token}")).header("Content-Type", "application/json")
            }
            Api::Elastic { api_key, .. } => {
                let request = request.header("Content-Type", "application/x-ndjson");
                match api_key {
                    Some(key) => request.header("Authorization", &format!("ApiKey {key}")),
                    None => request,
                }
            }
        };
        // ureq's errors name the URL, never the headers: the secret stays out of the log.
        let mut response = request.send(&body[..]).map_err(|e| Refused::Retry(format!("{}: {e}", self.url)))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !status.is_success() {
            let excerpt: String = text.chars().take(ERROR_EXCERPT).collect();
            let why = format!("{}: {status}: {excerpt}", self.url);
            return Err(match permanent(u64::from(status.as_u16())) {
                true => Refused::Never(batch.iter().map(|d| d.uid.clone()).collect(), why),
                false => Refused::Retry(why),
            });
        }
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| Refused::Retry(format!("{}: answer is not JSON: {e}", self.url)))?;
        self.accepted(&answer, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(api: Api) -> HttpSink {
        HttpSink::new(ureq::Agent::new_with_defaults(), "http://127.0.0.1:1/", api)
    }

    fn docs(n: usize) -> Vec<Doc> {
        (0..n).map(|i| Doc { uid: format!("s:{i}"), stored: json!({}), finding: json!({}) }).collect()
    }

    #[test]
    fn bulk_answers_sort_taken_retried_and_never_taken_items() {
        let es = sink(Api::Elastic { index: "i".into(), api_key: None });
        assert_eq!(es.url, "http://127.0.0.1:1/_bulk");
        let dup = json!({"errors": true, "items": [{"create": {"status": 201}}, {"create": {"status": 409}}]});
        assert!(es.accepted(&dup, &docs(2)).is_ok());
        let bad = json!({"errors": true, "items": [{"create": {"status": 201}}, {"create": {"status": 400, "error": {"type": "mapper_parsing_exception"}}}]});
        assert!(matches!(es.accepted(&bad, &docs(2)), Err(Refused::Never(uids, _)) if uids == ["s:1"]));
        let busy = json!({"errors": true, "items": [{"create": {"status": 400}}, {"create": {"status": 429}}]});
        assert!(matches!(es.accepted(&busy, &docs(2)), Err(Refused::Retry(_))));
        let hec = sink(Api::Hec { token: "t".into(), index: None });
        assert_eq!(hec.url, "http://127.0.0.1:1/services/collector/event");
        assert!(matches!(hec.accepted(&json!({"text": "Invalid token", "code": 4}), &docs(1)), Err(Refused::Retry(_))));
    }
}
