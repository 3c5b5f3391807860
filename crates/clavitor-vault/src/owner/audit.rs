//! The audit log and the personal key, as the owner reads them.

use axum::extract::Query;
use axum::response::Response;
use clavitor_core::api::{AuditRecord, PersonalKey, Verification};
use clavitor_store::Tx;
use serde::Deserialize;

use super::auth::Access::{Read, Write};
use super::auth::{Owner, respond};
use crate::audit;
use crate::error::VaultError;
use crate::extract::ApiJson;
use crate::sealer::Sealer;

/// Audit filters; empty values filter nothing.
#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    entry: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    /// Epoch milliseconds, inclusive.
    #[serde(default)]
    since: Option<i64>,
    /// Epoch milliseconds, exclusive.
    #[serde(default)]
    until: Option<i64>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The operation listing the records that pass `q`, oldest first.
pub(crate) fn records(
    q: AuditQuery,
) -> impl FnOnce(&mut dyn Tx, &Sealer, i64) -> Result<Vec<AuditRecord>, VaultError> + Send + 'static
{
    let agent = nonempty(q.agent).map(|a| crate::model::agent_slug(&a));
    let entry = nonempty(q.entry).map(|e| clavitor_core::normalize_name(&e));
    let action = nonempty(q.action);
    let outcome = nonempty(q.outcome);
    let since = q.since.unwrap_or(i64::MIN);
    let until = q.until.unwrap_or(i64::MAX);
    let keep = move |r: &audit::AuditRecord| {
        r.at >= since
            && r.at < until
            && agent
                .as_ref()
                .is_none_or(|a| r.event.actor.split_once(':').is_some_and(|(_, n)| n == a))
            && entry.as_ref().is_none_or(|e| {
                r.event
                    .entry
                    .as_deref()
                    .is_some_and(|n| clavitor_core::normalize_name(n) == *e)
            })
            && action.as_ref().is_none_or(|a| r.event.action == *a)
            && outcome.as_ref().is_none_or(|o| r.event.outcome == *o)
    };
    move |tx, s, _| {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = audit::page(tx, s, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            out.extend(page.into_iter().filter(&keep).map(|r| AuditRecord {
                seq: r.seq,
                at: r.at,
                actor: r.event.actor,
                action: r.event.action,
                entry: r.event.entry,
                field: r.event.field,
                host: r.event.host,
                outcome: r.event.outcome,
                reason: r.event.reason,
                source: r.event.source,
            }));
        }
        Ok(out)
    }
}

pub(super) async fn list(o: Owner, Query(q): Query<AuditQuery>) -> Response {
    respond(o.run(Read, "audit.read", None, records(q)).await)
}

pub(super) async fn verify(o: Owner) -> Response {
    respond(
        o.run(Read, "audit.verify", None, |tx, s, _| {
            let r = audit::verify(tx, s)?;
            Ok(Verification {
                ok: r.ok,
                records: r.records,
                broken_at: r.broken_at,
                problem: r.problem,
            })
        })
        .await,
    )
}

pub(super) async fn personal_key(o: Owner) -> Response {
    respond(
        o.run(Read, "personal-key.get", None, |tx, s, _| {
            crate::personal::get(tx, s)
        })
        .await,
    )
}

/// Replaces the personal key record (the owner CLI; the web vault adds one
/// wrap at a time: `web::api`).
pub(super) async fn set_personal_key(o: Owner, ApiJson(req): ApiJson<PersonalKey>) -> Response {
    respond(
        o.run(Write, "personal-key.set", None, move |tx, s, _| {
            crate::personal::set(tx, s, &req).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}
