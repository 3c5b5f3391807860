//! A typed HTTP client of the Clavitor vault API, for the agent CLI, the
//! proxy and the owner CLI. It never goes through `HTTPS_PROXY`: the proxy
//! is a client of this crate, and its own vault calls must not loop back.

mod pin;

use std::time::Duration;

use clavitor_core::api::*;
use clavitor_core::error::ErrorBody;
use clavitor_core::{ErrorCode, Secret};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The vault answered with a CV code.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    /// The vault could not be reached at all.
    #[error("cannot reach the vault at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The vault answered something this client does not understand.
    #[error("unexpected answer from the vault at {url}: {detail}")]
    Protocol { url: String, detail: String },
    /// The client could not be built (bad URL, TLS setup).
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    /// The stable code of a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } => ErrorCode::from_code(code),
            _ => None,
        }
    }
}

/// A connection to one vault with one bearer credential (agent or owner).
#[derive(Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    base: String,
    bearer: Option<Secret>,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl VaultClient {
    /// A client of the vault at `base_url` (e.g. `http://127.0.0.1:1984`).
    pub fn new(base_url: &str, bearer: Option<Secret>) -> Result<VaultClient, ClientError> {
        let base = base_url.trim_end_matches('/').to_string();
        let parsed = url_scheme(&base)
            .ok_or_else(|| ClientError::Setup(format!("not an http(s) URL: {base}")))?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("clavitor/", env!("CARGO_PKG_VERSION")));
        if parsed == "http" {
            // No TLS on this connection: skip loading the system roots,
            // which dominates the start of a short-lived CLI process.
            builder = builder.http1_only().tls_certs_only(Vec::new());
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Setup(format!("cannot set up HTTP: {e}")))?;
        Ok(VaultClient { http, base, bearer })
    }

    /// The same client (credential, settings) pointed at another URL.
    pub fn with_base_url(&self, base_url: &str) -> VaultClient {
        VaultClient {
            http: self.http.clone(),
            base: base_url.trim_end_matches('/').to_string(),
            bearer: self.bearer.clone(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b.expose());
        }
        req
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let res = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            detail: short_error(&e),
        })?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            detail: short_error(&e),
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| ClientError::Protocol {
                url: self.base.clone(),
                detail: format!("HTTP {status} with a body that is not the expected JSON"),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Refused {
                code: body.code,
                message: body.message,
            }),
            Err(_) => Err(ClientError::Protocol {
                url: self.base.clone(),
                detail: format!(
                    "HTTP {status} without a Clavitor error body (is this a Clavitor vault?)"
                ),
            }),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::GET, path).query(query))
            .await
    }

    // ---- agent calls ------------------------------------------------------

    pub async fn enroll(&self, token: &Secret) -> Result<EnrollResponse, ClientError> {
        self.post(
            "/v1/agent/enroll",
            &EnrollRequest {
                token: token.expose().to_string(),
            },
        )
        .await
    }

    pub async fn read(
        &self,
        entry: &str,
        field: Option<&str>,
        channel: Channel,
    ) -> Result<ReadResponse, ClientError> {
        let req = ReadRequest {
            entry: entry.to_string(),
            field: field.map(str::to_string),
            channel,
        };
        self.post("/v1/agent/read", &req).await
    }

    pub async fn totp(&self, entry: &str, channel: Channel) -> Result<TotpResponse, ClientError> {
        let req = TotpRequest {
            entry: entry.to_string(),
            channel,
        };
        self.post("/v1/agent/totp", &req).await
    }

    pub async fn inject(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
        scheme: &str,
    ) -> Result<Secret, ClientError> {
        let req = InjectRequest {
            entry: entry.to_string(),
            field: field.to_string(),
            host: host.to_string(),
            port,
            scheme: scheme.to_string(),
        };
        let res: InjectResponse = self.post("/v1/agent/inject", &req).await?;
        Ok(Secret::new(res.value))
    }

    pub async fn report_reflection(&self, report: &ReflectionReport) -> Result<(), ClientError> {
        let _: serde_json::Value = self.post("/v1/agent/reflected", report).await?;
        Ok(())
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get("/v1/agent/whoami", &[]).await
    }

    // ---- owner calls ------------------------------------------------------

    pub async fn entries(&self) -> Result<Vec<EntryView>, ClientError> {
        self.get("/v1/owner/entries", &[]).await
    }

    pub async fn create_entry(&self, req: &EntryCreate) -> Result<EntryView, ClientError> {
        self.post("/v1/owner/entries", req).await
    }

    pub async fn entry(&self, name: &str, reveal: bool) -> Result<EntryView, ClientError> {
        let reveal = if reveal { "true" } else { "false" };
        self.get("/v1/owner/entry", &[("name", name), ("reveal", reveal)])
            .await
    }

    pub async fn edit_entry(&self, req: &EntryEdit) -> Result<EntryView, ClientError> {
        self.post("/v1/owner/entry/edit", req).await
    }

    pub async fn delete_entry(&self, name: &str, rev: u64) -> Result<(), ClientError> {
        let req = EntryDelete {
            name: name.to_string(),
            rev,
        };
        let _: serde_json::Value = self.post("/v1/owner/entry/delete", &req).await?;
        Ok(())
    }

    pub async fn entry_history(&self, name: &str) -> Result<Vec<RevisionView>, ClientError> {
        self.get("/v1/owner/entry/history", &[("name", name)]).await
    }

    pub async fn agents(&self) -> Result<Vec<AgentView>, ClientError> {
        self.get("/v1/owner/agents", &[]).await
    }

    pub async fn create_agent(&self, req: &AgentCreate) -> Result<SetupTokenResponse, ClientError> {
        self.post("/v1/owner/agents", req).await
    }

    pub async fn agent(&self, name: &str) -> Result<AgentView, ClientError> {
        self.get("/v1/owner/agent", &[("name", name)]).await
    }

    pub async fn edit_agent(&self, req: &AgentEdit) -> Result<(), ClientError> {
        let _: serde_json::Value = self.post("/v1/owner/agent/edit", req).await?;
        Ok(())
    }

    async fn agent_action<T: DeserializeOwned>(
        &self,
        action: &str,
        name: &str,
    ) -> Result<T, ClientError> {
        let req = AgentName {
            name: name.to_string(),
        };
        self.post(&format!("/v1/owner/agent/{action}"), &req).await
    }

    pub async fn revoke_agent(&self, name: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self.agent_action("revoke", name).await?;
        Ok(())
    }

    pub async fn unlock_agent(&self, name: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self.agent_action("unlock", name).await?;
        Ok(())
    }

    pub async fn agent_token(&self, name: &str) -> Result<SetupTokenResponse, ClientError> {
        self.agent_action("token", name).await
    }

    pub async fn audit(
        &self,
        agent: Option<&str>,
        entry: Option<&str>,
        since_ms: Option<i64>,
    ) -> Result<Vec<AuditRecord>, ClientError> {
        let since = since_ms.map(|s| s.to_string());
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = agent {
            q.push(("agent", a));
        }
        if let Some(e) = entry {
            q.push(("entry", e));
        }
        if let Some(s) = &since {
            q.push(("since", s));
        }
        self.get("/v1/owner/audit", &q).await
    }

    pub async fn audit_verify(&self) -> Result<Verification, ClientError> {
        self.get("/v1/owner/audit/verify", &[]).await
    }

    pub async fn personal_key(&self) -> Result<PersonalKey, ClientError> {
        self.get("/v1/owner/personal-key", &[]).await
    }

    pub async fn set_personal_key(&self, key: &PersonalKey) -> Result<(), ClientError> {
        let res = self
            .request(reqwest::Method::PUT, "/v1/owner/personal-key")
            .json(key);
        let _: serde_json::Value = self.send(res).await?;
        Ok(())
    }

    pub async fn health(&self) -> Result<(), ClientError> {
        let _: serde_json::Value = self.get("/v1/health", &[]).await?;
        Ok(())
    }
}

fn url_scheme(base: &str) -> Option<&'static str> {
    if base.starts_with("https://") {
        Some("https")
    } else if base.starts_with("http://") {
        Some("http")
    } else {
        None
    }
}

/// The innermost cause, which says what actually went wrong ("Connection refused").
fn short_error(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
