//! The analysts' workflow on alerts: the queue by severity and SLA deadline, the actions
//! (acknowledge, assign, escalate, resolve with a reason, add a note), the audit trail of every
//! action, and MTTD/MTTR.
//!
//! Definitions (every time is the alert's own or the hub's clock, Unix seconds):
//! - **deadline** = the time the hub received the alert + the SLA of its severity for its tenant
//!   (defaults: critical 15 min, high 1 h, medium 24 h, low and info 72 h);
//! - **MTTD** (mean time to detect, by the SOC) = mean of (first acknowledgement − alert time);
//! - **MTTR** (mean time to respond) = mean of (resolution − alert time).
//!
//! Stored in the hub's database, trees `triage` (alert key → [`Triage`]), `audit` (time-ordered
//! id → [`AuditEntry`]), `tenants` (tenant → [`Sla`]), `users` (name → [`User`]).

use serde::{Deserialize, Serialize};

/// Seconds to respond, per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    /// Critical alerts.
    pub critical: u64,
    /// High.
    pub high: u64,
    /// Medium.
    pub medium: u64,
    /// Low and info.
    pub low: u64,
}

impl Default for Sla {
    fn default() -> Self {
        Sla { critical: 15 * 60, high: 3600, medium: 24 * 3600, low: 72 * 3600 }
    }
}

impl Sla {
    /// The seconds allowed for `severity` (the alert's JSON name).
    pub fn seconds(&self, severity: &str) -> u64 {
        match severity {
            "critical" => self.critical,
            "high" => self.high,
            "medium" => self.medium,
            _ => self.low,
        }
    }
}

/// Rank of a severity in the queue (higher first).
pub fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nobody has looked yet.
    #[default]
    New,
    /// An analyst took it.
    Acknowledged,
    /// Handed to a senior analyst or the customer.
    Escalated,
    /// Closed, with a reason.
    Resolved,
}

/// A note on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who wrote it.
    pub by: String,
    /// When (Unix seconds).
    pub at: u64,
    /// What.
    pub text: String,
}

/// The workflow state of one alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// Where it stands.
    pub status: Status,
    /// The analyst it is assigned to.
    pub assignee: Option<String>,
    /// First acknowledgement (Unix seconds).
    pub acknowledged_at: Option<u64>,
    /// Resolution (Unix seconds).
    pub resolved_at: Option<u64>,
    /// Why it was resolved (`true_positive`, `false_positive`, `benign`, ... free text).
    pub resolution: Option<String>,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
}

/// An analyst action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Take the alert.
    Acknowledge,
    /// Give it to someone.
    Assign {
        /// The analyst.
        to: String,
    },
    /// Escalate it, saying why.
    Escalate {
        /// Why.
        reason: String,
    },
    /// Close it.
    Resolve {
        /// Why (required).
        reason: String,
    },
    /// Add a note.
    Note {
        /// The note.
        text: String,
    },
}

impl Action {
    /// Applies the action by `who` at `now`; an error says why it cannot apply.
    pub fn apply(&self, t: &mut Triage, who: &str, now: u64) -> Result<(), String> {
        if t.status == Status::Resolved && !matches!(self, Action::Note { .. }) {
            return Err("the alert is resolved: only notes may be added".into());
        }
        match self {
            Action::Acknowledge => {
                t.status = Status::Acknowledged;
                t.acknowledged_at.get_or_insert(now);
                t.assignee.get_or_insert_with(|| who.to_owned());
            }
            Action::Assign { to } if to.is_empty() => return Err("assign to whom?".into()),
            Action::Assign { to } => {
                t.assignee = Some(to.clone());
                t.acknowledged_at.get_or_insert(now);
                if t.status == Status::New {
                    t.status = Status::Acknowledged;
                }
            }
            Action::Escalate { reason } => {
                t.status = Status::Escalated;
                t.acknowledged_at.get_or_insert(now);
                t.notes.push(Note { by: who.into(), at: now, text: format!("escalated: {reason}") });
            }
            Action::Resolve { reason } if reason.trim().is_empty() => return Err("a resolution needs a reason".into()),
            Action::Resolve { reason } => {
                t.status = Status::Resolved;
                t.acknowledged_at.get_or_insert(now);
                t.resolved_at = Some(now);
                t.resolution = Some(reason.clone());
            }
            Action::Note { text } if text.trim().is_empty() => return Err("an empty note".into()),
            Action::Note { text } => t.notes.push(Note { by: who.into(), at: now, text: text.clone() }),
        }
        Ok(())
    }

    /// The action's name, for the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Assign { .. } => "assign",
            Action::Escalate { .. } => "escalate",
            Action::Resolve { .. } => "resolve",
            Action::Note { .. } => "note",
        }
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (Unix seconds).
    pub at: u64,
    /// Who (an analyst, or `admin`).
    pub by: String,
    /// What (`acknowledge`, `assign`, `login`, `revoke`, ...).
    pub action: String,
    /// On what (an alert key `SENSOR:SEQ`, a sensor id, a user).
    pub target: String,
    /// Details (the assignee, the reason, the note).
    pub detail: String,
}

/// An analyst account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Argon2id hash of the password (PHC string).
    pub password_hash: String,
}

/// Mean of the differences, seconds; `None` without any.
pub fn mean(diffs: &[u64]) -> Option<f64> {
    (!diffs.is_empty()).then(|| diffs.iter().sum::<u64>() as f64 / diffs.len() as f64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn actions_follow_the_workflow() {
        let mut t = Triage::default();
        Action::Assign { to: "bob".into() }.apply(&mut t, "alice", 100).unwrap();
        assert_eq!(
            (t.status, t.assignee.as_deref(), t.acknowledged_at),
            (Status::Acknowledged, Some("bob"), Some(100))
        );
        Action::Escalate { reason: "lateral movement".into() }.apply(&mut t, "bob", 150).unwrap();
        assert_eq!(t.status, Status::Escalated);
        assert!(Action::Resolve { reason: " ".into() }.apply(&mut t, "bob", 160).is_err(), "a reason is required");
        Action::Resolve { reason: "true_positive".into() }.apply(&mut t, "bob", 200).unwrap();
        assert_eq!((t.status, t.resolved_at, t.acknowledged_at), (Status::Resolved, Some(200), Some(100)));
        assert!(Action::Acknowledge.apply(&mut t, "carol", 300).is_err(), "resolved stays resolved");
        Action::Note { text: "customer informed".into() }.apply(&mut t, "carol", 310).unwrap();
        assert_eq!(t.notes.len(), 2);
    }

    #[test]
    fn slas_and_ranks() {
        let sla = Sla::default();
        assert_eq!(sla.seconds("critical"), 900);
        assert_eq!(sla.seconds("high"), 3600);
        assert_eq!(sla.seconds("medium"), 86_400);
        assert_eq!(sla.seconds("low"), 259_200);
        assert!(rank("critical") > rank("high") && rank("high") > rank("medium") && rank("info") < rank("low"));
        assert_eq!(mean(&[10, 20]), Some(15.0));
        assert_eq!(mean(&[]), None);
    }
}
