//! `cargo xtask bench vault`: audited agent reads over loopback against the
//! fsync rate of the same disk, and read latency at 1k and 100k entries.
//! Every figure is printed with the baseline measured in the same run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clavitor_client::VaultClient;
use clavitor_core::Secret;
use clavitor_core::api::{AgentCreate, Channel, EntryCreate, FieldSpec, GrantSpec};
use clavitor_store::Store;
use clavitor_vault::{DataDir, Vault, app, entries, system_clock};

const RUN: Duration = Duration::from_secs(3);

/// fdatasync calls per second on a file in `dir` (4 KiB appended each time).
fn fsync_rate(dir: &std::path::Path) -> f64 {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = [0u8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(path);
    rate
}

async fn reads_per_second(agent: &VaultClient, clients: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let a = agent.clone();
        let d = done.clone();
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < RUN {
                a.read("GitHub", Some("password"), Channel::Cli)
                    .await
                    .unwrap();
                d.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn grow_to(vault: &Vault, from: usize, to: usize) {
    let mut next = from;
    while next < to {
        let end = (next + 1000).min(to);
        let range = next..end;
        vault
            .run(move |tx, sealer| {
                for i in range {
                    let req = EntryCreate {
                        name: format!("bulk-{i}"),
                        fields: vec![FieldSpec {
                            label: "password".into(),
                            value: Some(format!("v{i}")),
                            ..FieldSpec::default()
                        }],
                        ..EntryCreate::default()
                    };
                    entries::create(tx, sealer, &req, 0)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        next = end;
    }
}

async fn p50_read_ms(agent: &VaultClient, names: &[String]) -> f64 {
    let mut samples = Vec::new();
    for i in 0..300 {
        let name = &names[i % names.len()];
        let t = Instant::now();
        agent.read(name, None, Channel::Cli).await.unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tmp = tempfile::tempdir_in(
        std::env::var("CLAVITOR_BENCH_DIR").unwrap_or_else(|_| "target".into()),
    )
    .unwrap();
    let data_dir = tmp.path().join("data");
    let data = DataDir::open(&data_dir).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let vault = Vault::new(&data, url.clone(), None, system_clock());
    let server_vault = vault.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app(server_vault).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let owner_token = std::fs::read_to_string(data_dir.join("owner.token")).unwrap();
    let owner = VaultClient::new(&url, Some(Secret::new(owner_token.trim().to_string()))).unwrap();
    owner
        .create_entry(&EntryCreate {
            name: "GitHub".into(),
            fields: vec![FieldSpec {
                label: "password".into(),
                value: Some("pw".into()),
                ..FieldSpec::default()
            }],
            ..EntryCreate::default()
        })
        .await
        .unwrap();
    grow_to(&vault, 0, 999).await;
    let mut grants = vec![GrantSpec {
        entry: "GitHub".into(),
        fields: None,
    }];
    let sample: Vec<String> = (0..50).map(|i| format!("bulk-{}", i * 19)).collect();
    grants.extend(sample.iter().map(|n| GrantSpec {
        entry: n.clone(),
        fields: None,
    }));
    let token = owner
        .create_agent(&AgentCreate {
            name: "bench".into(),
            grants,
            rate_minute: Some(1_000_000),
            rate_hour: Some(10_000_000),
            ..AgentCreate::default()
        })
        .await
        .unwrap()
        .token;
    let cred = VaultClient::new(&url, None)
        .unwrap()
        .enroll(&Secret::new(token))
        .await
        .unwrap()
        .credential;
    let agent = VaultClient::new(&url, Some(Secret::new(cred))).unwrap();

    let fsync = fsync_rate(&data_dir);
    // Progress on stderr; the figures as `ROW\t…` lines for `cargo xtask bench`.
    eprintln!("vault: fsync rate {fsync:.0}/s");
    let row = |cells: [&str; 6]| println!("ROW\t{}", cells.join("\t"));
    row([
        "disk fdatasync rate",
        &format!("{fsync:.0} /s"),
        "",
        "",
        "",
        "",
    ]);
    for clients in [1usize, 8, 64] {
        let rps = reads_per_second(&agent, clients).await;
        eprintln!("vault: {clients} clients: {rps:.0} audited reads/s");
        let (target, verdict) = match clients {
            64 => (
                "well above 1x",
                if rps / fsync > 2.0 { "met" } else { "MISSED" },
            ),
            _ => ("", ""),
        };
        row([
            &format!("audited agent reads/s, {clients} clients"),
            &format!("{rps:.0} /s"),
            &format!("{fsync:.0} fsync/s"),
            &format!("{:.2}x", rps / fsync),
            target,
            verdict,
        ]);
    }
    let p1k = p50_read_ms(&agent, &sample).await;
    grow_to(&vault, 999, 100_000).await;
    let p100k = p50_read_ms(&agent, &sample).await;
    row([
        "read p50, 1k entries",
        &format!("{p1k:.3} ms"),
        "",
        "",
        "",
        "",
    ]);
    row([
        "read p50, 100k entries",
        &format!("{p100k:.3} ms"),
        &format!("{p1k:.3} ms (1k)"),
        &format!("{:.2}x", p100k / p1k),
        "flat",
        if p100k / p1k < 1.5 { "met" } else { "MISSED" },
    ]);
    let _ = data
        .store
        .run(Box::new(|_tx: &mut dyn clavitor_store::Tx| Ok(())))
        .await;
}
