//! The HTTP+JSON API (axum) the analysts' tools and `soc-hub`'s own commands use. Every
//! endpoint but `GET /health` and `POST /api/v1/login` needs `Authorization: Bearer TOKEN`:
//! the admin token the hub keeps in `DIR/admin.token` (mode 0600), or an analyst's session token
//! from `login` (valid [`SESSION`], kept in the database so they survive a restart of the hub;
//! `logout` ends one). The API is served over TLS only, with a certificate of the hub's CA
//! (`DIR/ca.pem` is what clients trust). Administration
//! (tokens, revocation, accounts, SLAs) needs the admin token.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /health` | `ok` |
//! | `POST /api/v1/login` `{user, password}` | a session token for an analyst |
//! | `POST /api/v1/logout` | ends the caller's session |
//! | `GET /api/v1/queue[?tenant=T]` | open alerts, most severe first, then by SLA deadline |
//! | `POST /api/v1/alerts/{key}/actions` `{action, ...}` | `acknowledge`, `assign {to}`, `escalate {reason}`, `resolve {reason}`, `note {text}` |
//! | `GET /api/v1/audit` | every action: who, when, what, on what |
//! | `GET /api/v1/metrics[?tenant=T]` | MTTD, MTTR, open, resolved, past deadline |
//! | `GET /api/v1/alerts[?tenant=T][&after=SENSOR:SEQ][&limit=N]` | `{alerts, next}`: the alerts held, with the sensor id and sequence, a page at a time (`next`: where the next page starts, absent at the end) |
//! | `GET /api/v1/sensors` | the sensors, their health and last contact |
//! | `POST /api/v1/sensors/{id}/commands` `{command, ...}` | issues a signed command: `evidence {uid}`; admin: `intel_feed {name, content}`, `detect_config {toml}` |
//! | `GET /api/v1/sensors/{id}/commands` | the sensor's commands and what became of them |
//! | `GET /api/v1/sensors/{id}/commands/{n}/attachment` | what the sensor's answer carried (evidence: pcapng) |
//! | `GET /api/v1/exports` | each SIEM destination: queued, sent, failures, dropped, last success and error |
//! | `GET /api/v1/ca` | the CA's SHA-256 fingerprint, to pin at enrollment |
//! | admin: `POST /api/v1/tokens` `{tenant, site, ttl}` | a one-time enrollment token (`ttl` like `24h`) |
//! | admin: `POST /api/v1/enroll-offline` `{tenant, site, hub, request}` | signs an offline enrollment request: the bundle to carry back |
//! | admin: `POST /api/v1/sensors/{id}/revoke` | revokes a sensor: its next handshake fails |
//! | admin: `POST /api/v1/users` `{name, password}` | adds or replaces an analyst account (argon2id) |
//! | admin: `PUT /api/v1/tenants/{tenant}/sla` `{critical, high, medium, low}` | a tenant's SLA, seconds |

use crate::triage::{Action, Sla, User};
use crate::tunnel::Hub;
use axum::Extension;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use soc_protocol::Command;
use soc_protocol::offline::{self, OfflineBundle, OfflineRequest};
use std::sync::Arc;
use std::time::Duration;

/// How long an analyst's session lasts.
pub const SESSION: Duration = Duration::from_secs(12 * 3600);
/// The longest tenant or site name (names are plain: they appear in URLs, logs and exports).
const MAX_NAME: usize = 64;
/// The shortest password an account may have.
const MIN_PASSWORD: usize = 12;

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// The admin token.
    Admin,
    /// An analyst, by login name.
    Analyst(String),
}

impl Who {
    fn name(&self) -> &str {
        match self {
            Who::Admin => "admin",
            Who::Analyst(n) => n,
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct Api {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The admin credential.
    pub admin_token: Arc<String>,
}

/// The router.
pub fn router(api: Api) -> Router {
    let protected = Router::new()
        .route("/api/v1/tokens", post(create_token))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/enroll-offline", post(enroll_offline))
        .route("/api/v1/ca", get(ca))
        .route("/api/v1/exports", get(|State(api): State<Api>| async move { Json(api.hub.exporters.stats()) }))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/queue", get(queue))
        .route("/api/v1/alerts/{key}/actions", post(act))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/metrics", get(metrics))
        .route("/api/v1/sensors", get(sensors))
        .route("/api/v1/sensors/{id}/revoke", post(revoke))
        .route("/api/v1/sensors/{id}/commands", post(issue_command).get(list_commands))
        .route("/api/v1/sensors/{id}/commands/{n}/attachment", get(attachment))
        .route("/api/v1/users", post(add_user))
        .route("/api/v1/tenants/{tenant}/sla", axum::routing::put(set_sla))
        .route_layer(axum::middleware::from_fn_with_state(api.clone(), authenticate));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/v1/login", post(login))
        .merge(protected)
        .with_state(api)
}

fn admin_only(who: &Who) -> Option<Response> {
    (*who != Who::Admin).then(|| (StatusCode::FORBIDDEN, "administration needs the admin token\n").into_response())
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(State(api): State<Api>, mut request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let who = if same(given.as_bytes(), api.admin_token.as_bytes()) {
        Some(Who::Admin)
    } else {
        match api.hub.db.session(&given) {
            Ok(user) => user.map(Who::Analyst),
            Err(e) => return internal(e),
        }
    };
    let Some(who) = who else {
        return (StatusCode::UNAUTHORIZED, "missing, wrong or expired bearer token\n").into_response();
    };
    request.extensions_mut().insert(who);
    next.run(request).await
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(State(api): State<Api>, Json(req): Json<Login>) -> Response {
    let user = match api.hub.db.user(&req.user) {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    let verified = user.as_ref().is_some_and(|u| {
        use argon2::PasswordVerifier as _;
        argon2::PasswordHash::new(&u.password_hash)
            .is_ok_and(|h| argon2::Argon2::default().verify_password(req.password.as_bytes(), &h).is_ok())
    });
    if !verified {
        eprintln!("soc-hub: api: failed login for {:?}", req.user);
        let _ = api.hub.db.audit(&req.user, "login_failed", &req.user, "");
        return (StatusCode::UNAUTHORIZED, "wrong user or password\n").into_response();
    }
    let token = match api.hub.db.open_session(&req.user, SESSION.as_secs()) {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let _ = api.hub.db.audit(&req.user, "login", &req.user, "");
    Json(serde_json::json!({"token": token, "expires_in": SESSION.as_secs()})).into_response()
}

async fn logout(State(api): State<Api>, Extension(who): Extension<Who>, request: axum::http::HeaderMap) -> Response {
    let token = request
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if who == Who::Admin {
        return (StatusCode::BAD_REQUEST, "the admin credential is not a session\n").into_response();
    }
    match api.hub.db.close_session(token) {
        Ok(()) => {
            let _ = api.hub.db.audit(who.name(), "logout", who.name(), "");
            Json(serde_json::json!({"logged_out": who.name()})).into_response()
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    password: String,
}

async fn add_user(State(api): State<Api>, Extension(who): Extension<Who>, Json(req): Json<NewUser>) -> Response {
    if let Some(r) = admin_only(&who) {
        return r;
    }
    if req.name.is_empty() || req.password.chars().count() < MIN_PASSWORD {
        return (StatusCode::BAD_REQUEST, format!("a name, and a password of at least {MIN_PASSWORD} characters\n"))
            .into_response();
    }
    let salt = match argon2::password_hash::SaltString::encode_b64(&rand::random::<[u8; 16]>()) {
        Ok(s) => s,
        Err(e) => return internal(anyhow::anyhow!("{e}")),
    };
    use argon2::PasswordHasher as _;
    let hash = match argon2::Argon2::default().hash_password(req.password.as_bytes(), &salt) {
        Ok(h) => h.to_string(),
        Err(e) => return internal(anyhow::anyhow!("{e}")),
    };
    let result = api.hub.db.put_user(&User { name: req.name.clone(), password_hash: hash });
    if let Err(e) = result.and_then(|()| api.hub.db.audit(who.name(), "user_add", &req.name, "")) {
        return internal(e);
    }
    Json(serde_json::json!({"user": req.name})).into_response()
}

#[derive(Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

async fn queue(State(api): State<Api>, Query(q): Query<TenantQuery>) -> Response {
    match api.hub.db.queue(q.tenant.as_deref()) {
        Ok(list) => Json(list).into_response(),
        Err(e) => internal(e),
    }
}

async fn metrics(State(api): State<Api>, Query(q): Query<TenantQuery>) -> Response {
    match api.hub.db.metrics(q.tenant.as_deref()) {
        Ok(m) => Json(m).into_response(),
        Err(e) => internal(e),
    }
}

async fn act(
    State(api): State<Api>,
    Extension(who): Extension<Who>,
    Path(key): Path<String>,
    Json(action): Json<Action>,
) -> Response {
    match api.hub.db.act(&key, &action, who.name()) {
        Ok(Ok(t)) => Json(t).into_response(),
        Ok(Err(why)) => (StatusCode::CONFLICT, format!("{why}\n")).into_response(),
        Err(e) => internal(e),
    }
}

async fn audit(State(api): State<Api>) -> Response {
    match api.hub.db.audit_trail() {
        Ok(list) => Json(list).into_response(),
        Err(e) => internal(e),
    }
}

async fn set_sla(
    State(api): State<Api>,
    Extension(who): Extension<Who>,
    Path(tenant): Path<String>,
    Json(sla): Json<Sla>,
) -> Response {
    if let Some(r) = admin_only(&who) {
        return r;
    }
    let detail = format!("{sla:?}");
    match api.hub.db.set_sla(&tenant, &sla).and_then(|()| api.hub.db.audit(who.name(), "set_sla", &tenant, &detail)) {
        Ok(()) => Json(sla).into_response(),
        Err(e) => internal(e),
    }
}

fn internal(e: anyhow::Error) -> Response {
    eprintln!("soc-hub: api: {e:#}");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    tenant: String,
    site: String,
    ttl: String,
}

/// Tenant and site names are plain (they appear in URLs, logs and exports): the refusal if not.
fn plain_names(tenant: &str, site: &str) -> Option<Response> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_NAME
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let msg = || format!("tenant and site: 1 to {MAX_NAME} letters, digits, '.', '-' or '_'\n");
    (!plain(tenant) || !plain(site)).then(|| (StatusCode::BAD_REQUEST, msg()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflineEnrollment {
    tenant: String,
    site: String,
    /// `HOST:PORT` the sensor will sync to.
    hub: String,
    request: OfflineRequest,
}

async fn enroll_offline(
    State(api): State<Api>,
    Extension(who): Extension<Who>,
    Json(req): Json<OfflineEnrollment>,
) -> Response {
    if let Some(r) = admin_only(&who).or_else(|| plain_names(&req.tenant, &req.site)) {
        return r;
    }
    if req.request.format != offline::REQUEST_FORMAT {
        let msg = format!("request format {:?}, expected {:?}\n", req.request.format, offline::REQUEST_FORMAT);
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    let csr = match ::pem::parse(&req.request.csr_pem) {
        Ok(p) if p.tag() == "CERTIFICATE REQUEST" => p.into_contents(),
        _ => return (StatusCode::BAD_REQUEST, "csr_pem: not a PEM certificate request\n").into_response(),
    };
    let (id, cert) = match api.hub.enroll(&req.tenant, &req.site, &csr) {
        Ok(Ok(issued)) => issued,
        Ok(Err(why)) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Err(e) => return internal(e),
    };
    let _ = api.hub.db.audit(who.name(), "enroll_offline", &id, &format!("tenant {} site {}", req.tenant, req.site));
    let pem = |der: &[u8]| soc_protocol::pem("CERTIFICATE", der);
    Json(OfflineBundle {
        format: offline::BUNDLE_FORMAT.into(),
        hub: req.hub,
        sensor_id: id,
        tenant: req.tenant,
        site: req.site,
        cert_pem: pem(&cert),
        ca_pem: pem(api.hub.ca.cert_der()),
        command_key: {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(api.hub.signer.public())
        },
    })
    .into_response()
}

async fn create_token(
    State(api): State<Api>,
    Extension(who): Extension<Who>,
    Json(req): Json<TokenRequest>,
) -> Response {
    if let Some(r) = admin_only(&who) {
        return r;
    }
    let Ok(ttl) = humantime::parse_duration(&req.ttl) else {
        return (StatusCode::BAD_REQUEST, format!("ttl {:?} is not a duration like 24h\n", req.ttl)).into_response();
    };
    if let Some(r) = plain_names(&req.tenant, &req.site) {
        return r;
    }
    let detail = format!("site {} ttl {}", req.site, req.ttl);
    let created = api.hub.db.create_token(&req.tenant, &req.site, ttl.as_secs());
    match created.and_then(|t| api.hub.db.audit(who.name(), "token_create", &req.tenant, &detail).map(|()| t)) {
        Ok((token, expires)) => Json(serde_json::json!({"token": token, "expires": expires})).into_response(),
        Err(e) => internal(e),
    }
}

async fn ca(State(api): State<Api>) -> Response {
    Json(serde_json::json!({"sha256": crate::ca::fingerprint(api.hub.ca.cert_der())})).into_response()
}

/// Alerts per page of `GET /api/v1/alerts` unless asked otherwise, and at most.
const PAGE: usize = 1_000;
const MAX_PAGE: usize = 10_000;

#[derive(Deserialize)]
struct AlertsQuery {
    tenant: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn alerts(State(api): State<Api>, Query(q): Query<AlertsQuery>) -> Response {
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    if let Some(after) = &q.after
        && crate::db::parse_alert_name(after).is_none()
    {
        return (StatusCode::BAD_REQUEST, format!("after={after:?}: not an alert name (SENSOR:SEQ)\n")).into_response();
    }
    match api.hub.db.alerts(q.tenant.as_deref(), q.after.as_deref(), limit) {
        Ok((alerts, next)) => Json(serde_json::json!({"alerts": alerts, "next": next})).into_response(),
        Err(e) => internal(e),
    }
}

async fn sensors(State(api): State<Api>) -> Response {
    match api.hub.db.sensors() {
        Ok(list) => Json(
            list.into_iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id, "tenant": s.tenant, "site": s.site, "revoked": s.revoked,
                        "software": s.software, "last_seen": s.last_seen, "enrolled": s.enrolled,
                        "health": {
                            "heartbeat_at": s.heartbeat_at, "rx_packets_per_sec": s.rx_rate,
                            "rx_packets": s.health.rx_packets, "kernel_drops": s.health.kernel_drops,
                            "backlog": s.health.backlog, "backlog_age_secs": s.health.backlog_age_secs,
                            "store_bytes": s.health.store_bytes, "disk_free_bytes": s.health.disk_free_bytes,
                        },
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn revoke(State(api): State<Api>, Extension(who): Extension<Who>, Path(id): Path<String>) -> Response {
    if let Some(r) = admin_only(&who) {
        return r;
    }
    let sensor = match api.hub.db.sensor(&id) {
        Ok(Some(s)) => s,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no sensor {id}\n")).into_response(),
        Err(e) => return internal(e),
    };
    if let Err(e) = api.hub.db.update_sensor(&id, |s| s.revoked = true).and_then(|()| api.hub.db.flush()) {
        return internal(e);
    }
    api.hub.revoked.write().unwrap_or_else(|e| e.into_inner()).extend(sensor.certificates());
    let _ = api.hub.db.audit(who.name(), "revoke", &id, "");
    eprintln!("soc-hub: revoked {id}");
    Json(serde_json::json!({"revoked": id})).into_response()
}

/// A command as the API takes it.
#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum CommandRequest {
    /// Install a feed file.
    IntelFeed { name: String, content: String },
    /// Send up a flow's evidence packets.
    Evidence { uid: String },
    /// Replace the detectors' settings (`[detect]` as TOML, without `intel`).
    DetectConfig { toml: String },
}

async fn issue_command(
    State(api): State<Api>,
    Extension(who): Extension<Who>,
    Path(id): Path<String>,
    Json(req): Json<CommandRequest>,
) -> Response {
    match api.hub.db.sensor(&id) {
        Ok(Some(s)) if !s.revoked => {}
        Ok(Some(_)) => return (StatusCode::CONFLICT, format!("sensor {id} is revoked\n")).into_response(),
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no sensor {id}\n")).into_response(),
        Err(e) => return internal(e),
    }
    // Evidence is part of an analyst's triage; what changes a sensor's detection is
    // administration.
    if !matches!(req, CommandRequest::Evidence { .. })
        && let Some(r) = admin_only(&who)
    {
        return r;
    }
    let command = match req {
        CommandRequest::IntelFeed { name, content } => Command::IntelFeed { name, content: content.into_bytes() },
        CommandRequest::Evidence { uid } => Command::Evidence { uid },
        CommandRequest::DetectConfig { toml } => Command::DetectConfig { toml },
    };
    match api.hub.db.queue_command(&api.hub.signer, &id, command, who.name()) {
        Ok(n) => {
            api.hub.command_issued();
            Json(serde_json::json!({"sensor_id": id, "id": n})).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn list_commands(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let list = api.hub.db.commands(&id).and_then(|list| {
        list.into_iter()
            .map(|c| {
                let mut v = serde_json::to_value(&c)?;
                // The signed bytes are for the sensor.
                v.as_object_mut().map(|o| o.remove("signed"));
                Ok(v)
            })
            .collect::<anyhow::Result<Vec<_>>>()
    });
    match list {
        Ok(list) => Json(list).into_response(),
        Err(e) => internal(e),
    }
}

async fn attachment(State(api): State<Api>, Path((id, n)): Path<(String, u64)>) -> Response {
    match api.hub.db.attachment(&id, n) {
        Ok(Some(bytes)) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, format!("no attachment for command {n} of {id}\n")).into_response(),
        Err(e) => internal(e),
    }
}
