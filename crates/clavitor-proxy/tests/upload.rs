//! Large streamed upload with bounded memory. A separate test binary: no TRACE log capture
//! (which would grow with every frame) and no other test sharing the process RSS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::BodyExt;

/// A 256 MiB streamed upload (kept moderate for CI; the 2 GiB run belongs to the
/// benchmark) with the process RSS bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_streams_with_bounded_memory() {
    const CHUNK: usize = 64 * 1024;
    const TOTAL: u64 = 256 * 1024 * 1024;
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
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures_util::stream::iter(
        (0..TOTAL / CHUNK as u64)
            .map(move |_| Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk.clone()))),
    );
    let body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    let req = Request::post("/upload")
        .header("host", HOST)
        .header("authorization", "Bearer clavitor://OpenAI/key")
        .body(body)
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(120), client.send_request(req))
        .await
        .unwrap()
        .unwrap();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    sampler.abort();
    assert_eq!(String::from_utf8_lossy(&text), format!("received {TOTAL}"));
    let growth_mib = (peak.load(std::sync::atomic::Ordering::Relaxed) - before) / 1024;
    eprintln!(
        "RSS growth during a {} MiB upload: {growth_mib} MiB",
        TOTAL >> 20
    );
    assert!(growth_mib < 64, "RSS grew by {growth_mib} MiB");
}
