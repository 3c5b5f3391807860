//! Agent operations of the owner: list, create, show, edit, revoke, new
//! setup token, and the owner CLI's unlock (the web vault's needs a passkey:
//! `web::api`).

use axum::extract::Query;
use axum::response::Response;
use clavitor_core::ErrorCode;
use clavitor_core::api::{AgentCreate, AgentEdit, AgentName};
use serde::Serialize;

use super::auth::Access::{Read, Write};
use super::auth::{Owner, respond};
use super::entries::NameQuery;
use crate::agents::{self, Issued};
use crate::extract::ApiJson;

/// A setup token, shown once.
#[derive(Serialize)]
struct TokenShown {
    token: String,
    expires_at: i64,
    /// The line to run on the agent's machine (for the web vault's page).
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<&'static str>,
}

const INIT_LINE: &str = "echo \"$CLAVITOR_TOKEN\" | clavitor-cli init";

fn shown(issued: Issued, cli: bool) -> TokenShown {
    TokenShown {
        token: issued.token.expose().to_string(),
        expires_at: issued.expires_at,
        init: (!cli).then_some(INIT_LINE),
    }
}

fn target(name: &str) -> Option<String> {
    Some(format!("agent:{name}"))
}

fn ok() -> serde_json::Value {
    serde_json::json!({"ok": true})
}

pub(super) async fn list(o: Owner) -> Response {
    respond(
        o.run(Read, "agent.list", None, |tx, s, _| agents::list(tx, s))
            .await,
    )
}

pub(super) async fn create(o: Owner, ApiJson(req): ApiJson<AgentCreate>) -> Response {
    let cli = o.is_cli();
    let o = match o.authorize().await {
        Ok(o) => o,
        Err(res) => return res,
    };
    let (url, pin) = (o.vault.public_url.clone(), o.vault.pin.clone());
    let name = req.name.clone();
    let result = o
        .run(
            Write,
            "agent.create",
            target(&req.name),
            move |tx, s, now| agents::create(tx, s, &req, &url, pin, now),
        )
        .await;
    tracing::info!(agent = %name, ok = result.is_ok(), "agent create");
    respond(result.map(|i| shown(i, cli)))
}

pub(super) async fn show(o: Owner, Query(q): Query<NameQuery>) -> Response {
    respond(
        o.run(Read, "agent.show", target(&q.name), move |tx, s, _| {
            let (row, _) = agents::find(tx, s, &q.name)?;
            agents::view(s, tx, &row)
        })
        .await,
    )
}

pub(super) async fn edit(o: Owner, ApiJson(req): ApiJson<AgentEdit>) -> Response {
    respond(
        o.run(
            Write,
            "agent.update",
            target(&req.name),
            move |tx, s, now| agents::edit(tx, s, &req, now).map(|()| ok()),
        )
        .await,
    )
}

pub(super) async fn revoke(o: Owner, ApiJson(req): ApiJson<AgentName>) -> Response {
    respond(
        o.run(Write, "agent.revoke", target(&req.name), move |tx, s, _| {
            agents::revoke(tx, s, &req.name).map(|()| ok())
        })
        .await,
    )
}

pub(super) async fn token(o: Owner, ApiJson(req): ApiJson<AgentName>) -> Response {
    let (url, pin) = (o.vault().public_url.clone(), o.vault().pin.clone());
    let cli = o.is_cli();
    let result = o
        .run(
            Write,
            "agent.token",
            target(&req.name),
            move |tx, s, now| agents::new_token(tx, s, &req.name, &url, pin, now),
        )
        .await;
    respond(result.map(|i| shown(i, cli)))
}

/// Unlock from the owner CLI: only while no passkey was ever enrolled
/// (DESIGN.md §7); otherwise the web vault's passkey assertion is required.
pub(super) async fn unlock(o: Owner, ApiJson(req): ApiJson<AgentName>) -> Response {
    respond(
        o.run(Write, "agent.unlock", target(&req.name), move |tx, s, _| {
            if tx.meta_get(crate::PASSKEYS_ENROLLED)?.is_some() {
                return Err(ErrorCode::PasskeyRequired.into());
            }
            agents::unlock(tx, s, &req.name).map(|()| ok())
        })
        .await,
    )
}
