//! Large streamed upload with bounded memory (the 2 GiB). A separate test binary: no
//! TRACE log capture (which would grow with every frame) and no other test sharing the process
//! RSS. Client, proxy and upstream share this process, so the RSS measured covers all three.
//!
//! 2 GiB takes about 35 s in a debug build on a 2-core machine; `CLAVITOR_UPLOAD_MIB=N` sets
//! another size (e.g. a quick 256 during development).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::BodyExt;

/// Upload size in MiB: `CLAVITOR_UPLOAD_MIB` or the default.
fn upload_mib() -> u64 {
    std::env::var("CLAVITOR_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MIB)
}

const DEFAULT_MIB: u64 = 2048;

/// A streamed upload through the proxy with the process RSS bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_streams_with_bounded_memory() {
    const CHUNK: usize = 64 * 1024;
    let total: u64 = upload_mib() * 1024 * 1024;
    CAPTURE_LOGS.store(false, std::sync::atomic::Ordering::Relaxed);
    let proxy = start_proxy().await;
    let mut client = h1_client(&proxy).await;
    let before = vm_rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let peak2 = peak.clone();
    let sampler = tokio::spawn(async move {
        loop {
            peak2.fetch_max(vm_rss_kib(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let started = std::time::Instant::now();
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures_util::stream::iter(
        (0..total / CHUNK as u64)
            .map(move |_| Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk.clone()))),
    );
    let body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    let req = Request::post("/upload")
        .header("host", HOST)
        .header("authorization", "Bearer clavitor://OpenAI/key")
        .body(body)
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(600), client.send_request(req))
        .await
        .unwrap()
        .unwrap();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    sampler.abort();
    assert_eq!(String::from_utf8_lossy(&text), format!("received {total}"));
    let growth_mib = (peak.load(std::sync::atomic::Ordering::Relaxed) - before) / 1024;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} MiB upload through the proxy in {secs:.1} s ({:.0} MiB/s); RSS growth {growth_mib} MiB",
        total >> 20,
        (total >> 20) as f64 / secs
    );
    assert!(growth_mib < 64, "RSS grew by {growth_mib} MiB");
}
