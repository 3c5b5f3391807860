//! Byte pipe between two connections with an idle (not total) timeout.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Rewrites bytes flowing from `b` to `a`: appends the output for an input to the buffer;
/// `false` ends the pipe (the stream cannot be relayed any further).
pub(crate) type Transform<'t> = &'t mut (dyn FnMut(&[u8], &mut Vec<u8>) -> bool + Send);

/// Copies both ways until both sides closed, an error, or `idle` without traffic.
pub(crate) async fn pipe<A, B>(a: A, b: B, idle: Duration)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    pipe_transform(a, b, idle, None).await;
}

/// [`pipe`], with the bytes from `b` to `a` passed through `transform` when given.
pub(crate) async fn pipe_transform<A, B>(
    a: A,
    b: B,
    idle: Duration,
    mut transform: Option<Transform<'_>>,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let mut a_buf = vec![0u8; 16 * 1024];
    let mut b_buf = vec![0u8; 16 * 1024];
    let mut b_out = Vec::new();
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        tokio::select! {
            read = a_read.read(&mut a_buf), if !a_done => match read {
                Ok(0) | Err(_) => {
                    a_done = true;
                    let _ = b_write.shutdown().await;
                }
                Ok(n) => {
                    if b_write.write_all(&a_buf[..n]).await.is_err() || b_write.flush().await.is_err() {
                        break;
                    }
                }
            },
            read = b_read.read(&mut b_buf), if !b_done => match read {
                Ok(0) | Err(_) => {
                    b_done = true;
                    let _ = a_write.shutdown().await;
                }
                Ok(n) => {
                    let out = match transform.as_mut() {
                        None => &b_buf[..n],
                        Some(transform) => {
                            b_out.clear();
                            if !transform(&b_buf[..n], &mut b_out) {
                                break;
                            }
                            b_out.as_slice()
                        }
                    };
                    if a_write.write_all(out).await.is_err() || a_write.flush().await.is_err() {
                        break;
                    }
                }
            },
            () = tokio::time::sleep(idle) => {
                tracing::debug!("tunnel idle timeout");
                break;
            }
        }
    }
}
