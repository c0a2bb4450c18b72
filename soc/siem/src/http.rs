//! HTTP destinations, one request per batch:
//!
//! - **Splunk HEC**: `POST URL/services/collector/event`, `Authorization: Splunk TOKEN`, the
//!   events one after another, each `{time, host (the sensor), source "soc-hub", sourcetype
//!   "ocsf:detection_finding", [index], event (the finding)}`. Taken when the answer is 200
//!   with `code` 0.
//! - **Elasticsearch bulk**: `POST URL/_bulk` (`application/x-ndjson`), for each finding a
//!   `create` action with `_id` = `SENSOR:SEQ`, then the finding. Taken when every item was
//!   created or exists already (409): sending a batch again never makes a second document.

use crate::exporter::{Doc, Sink};
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

    /// Whether the answer says every event was taken.
    fn accepted(&self, answer: &Value) -> Result<(), String> {
        match &self.api {
            Api::Hec { .. } if answer["code"] == 0 => Ok(()),
            Api::Hec { .. } => Err(format!("HEC answered {answer}")),
            Api::Elastic { .. } if answer["errors"] == false => Ok(()),
            Api::Elastic { .. } => {
                let items = answer["items"].as_array().ok_or("bulk answer without items")?;
                let failed = items.iter().find(|i| !matches!(i["create"]["status"].as_u64(), Some(200 | 201 | 409)));
                match failed {
                    Some(item) => Err(format!("bulk item refused: {}", item["create"])),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Sink for HttpSink {
    fn send(&mut self, batch: &[Doc]) -> Result<(), String> {
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
        let mut response = request.send(&body[..]).map_err(|e| format!("{}: {e}", self.url))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !status.is_success() {
            let excerpt: String = text.chars().take(ERROR_EXCERPT).collect();
            return Err(format!("{}: {status}: {excerpt}", self.url));
        }
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: answer is not JSON: {e}", self.url))?;
        self.accepted(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(api: Api) -> HttpSink {
        HttpSink::new(ureq::Agent::new_with_defaults(), "http://127.0.0.1:1/", api)
    }

    #[test]
    fn bulk_answers_with_existing_documents_count_as_taken() {
        let es = sink(Api::Elastic { index: "i".into(), api_key: None });
        assert_eq!(es.url, "http://127.0.0.1:1/_bulk");
        let dup = json!({"errors": true, "items": [{"create": {"status": 201}}, {"create": {"status": 409}}]});
        assert_eq!(es.accepted(&dup), Ok(()));
        let bad = json!({"errors": true, "items": [{"create": {"status": 400, "error": {"type": "mapper_parsing_exception"}}}]});
        assert!(es.accepted(&bad).unwrap_err().contains("mapper_parsing_exception"));
        let hec = sink(Api::Hec { token: "t".into(), index: None });
        assert_eq!(hec.url, "http://127.0.0.1:1/services/collector/event");
        assert!(hec.accepted(&json!({"text": "Invalid token", "code": 4})).is_err());
    }
}
