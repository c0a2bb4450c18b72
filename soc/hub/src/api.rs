//! The HTTP+JSON API (axum) the analysts' tools and `soc-hub`'s own commands use. Every
//! endpoint but `GET /health` needs `Authorization: Bearer <admin token>` (the token the hub
//! keeps in `DIR/admin.token`, mode 0600); analyst accounts come next.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /health` | `ok` |
//! | `POST /api/v1/tokens` `{tenant, site, ttl}` | a one-time enrollment token (`ttl` like `24h`) |
//! | `GET /api/v1/ca` | the CA's SHA-256 fingerprint, to pin at enrollment |
//! | `GET /api/v1/alerts[?tenant=T]` | the alerts held, one object each with the sensor id and sequence |
//! | `GET /api/v1/sensors` | the sensors, their health and last contact |
//! | `POST /api/v1/sensors/{id}/revoke` | revokes a sensor: its next handshake fails |

use crate::tunnel::Hub;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

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
        .route("/api/v1/ca", get(ca))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/sensors", get(sensors))
        .route("/api/v1/sensors/{id}/revoke", post(revoke))
        .route_layer(axum::middleware::from_fn_with_state(api.clone(), authenticate));
    Router::new().route("/health", get(|| async { "ok" })).merge(protected).with_state(api)
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(State(api): State<Api>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(given.as_bytes(), api.admin_token.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    }
    next.run(request).await
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

async fn create_token(State(api): State<Api>, Json(req): Json<TokenRequest>) -> Response {
    let Ok(ttl) = humantime::parse_duration(&req.ttl) else {
        return (StatusCode::BAD_REQUEST, format!("ttl {:?} is not a duration like 24h\n", req.ttl)).into_response();
    };
    if req.tenant.is_empty() || req.site.is_empty() {
        return (StatusCode::BAD_REQUEST, "tenant and site must not be empty\n").into_response();
    }
    match api.hub.db.create_token(&req.tenant, &req.site, ttl.as_secs()) {
        Ok((token, expires)) => Json(serde_json::json!({"token": token, "expires": expires})).into_response(),
        Err(e) => internal(e),
    }
}

async fn ca(State(api): State<Api>) -> Response {
    Json(serde_json::json!({"sha256": crate::ca::fingerprint(api.hub.ca.cert_der())})).into_response()
}

#[derive(Deserialize)]
struct AlertQuery {
    tenant: Option<String>,
}

async fn alerts(State(api): State<Api>, Query(q): Query<AlertQuery>) -> Response {
    match api.hub.db.alerts(q.tenant.as_deref()) {
        Ok(a) => Json(a).into_response(),
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

async fn revoke(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let sensor = match api.hub.db.sensor(&id) {
        Ok(Some(s)) => s,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no sensor {id}\n")).into_response(),
        Err(e) => return internal(e),
    };
    if let Err(e) = api.hub.db.update_sensor(&id, |s| s.revoked = true).and_then(|()| api.hub.db.flush()) {
        return internal(e);
    }
    api.hub.revoked.write().unwrap_or_else(|e| e.into_inner()).insert(sensor.cert_sha256);
    eprintln!("soc-hub: revoked {id}");
    Json(serde_json::json!({"revoked": id})).into_response()
}
