//! Redaction of server→client WebSocket frames (RFC 6455 §5) on connections whose upgrade
//! request carried injected values.
//!
//! The byte stream from the upstream is parsed frame by frame and re-emitted with valid
//! lengths:
//!
//! - data frames (text, binary, continuation) go through one [`StreamRedactor`] per message,
//!   so a value split across fragments (or across reads) is still found; a frame of at most
//!   [`WHOLE_FRAME`] bytes is buffered and re-emitted as one frame (fragmentation unchanged),
//!   a larger one is streamed as a sequence of fragments (RFC 6455 §5.4 lets an intermediary
//!   re-fragment a message when no extension is in use) so memory stays bounded;
//! - control frames (close, ping, pong) keep their place between fragments; their payload
//!   (at most 125 bytes) is redacted too, still within 125 bytes;
//! - anything the proxy cannot inspect ends the connection: reserved bits set (an extension
//!   such as permessage-deflate, which the proxy strips from secret-bearing handshakes), a
//!   masked server frame, a reserved opcode, a fragmented or oversized control frame, or a
//!   fragment sequence that does not follow the rules. Each is also a protocol error the
//!   client itself would fail the connection on.

use std::sync::Arc;

use crate::redact::{Needles, REDACTED, StreamRedactor};

/// Data frames up to this size are buffered whole and re-emitted as one frame.
pub(crate) const WHOLE_FRAME: u64 = 64 * 1024;

const OP_CONTINUATION: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;
const MAX_CONTROL: usize = 125;

/// Why the server's frame stream cannot be inspected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    #[error("reserved bits set (an extension the proxy does not decode)")]
    ReservedBits,
    #[error("masked frame from the server")]
    Masked,
    #[error("reserved opcode {0}")]
    ReservedOpcode(u8),
    #[error("fragmented or oversized control frame")]
    BadControl,
    #[error("fragments out of order")]
    BadFragmentation,
    #[error("frame length out of range")]
    BadLength,
}

/// The message whose fragments are being relayed.
struct Message {
    /// Text or binary: the opcode of the first frame sent for this message.
    opcode: u8,
    redactor: StreamRedactor,
    /// Whether a frame of this message has been sent (later ones are continuations).
    started: bool,
}

/// The frame being read.
struct Frame {
    fin: bool,
    opcode: u8,
    remaining: u64,
    /// Larger than [`WHOLE_FRAME`]: streamed as fragments instead of buffered.
    streaming: bool,
    payload: Vec<u8>,
}

/// Push-style parser and rewriter of the server→client frame stream.
pub(crate) struct FrameRedactor {
    needles: Arc<Needles>,
    /// Header bytes of the next frame, until complete.
    header: Vec<u8>,
    frame: Option<Frame>,
    message: Option<Message>,
}

impl FrameRedactor {
    pub(crate) fn new(needles: Arc<Needles>) -> FrameRedactor {
        FrameRedactor {
            needles,
            header: Vec::with_capacity(14),
            frame: None,
            message: None,
        }
    }

    /// Feeds bytes from the upstream; appends what the client may receive now to `out` and the
    /// owners of redacted matches to `hits`.
    pub(crate) fn push(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        hits: &mut Vec<usize>,
    ) -> Result<(), FrameError> {
        while !input.is_empty() || self.frame_complete() {
            if self.frame_complete() {
                self.finish_frame(out, hits);
                continue;
            }
            match self.frame.as_mut() {
                None => {
                    let need = header_len(&self.header).saturating_sub(self.header.len());
                    let take = need.min(input.len());
                    self.header.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.header.len() == header_len(&self.header) {
                        self.start_frame()?;
                    }
                }
                Some(frame) => {
                    let take = usize::try_from(frame.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (chunk, rest) = input.split_at(take);
                    input = rest;
                    frame.remaining -= take as u64;
                    if frame.streaming {
                        let message = self.message.as_mut().ok_or(FrameError::BadFragmentation)?;
                        let piece = message.redactor.push(chunk, hits);
                        if !piece.is_empty() {
                            let opcode = next_opcode(message);
                            write_frame(out, false, opcode, &piece);
                        }
                    } else {
                        frame.payload.extend_from_slice(chunk);
                    }
                }
            }
        }
        Ok(())
    }

    fn frame_complete(&self) -> bool {
        self.frame.as_ref().is_some_and(|f| f.remaining == 0)
    }

    /// Validates the complete header in `self.header` and starts reading the frame.
    fn start_frame(&mut self) -> Result<(), FrameError> {
        let h = std::mem::take(&mut self.header);
        let fin = h[0] & 0x80 != 0;
        if h[0] & 0x70 != 0 {
            return Err(FrameError::ReservedBits);
        }
        if h[1] & 0x80 != 0 {
            return Err(FrameError::Masked);
        }
        let opcode = h[0] & 0x0f;
        let len = match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&h[2..10]);
                let len = u64::from_be_bytes(b);
                if len >> 63 != 0 {
                    return Err(FrameError::BadLength);
                }
                len
            }
            n => u64::from(n),
        };
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || len > MAX_CONTROL as u64 {
                    return Err(FrameError::BadControl);
                }
            }
            OP_TEXT | OP_BINARY => {
                if self.message.is_some() {
                    return Err(FrameError::BadFragmentation);
                }
                self.message = Some(Message {
                    opcode,
                    redactor: StreamRedactor::new(self.needles.clone()),
                    started: false,
                });
            }
            OP_CONTINUATION => {
                if self.message.is_none() {
                    return Err(FrameError::BadFragmentation);
                }
            }
            other => return Err(FrameError::ReservedOpcode(other)),
        }
        let streaming = len > WHOLE_FRAME;
        let capacity = if streaming { 0 } else { len as usize };
        self.frame = Some(Frame {
            fin,
            opcode,
            remaining: len,
            streaming,
            payload: Vec::with_capacity(capacity),
        });
        Ok(())
    }

    /// The frame's payload is complete: emit what belongs to it.
    fn finish_frame(&mut self, out: &mut Vec<u8>, hits: &mut Vec<usize>) {
        let Some(frame) = self.frame.take() else {
            return;
        };
        if frame.opcode >= OP_CLOSE {
            let payload = self.redact_control(frame.opcode, &frame.payload, hits);
            write_frame(out, true, frame.opcode, &payload);
            return;
        }
        let Some(message) = self.message.as_mut() else {
            return;
        };
        let mut payload = if frame.streaming {
            Vec::new()
        } else {
            message.redactor.push(&frame.payload, hits)
        };
        if frame.fin {
            payload.extend(message.redactor.finish());
        }
        // A streamed frame already went out as fragments; only its end (FIN) remains to send.
        if !frame.streaming || frame.fin {
            let opcode = next_opcode(message);
            write_frame(out, frame.fin, opcode, &payload);
        }
        if frame.fin {
            self.message = None;
        }
    }

    /// A control frame's payload with matches redacted, kept within 125 bytes (a close frame
    /// keeps its status code).
    fn redact_control(&self, opcode: u8, payload: &[u8], hits: &mut Vec<usize>) -> Vec<u8> {
        let (code, text) = if opcode == OP_CLOSE && payload.len() >= 2 {
            payload.split_at(2)
        } else {
            payload.split_at(0)
        };
        let (redacted, found) = self.needles.redact_all(text);
        if found.is_empty() {
            return payload.to_vec();
        }
        hits.extend(found);
        let mut new = code.to_vec();
        if code.len() + redacted.len() <= MAX_CONTROL {
            new.extend_from_slice(&redacted);
        } else {
            new.extend_from_slice(REDACTED);
        }
        new
    }
}

/// The opcode of the next frame sent for `message` (its own for the first, then continuation).
fn next_opcode(message: &mut Message) -> u8 {
    if std::mem::replace(&mut message.started, true) {
        OP_CONTINUATION
    } else {
        message.opcode
    }
}

/// Total header length given the bytes seen so far (2 until the length byte is known).
fn header_len(seen: &[u8]) -> usize {
    let Some(&b1) = seen.get(1) else {
        return 2;
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    match b1 & 0x7f {
        126 => 4 + mask,
        127 => 10 + mask,
        _ => 2 + mask,
    }
}

/// Appends one unmasked frame.
fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let len = payload.len();
    if len <= 125 {
        out.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-canary-7f3a9c1e5b2d4f60";

    fn redactor() -> FrameRedactor {
        FrameRedactor::new(Arc::new(Needles::new(&[SECRET.as_bytes()]).unwrap()))
    }

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, fin, opcode, payload);
        out
    }

    /// Parses a frame stream back into (fin, opcode, payload) triples.
    fn parse(mut data: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !data.is_empty() {
            let hl = header_len(data);
            let len = match data[1] & 0x7f {
                126 => usize::from(u16::from_be_bytes([data[2], data[3]])),
                127 => u64::from_be_bytes(data[2..10].try_into().unwrap()) as usize,
                n => usize::from(n),
            };
            frames.push((
                data[0] & 0x80 != 0,
                data[0] & 0x0f,
                data[hl..hl + len].to_vec(),
            ));
            data = &data[hl + len..];
        }
        frames
    }

    /// Feeds `input` in pieces of `step` bytes.
    fn run(r: &mut FrameRedactor, input: &[u8], step: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut hits = Vec::new();
        for piece in input.chunks(step) {
            r.push(piece, &mut out, &mut hits).unwrap();
        }
        (out, hits.len())
    }

    fn message_text(frames: &[(bool, u8, Vec<u8>)]) -> Vec<u8> {
        frames
            .iter()
            .filter(|f| f.1 < OP_CLOSE)
            .flat_map(|f| f.2.clone())
            .collect()
    }

    #[test]
    fn single_frames_redacted_at_any_read_size() {
        let text = format!("key={SECRET} end");
        let mut input = frame(true, OP_TEXT, text.as_bytes());
        input.extend(frame(true, OP_BINARY, b"no secret here"));
        for step in [1, 3, 7, 64, 4096] {
            let (out, hits) = run(&mut redactor(), &input, step);
            let frames = parse(&out);
            assert_eq!(
                frames,
                vec![
                    (true, OP_TEXT, b"key=[REDACTED] end".to_vec()),
                    (true, OP_BINARY, b"no secret here".to_vec()),
                ],
                "step {step}"
            );
            assert_eq!(hits, 1);
        }
    }

    #[test]
    fn secret_split_across_fragments_with_interleaved_ping() {
        let (a, b) = SECRET.split_at(9);
        let mut input = frame(false, OP_TEXT, format!("start {a}").as_bytes());
        input.extend(frame(true, OP_PING, b"p"));
        input.extend(frame(false, OP_CONTINUATION, b.as_bytes()));
        input.extend(frame(true, OP_CONTINUATION, b" done"));
        let (out, hits) = run(&mut redactor(), &input, 5);
        let frames = parse(&out);
        assert_eq!(frames.len(), 4, "fragmentation kept: {frames:?}");
        assert_eq!(frames[0].1, OP_TEXT);
        assert!(!frames[0].0);
        assert_eq!(frames[1], (true, OP_PING, b"p".to_vec()));
        assert_eq!(frames[2].1, OP_CONTINUATION);
        assert!(frames[3].0);
        assert_eq!(message_text(&frames), b"start [REDACTED] done");
        assert_eq!(hits, 1);
    }

    #[test]
    fn large_frames_stream_as_fragments() {
        let mut payload = vec![b'x'; 300_000];
        let at = 150_000;
        payload[at..at + SECRET.len()].copy_from_slice(SECRET.as_bytes());
        let input = frame(true, OP_BINARY, &payload);
        assert_eq!(input[1], 127, "64-bit length form");
        let mut r = redactor();
        let mut out = Vec::new();
        let mut hits = Vec::new();
        let mut max_out = 0;
        for piece in input.chunks(16 * 1024) {
            let before = out.len();
            r.push(piece, &mut out, &mut hits).unwrap();
            max_out = max_out.max(out.len() - before);
        }
        assert!(max_out < 20 * 1024, "output released as it arrives");
        let frames = parse(&out);
        assert!(frames.len() > 2);
        assert_eq!(frames[0].1, OP_BINARY);
        assert!(frames[1..].iter().all(|f| f.1 == OP_CONTINUATION));
        assert!(frames[..frames.len() - 1].iter().all(|f| !f.0));
        assert!(frames.last().unwrap().0);
        let mut expected = vec![b'x'; at];
        expected.extend_from_slice(REDACTED);
        expected.extend(vec![b'x'; 300_000 - at - SECRET.len()]);
        assert_eq!(message_text(&frames), expected);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn medium_frame_uses_16_bit_length_and_empty_frames_pass() {
        let payload = format!("{}{SECRET}", "y".repeat(1000));
        let mut input = frame(true, OP_TEXT, payload.as_bytes());
        assert_eq!(input[1], 126);
        input.extend(frame(true, OP_TEXT, b""));
        let (out, _) = run(&mut redactor(), &input, 100);
        let frames = parse(&out);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].2,
            format!("{}[REDACTED]", "y".repeat(1000)).as_bytes()
        );
        assert_eq!(frames[1], (true, OP_TEXT, Vec::new()));
    }

    #[test]
    fn control_payloads_redacted_within_limits() {
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(format!("bye {SECRET}").as_bytes());
        let mut input = frame(true, OP_CLOSE, &close);
        input.extend(frame(true, OP_PONG, SECRET.as_bytes()));
        let (out, hits) = run(&mut redactor(), &input, 2);
        let frames = parse(&out);
        let mut expected = 1000u16.to_be_bytes().to_vec();
        expected.extend_from_slice(b"bye [REDACTED]");
        assert_eq!(frames[0], (true, OP_CLOSE, expected));
        assert_eq!(frames[1], (true, OP_PONG, REDACTED.to_vec()));
        assert_eq!(hits, 2);
    }

    #[test]
    fn uninspectable_streams_are_errors() {
        let mut out = Vec::new();
        let mut hits = Vec::new();
        let mut compressed = frame(true, OP_TEXT, b"abc");
        compressed[0] |= 0x40;
        assert_eq!(
            redactor().push(&compressed, &mut out, &mut hits),
            Err(FrameError::ReservedBits)
        );
        let mut masked = frame(true, OP_TEXT, b"abc");
        masked[1] |= 0x80;
        masked.splice(2..2, [1, 2, 3, 4]);
        assert_eq!(
            redactor().push(&masked, &mut out, &mut hits),
            Err(FrameError::Masked)
        );
        assert_eq!(
            redactor().push(&frame(true, 3, b""), &mut out, &mut hits),
            Err(FrameError::ReservedOpcode(3))
        );
        assert_eq!(
            redactor().push(&frame(false, OP_PING, b""), &mut out, &mut hits),
            Err(FrameError::BadControl)
        );
        assert_eq!(
            redactor().push(&frame(true, OP_CONTINUATION, b"x"), &mut out, &mut hits),
            Err(FrameError::BadFragmentation)
        );
        let mut two = frame(false, OP_TEXT, b"a");
        two.extend(frame(true, OP_TEXT, b"b"));
        assert_eq!(
            redactor().push(&two, &mut out, &mut hits),
            Err(FrameError::BadFragmentation)
        );
    }
}
