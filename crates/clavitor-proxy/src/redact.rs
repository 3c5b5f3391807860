//! Response redaction: every injected value that comes back (plain, base64 at any alignment,
//! base64url, URL-encoded, JSON-escaped; in headers or body; split across chunks; inside
//! gzip/deflate/br bodies) is replaced by `[REDACTED]` before the client sees it.
//!
//! The body is streamed through a bounded channel: only a suffix that could still be the start
//! of a match is held back, so SSE events and other small writes pass through immediately.
//! Compressed bodies are decoded and forwarded as identity (`Content-Encoding` removed).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use bytes::Bytes;
use data_encoding::{BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD, Encoding};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};

use crate::body::{BoxError, ChannelBody, FrameResult, ProxyBody};

pub(crate) const REDACTED: &[u8] = b"[REDACTED]";

/// Base64 fragments shorter than this (from values embedded at an offset) are not searched,
/// to avoid redacting unrelated text.
const MIN_FRAGMENT: usize = 8;

/// The search patterns derived from the injected values of one request.
pub(crate) struct Needles {
    ac: AhoCorasick,
    patterns: Vec<Vec<u8>>,
    /// For each pattern, the index of the injected value it comes from.
    owner: Vec<usize>,
    max_len: usize,
}

impl Needles {
    /// Patterns for `values` (index = position in the slice). `None` when nothing to search.
    pub(crate) fn new(values: &[&[u8]]) -> Option<Needles> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        for (index, value) in values.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            for pattern in variants(value) {
                if !pattern.is_empty() && !patterns.contains(&pattern) {
                    patterns.push(pattern);
                    owner.push(index);
                }
            }
        }
        if patterns.is_empty() {
            return None;
        }
        // Built per secret-bearing request: a contiguous NFA builds in microseconds, where the
        // automatic choice (a DFA for few patterns) cost more CPU than the rest of the request.
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()?;
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        Some(Needles {
            ac,
            patterns,
            owner,
            max_len,
        })
    }

    /// Replaces every match in a complete text; returns the owners of the matches.
    pub(crate) fn redact_all(&self, text: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::with_capacity(text.len());
        let mut hits = Vec::new();
        let mut pos = 0;
        for m in self.ac.find_iter(text) {
            out.extend_from_slice(&text[pos..m.start()]);
            out.extend_from_slice(REDACTED);
            hits.push(self.owner[m.pattern().as_usize()]);
            pos = m.end();
        }
        out.extend_from_slice(&text[pos..]);
        (out, hits)
    }

    /// Length of the longest suffix of `text` that is a proper prefix of some pattern.
    fn pending_suffix(&self, text: &[u8]) -> usize {
        let longest = self.max_len.saturating_sub(1).min(text.len());
        (1..=longest)
            .rev()
            .find(|&k| {
                let suffix = &text[text.len() - k..];
                self.patterns
                    .iter()
                    .any(|p| p.len() > k && p.starts_with(suffix))
            })
            .unwrap_or(0)
    }
}

/// The needles of the most recent sets of injected values, so that the search automaton is
/// not rebuilt for every request carrying the same secret (building it costs more CPU than
/// the rest of a small request). Keys are compared exactly; at most `capacity` sets are kept,
/// most recently used first. The cached values are copies of secrets the process already
/// handles, held as long as the needles built from them.
pub(crate) struct NeedleCache {
    capacity: usize,
    entries: std::sync::Mutex<std::collections::VecDeque<CachedNeedles>>,
}

/// The values a cached automaton was built from, and the automaton.
type CachedNeedles = (Vec<Vec<u8>>, Arc<Needles>);

impl NeedleCache {
    pub(crate) fn new(capacity: usize) -> NeedleCache {
        NeedleCache {
            capacity,
            entries: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Needles for `values` (index = position in the slice), from the cache when possible.
    pub(crate) fn get(&self, values: &[&[u8]]) -> Option<Arc<Needles>> {
        let same = |key: &[Vec<u8>]| {
            key.len() == values.len() && key.iter().zip(values).all(|(a, b)| a.as_slice() == *b)
        };
        if let Ok(mut entries) = self.entries.lock()
            && let Some(pos) = entries.iter().position(|(key, _)| same(key))
            && let Some(entry) = entries.remove(pos)
        {
            let needles = entry.1.clone();
            entries.push_front(entry);
            return Some(needles);
        }
        let needles = Arc::new(Needles::new(values)?);
        if self.capacity > 0
            && let Ok(mut entries) = self.entries.lock()
        {
            entries.push_front((values.iter().map(|v| v.to_vec()).collect(), needles.clone()));
            entries.truncate(self.capacity);
        }
        Some(needles)
    }
}

/// The encodings of one value searched for.
fn variants(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![value.to_vec()];
    for enc in [&BASE64, &BASE64URL] {
        out.push(enc.encode(value).into_bytes());
    }
    for enc in [&BASE64_NOPAD, &BASE64URL_NOPAD] {
        out.push(enc.encode(value).into_bytes());
        for shift in 0..3 {
            let fragment = base64_fragment(enc, value, shift);
            if fragment.len() >= MIN_FRAGMENT {
                out.push(fragment);
            }
        }
    }
    let upper = percent_encode(value, b"0123456789ABCDEF", false);
    out.push(upper.clone());
    out.push(percent_encode(value, b"0123456789abcdef", false));
    out.push(percent_encode(value, b"0123456789ABCDEF", true));
    out.push(json_escape(value, false));
    out.push(json_escape(value, true));
    out
}

/// The base64 characters determined only by `value` when it sits at byte offset `shift`
/// (mod 3) inside larger encoded data (e.g. `user:secret` in Basic auth).
fn base64_fragment(enc: &Encoding, value: &[u8], shift: usize) -> Vec<u8> {
    let mut data = vec![0u8; shift];
    data.extend_from_slice(value);
    let encoded = enc.encode(&data).into_bytes();
    let end_bits = data.len() * 8;
    let start_bits = shift * 8;
    encoded
        .iter()
        .enumerate()
        .filter(|(i, _)| i * 6 >= start_bits && i * 6 + 6 <= end_bits)
        .map(|(_, c)| *c)
        .collect()
}

fn percent_encode(value: &[u8], hex: &[u8; 16], plus_for_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if b == b' ' && plus_for_space {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

/// JSON string escaping; `ascii_only` also escapes non-ASCII as `\uXXXX` (Python's default).
fn json_escape(value: &[u8], ascii_only: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii_only && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// Streaming redaction of one body.
pub(crate) struct StreamRedactor {
    needles: Arc<Needles>,
    held: Vec<u8>,
}

impl StreamRedactor {
    pub(crate) fn new(needles: Arc<Needles>) -> Self {
        StreamRedactor {
            needles,
            held: Vec::new(),
        }
    }

    /// Feeds a chunk; returns what can be released now and the owners of the matches found.
    pub(crate) fn push(&mut self, chunk: &[u8], hits: &mut Vec<usize>) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(buf.len());
        let mut pos = 0;
        for m in self.needles.ac.find_iter(&buf) {
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(REDACTED);
            hits.push(self.needles.owner[m.pattern().as_usize()]);
            pos = m.end();
        }
        let rest = &buf[pos..];
        let hold = self.needles.pending_suffix(rest);
        out.extend_from_slice(&rest[..rest.len() - hold]);
        self.held = rest[rest.len() - hold..].to_vec();
        out
    }

    /// End of the body: releases what was held back (it cannot complete a match any more).
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

/// A response `Content-Encoding` the redactor can see through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentCoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

impl ContentCoding {
    /// `None` for anything else (zstd, stacked codings, ...).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<ContentCoding> {
        let mut values = headers.get_all(http::header::CONTENT_ENCODING).iter();
        let Some(value) = values.next() else {
            return Some(ContentCoding::Identity);
        };
        if values.next().is_some() {
            return None;
        }
        match value.to_str().ok()?.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(ContentCoding::Identity),
            "gzip" | "x-gzip" => Some(ContentCoding::Gzip),
            "deflate" => Some(ContentCoding::Deflate),
            "br" => Some(ContentCoding::Brotli),
            _ => None,
        }
    }
}

/// Keeps only codings the redactor can decode in a secret-bearing request's `Accept-Encoding`.
pub(crate) fn restrict_accept_encoding(headers: &mut HeaderMap) {
    let Some(value) = headers.get(http::header::ACCEPT_ENCODING) else {
        return;
    };
    let kept: Vec<String> = value
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|item| {
            let coding = item
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            matches!(
                coding.as_str(),
                "gzip" | "x-gzip" | "deflate" | "br" | "identity"
            )
        })
        .map(str::to_owned)
        .collect();
    let joined = if kept.is_empty() {
        "identity".to_owned()
    } else {
        kept.join(", ")
    };
    if let Ok(v) = http::HeaderValue::from_str(&joined) {
        headers.insert(http::header::ACCEPT_ENCODING, v);
    }
}

/// Push-style decoder for one content coding.
enum Decoder {
    Identity,
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// Zlib or raw deflate, decided on the first bytes.
    DeflateUndecided,
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    RawDeflate(flate2::write::DeflateDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

/// Input is fed in slices of this size so decompressed output per step stays small.
const DECODE_SLICE: usize = 4096;

impl Decoder {
    fn new(coding: ContentCoding) -> Decoder {
        match coding {
            ContentCoding::Identity => Decoder::Identity,
            ContentCoding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            ContentCoding::Deflate => Decoder::DeflateUndecided,
            ContentCoding::Brotli => {
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)))
            }
        }
    }

    /// Decodes `input`, calling `emit` with decoded pieces.
    fn push(
        &mut self,
        input: &[u8],
        emit: &mut dyn FnMut(Vec<u8>) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        if let Decoder::DeflateUndecided = self {
            if input.is_empty() {
                return Ok(());
            }
            let zlib = input.len() >= 2
                && input[0] & 0x0f == 8
                && (u16::from(input[0]) * 256 + u16::from(input[1])) % 31 == 0;
            *self = if zlib {
                Decoder::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
            } else {
                Decoder::RawDeflate(flate2::write::DeflateDecoder::new(Vec::new()))
            };
        }
        if let Decoder::Identity = self {
            return emit(input.to_vec());
        }
        for slice in input.chunks(DECODE_SLICE) {
            let out = match self {
                Decoder::Gzip(d) => {
                    d.write_all(slice)?;
                    d.flush()?;
                    std::mem::take(d.get_mut())
                }
                Decoder::Zlib(d) => {
                    d.write_all(slice)?;
                    d.flush()?;
                    std::mem::take(d.get_mut())
                }
                Decoder::RawDeflate(d) => {
                    d.write_all(slice)?;
                    d.flush()?;
                    std::mem::take(d.get_mut())
                }
                Decoder::Brotli(d) => {
                    d.write_all(slice)?;
                    d.flush()?;
                    std::mem::take(d.get_mut())
                }
                Decoder::Identity | Decoder::DeflateUndecided => Vec::new(),
            };
            if !out.is_empty() {
                emit(out)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, BoxError> {
        Ok(match self {
            Decoder::Identity | Decoder::DeflateUndecided => Vec::new(),
            Decoder::Gzip(d) => d.finish()?,
            Decoder::Zlib(d) => d.finish()?,
            Decoder::RawDeflate(d) => d.finish()?,
            Decoder::Brotli(mut d) => {
                d.flush()?;
                std::mem::take(d.get_mut())
            }
        })
    }
}

/// Wraps an upstream body: decode, redact, stream to the client through a bounded channel.
/// `on_hit` is called with the owner index of each match.
pub(crate) fn redact_body<B>(
    body: B,
    coding: ContentCoding,
    needles: Arc<Needles>,
    idle: Duration,
    on_hit: Arc<dyn Fn(usize) + Send + Sync>,
) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let (tx, out) = ChannelBody::new(4);
    tokio::spawn(async move {
        if let Err(err) = pump(body, coding, needles, idle, &tx, on_hit.as_ref()).await {
            tracing::debug!(error = %err, "redacted response stream ended with an error");
            let _ = tx.send(Err(err)).await;
        }
    });
    out.boxed_unsync()
}

async fn pump<B>(
    mut body: B,
    coding: ContentCoding,
    needles: Arc<Needles>,
    idle: Duration,
    tx: &tokio::sync::mpsc::Sender<FrameResult>,
    on_hit: &(dyn Fn(usize) + Send + Sync),
) -> Result<(), BoxError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let mut decoder = Decoder::new(coding);
    let mut redactor = StreamRedactor::new(needles.clone());
    let mut hits = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Box::new(crate::body::IdleTimeout)),
            Ok(None) => break,
            Ok(Some(frame)) => frame.map_err(Into::into)?,
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                let mut outputs = Vec::new();
                decoder.push(&data, &mut |decoded| {
                    outputs.push(redactor.push(&decoded, &mut hits));
                    Ok(())
                })?;
                for hit in hits.drain(..) {
                    on_hit(hit);
                }
                for out in outputs {
                    if !out.is_empty() && tx.send(Ok(Frame::data(Bytes::from(out)))).await.is_err()
                    {
                        return Ok(()); // client went away
                    }
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            flush_end(&mut decoder, &mut redactor, &mut hits, tx, on_hit).await?;
            let _ = tx.send(Ok(Frame::trailers(trailers))).await;
            return Ok(());
        }
    }
    flush_end(&mut decoder, &mut redactor, &mut hits, tx, on_hit).await
}

async fn flush_end(
    decoder: &mut Decoder,
    redactor: &mut StreamRedactor,
    hits: &mut Vec<usize>,
    tx: &tokio::sync::mpsc::Sender<FrameResult>,
    on_hit: &(dyn Fn(usize) + Send + Sync),
) -> Result<(), BoxError> {
    let rest = std::mem::replace(decoder, Decoder::Identity).finish()?;
    let mut out = redactor.push(&rest, hits);
    out.extend(redactor.finish());
    for hit in hits.drain(..) {
        on_hit(hit);
    }
    if !out.is_empty() {
        let _ = tx.send(Ok(Frame::data(Bytes::from(out)))).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(values: &[&str]) -> Arc<Needles> {
        let bytes: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        Arc::new(Needles::new(&bytes).unwrap())
    }

    fn stream(n: &Arc<Needles>, chunks: &[&[u8]]) -> (String, usize) {
        let mut r = StreamRedactor::new(n.clone());
        let mut hits = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(r.push(c, &mut hits));
        }
        out.extend(r.finish());
        (String::from_utf8(out).unwrap(), hits.len())
    }

    #[test]
    fn plain_and_encoded_forms() {
        let secret = "sk-canary/123+ü x";
        let n = needles(&[secret]);
        let forms = [
            secret.to_owned(),
            BASE64.encode(secret.as_bytes()),
            BASE64URL_NOPAD.encode(secret.as_bytes()),
            String::from_utf8(percent_encode(
                secret.as_bytes(),
                b"0123456789abcdef",
                false,
            ))
            .unwrap(),
            String::from_utf8(json_escape(secret.as_bytes(), true)).unwrap(),
            BASE64.encode(format!("user:{secret}").as_bytes()),
            BASE64.encode(format!("us:{secret}!").as_bytes()),
        ];
        for form in forms {
            let text = format!("before {form} after");
            let (out, hits) = n.redact_all(text.as_bytes());
            let out = String::from_utf8(out).unwrap();
            assert!(out.contains("[REDACTED]"), "{form} -> {out}");
            assert!(!out.contains(&form), "{form}");
            assert!(!hits.is_empty());
        }
    }

    #[test]
    fn split_across_chunks_and_nothing_held_needlessly() {
        let n = needles(&["supersecretvalue"]);
        let (out, hits) = stream(&n, &[b"data: super", b"secr", b"etvalue\n\n"]);
        assert_eq!(out, "data: [REDACTED]\n\n");
        assert_eq!(hits, 1);
        let mut r = StreamRedactor::new(n.clone());
        let mut hits = Vec::new();
        assert_eq!(r.push(b"data: 1\n\n", &mut hits), b"data: 1\n\n");
        assert_eq!(r.push(b"xx sup", &mut hits), b"xx ");
        assert_eq!(r.finish(), b"sup");
    }

    #[test]
    fn gzip_decoding() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"echo: token=supersecretvalue end").unwrap();
        let gz = enc.finish().unwrap();
        let mut d = Decoder::new(ContentCoding::Gzip);
        let mut out = Vec::new();
        for c in gz.chunks(5) {
            d.push(c, &mut |o| {
                out.extend(o);
                Ok(())
            })
            .unwrap();
        }
        out.extend(d.finish().unwrap());
        let n = needles(&["supersecretvalue"]);
        let (red, hits) = n.redact_all(&out);
        assert_eq!(red, b"echo: token=[REDACTED] end");
        assert_eq!(hits, vec![0]);
    }

    #[test]
    fn needle_cache_reuses_and_evicts() {
        let cache = NeedleCache::new(2);
        let a = cache.get(&[b"secret-aaaaaaaa".as_slice()]).unwrap();
        let again = cache.get(&[b"secret-aaaaaaaa".as_slice()]).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let b = cache.get(&[b"secret-bbbbbbbb".as_slice()]).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        let two = cache
            .get(&[b"secret-aaaaaaaa".as_slice(), b"secret-bbbbbbbb".as_slice()])
            .unwrap();
        assert!(!Arc::ptr_eq(&two, &a));
        // Capacity 2: the single-value set of `a` was evicted last-recently-used.
        let a2 = cache.get(&[b"secret-aaaaaaaa".as_slice()]).unwrap();
        assert!(!Arc::ptr_eq(&a, &a2));
        let (out, hits) = two.redact_all(b"x secret-bbbbbbbb y");
        assert_eq!(out, b"x [REDACTED] y");
        assert_eq!(hits, vec![1]);
        assert!(cache.get(&[]).is_none());
    }

    #[test]
    fn accept_encoding_restricted() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::ACCEPT_ENCODING,
            "gzip, zstd;q=1, br".parse().unwrap(),
        );
        restrict_accept_encoding(&mut h);
        assert_eq!(h[http::header::ACCEPT_ENCODING], "gzip, br");
    }
}
