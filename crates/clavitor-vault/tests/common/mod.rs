//! A real vault for tests: a real SQLite file in a temp dir, the real router
//! served over real TCP on 127.0.0.1, and a clock the test can move.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use clavitor_client::{ClientError, VaultClient};
use clavitor_core::Secret;
use clavitor_core::api::{AgentCreate, EntryCreate, FieldSpec, GrantSpec};
use clavitor_vault::{DataDir, Vault, app};
use tokio::sync::oneshot;

pub struct TestVault {
    pub url: String,
    pub dir: PathBuf,
    pub clock: Arc<AtomicI64>,
    owner_token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub const T0: i64 = 1_800_000_000_000;

impl TestVault {
    pub async fn start(dir: &Path) -> TestVault {
        Self::start_with_clock(dir, Arc::new(AtomicI64::new(T0))).await
    }

    /// Serves the data dir `parent/data` (created 0700 on first start).
    pub async fn start_with_clock(parent: &Path, clock: Arc<AtomicI64>) -> TestVault {
        Self::start_on(parent, clock, "127.0.0.1:0").await
    }

    /// Stops and starts again on the same port and data dir.
    pub async fn restart(self) -> TestVault {
        let parent = self.dir.parent().unwrap().to_path_buf();
        let clock = self.clock.clone();
        let addr = self.url.trim_start_matches("http://").to_string();
        self.stop().await;
        Self::start_on(&parent, clock, &addr).await
    }

    async fn start_on(parent: &Path, clock: Arc<AtomicI64>, addr: &str) -> TestVault {
        let dir = &parent.join("data");
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let data = DataDir::open(dir).await.expect("open data dir");
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let c = clock.clone();
        let vault = Vault::new(
            &data,
            url.clone(),
            None,
            Arc::new(move || c.load(Ordering::SeqCst)),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app(vault).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
            drop(data);
        });
        let owner_token = std::fs::read_to_string(dir.join("owner.token"))
            .unwrap()
            .trim()
            .to_string();
        TestVault {
            url,
            dir: dir.to_path_buf(),
            clock,
            owner_token,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and releases the data directory.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        // Let the store's writer thread close its connection.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn owner(&self) -> VaultClient {
        VaultClient::new(&self.url, Some(Secret::new(self.owner_token.clone()))).unwrap()
    }

    pub fn anonymous(&self) -> VaultClient {
        VaultClient::new(&self.url, None).unwrap()
    }

    /// Creates an agent and enrols it; returns its client.
    pub async fn agent(
        &self,
        name: &str,
        entries: &[&str],
        rate: Option<(u32, u32)>,
    ) -> VaultClient {
        let token = self
            .owner()
            .create_agent(&AgentCreate {
                name: name.into(),
                grants: entries
                    .iter()
                    .map(|e| GrantSpec {
                        entry: (*e).into(),
                        fields: None,
                    })
                    .collect(),
                rate_minute: rate.map(|r| r.0),
                rate_hour: rate.map(|r| r.1),
                ..AgentCreate::default()
            })
            .await
            .unwrap()
            .token;
        self.enroll(&token).await.unwrap()
    }

    pub async fn enroll(&self, token: &str) -> Result<VaultClient, ClientError> {
        let res = self
            .anonymous()
            .enroll(&Secret::new(token.to_string()))
            .await?;
        Ok(VaultClient::new(&self.url, Some(Secret::new(res.credential))).unwrap())
    }

    pub async fn add(&self, name: &str, fields: &[(&str, &str)]) {
        self.owner()
            .create_entry(&EntryCreate {
                name: name.into(),
                fields: fields
                    .iter()
                    .map(|(l, v)| FieldSpec {
                        label: (*l).into(),
                        value: Some((*v).into()),
                        ..FieldSpec::default()
                    })
                    .collect(),
                ..EntryCreate::default()
            })
            .await
            .unwrap();
    }
}

pub fn code(e: &ClientError) -> String {
    match e {
        ClientError::Refused { code, .. } => code.clone(),
        other => format!("not a refusal: {other}"),
    }
}

/// Every byte of every file in the data dir (db, WAL, shm, key excluded).
pub fn data_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "vault.key" && e.file_name() != "owner.token")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
