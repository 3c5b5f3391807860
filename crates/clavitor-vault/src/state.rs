//! The running vault: store, keys, clock and the URL agents use.

use std::sync::Arc;

use clavitor_store::{SqliteStore, Store, StoreError, Tx};

use crate::datadir::DataDir;
use crate::error::VaultError;
use crate::sealer::Sealer;

/// Milliseconds since the Unix epoch. Tests substitute their own clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Shared state behind every route.
pub struct Vault {
    pub store: SqliteStore,
    pub sealer: Arc<Sealer>,
    pub clock: Clock,
    /// The URL written into setup tokens.
    pub public_url: String,
    /// SHA-256 pin of a self-signed certificate, for setup tokens.
    pub pin: Option<String>,
    pub(crate) owner_token_hash: [u8; 32],
}

impl Vault {
    /// The vault served from an opened data directory (which must outlive it:
    /// it holds the lock).
    pub fn new(
        data: &DataDir,
        public_url: String,
        pin: Option<String>,
        clock: Clock,
    ) -> Arc<Vault> {
        Arc::new(Vault {
            store: data.store.clone(),
            sealer: Arc::new(data.sealer.clone()),
            clock,
            public_url,
            pin,
            owner_token_hash: data.owner_token_hash,
        })
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Runs `f` in one transaction. A store error rolls back everything `f`
    /// wrote; a refusal keeps it (so its audit record survives): write nothing
    /// but the audit record before refusing.
    pub async fn run<R, F>(&self, f: F) -> Result<R, VaultError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Tx, &Sealer) -> Result<R, VaultError> + Send + 'static,
    {
        let sealer = self.sealer.clone();
        // Carry the vault error through the store's error channel.
        self.store
            .run(Box::new(move |tx: &mut dyn Tx| {
                Ok::<_, StoreError>(match f(tx, &sealer) {
                    Ok(r) => Ok(r),
                    Err(VaultError::Store(e)) => return Err(e),
                    Err(other) => Err(other),
                })
            }))
            .await?
    }
}
