//! Entry operations of the owner: list, create, show (and reveal), edit,
//! delete, history.

use axum::extract::Query;
use axum::response::Response;
use clavitor_core::api::{EntryCreate, EntryDelete, EntryEdit, EntryView};
use clavitor_store::Tx;
use serde::Deserialize;

use super::auth::Access::{Read, Write};
use super::auth::{Owner, respond};
use crate::entries;
use crate::error::VaultError;
use crate::extract::ApiJson;
use crate::sealer::Sealer;

#[derive(Deserialize)]
pub(crate) struct NameQuery {
    pub name: String,
    #[serde(default)]
    pub reveal: bool,
}

/// One entry as the owner sees it; shared values only if `reveal`.
pub(crate) fn view(
    tx: &mut dyn Tx,
    s: &Sealer,
    name: &str,
    reveal: bool,
) -> Result<EntryView, VaultError> {
    let (row, body) = entries::find(tx, s, name)?;
    Ok(entries::view(
        s,
        &row.id,
        row.rev,
        row.updated_at,
        &body,
        reveal,
    ))
}

pub(super) async fn list(o: Owner) -> Response {
    respond(
        o.run(Read, "entry.list", None, |tx, s, _| entries::list(tx, s))
            .await,
    )
}

pub(super) async fn create(o: Owner, ApiJson(req): ApiJson<EntryCreate>) -> Response {
    let name = Some(req.name.clone());
    respond(
        o.run(Write, "entry.create", name, move |tx, s, now| {
            entries::create(tx, s, &req, now)
        })
        .await,
    )
}

/// `?reveal=true` reveals shared values from the owner CLI, an access like
/// any other: audited. The web vault reveals with a POST (`entry/reveal`,
/// CSRF-checked); its GET ignores `reveal`.
pub(super) async fn show(o: Owner, Query(q): Query<NameQuery>) -> Response {
    let name = Some(q.name.clone());
    if q.reveal && o.is_cli() {
        respond(
            o.run(Write, "reveal", name, move |tx, s, _| {
                view(tx, s, &q.name, true)
            })
            .await,
        )
    } else {
        respond(
            o.run(Read, "entry.show", name, move |tx, s, _| {
                view(tx, s, &q.name, false)
            })
            .await,
        )
    }
}

pub(super) async fn edit(o: Owner, ApiJson(req): ApiJson<EntryEdit>) -> Response {
    let name = Some(req.name.clone());
    respond(
        o.run(Write, "entry.update", name, move |tx, s, now| {
            entries::edit(tx, s, &req, now)
        })
        .await,
    )
}

pub(super) async fn delete(o: Owner, ApiJson(req): ApiJson<EntryDelete>) -> Response {
    let name = Some(req.name.clone());
    respond(
        o.run(Write, "entry.delete", name, move |tx, s, now| {
            entries::delete(tx, s, &req.name, req.rev, now)
                .map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}

pub(super) async fn history(o: Owner, Query(q): Query<NameQuery>) -> Response {
    let name = Some(q.name.clone());
    respond(
        o.run(Read, "entry.history", name, move |tx, s, _| {
            entries::history(tx, s, &q.name)
        })
        .await,
    )
}
