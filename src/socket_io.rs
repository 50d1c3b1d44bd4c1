//! Async frame reading and writing on the daemon's side of the socket, with timeouts.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};
use zeroize::Zeroizing;
use ultraauth_proto::frame::HEADER_LEN;
use ultraauth_proto::{DaemonReply, FrameError, ModuleRequest, decode_frame_len, encode_frame};

/// Time allowed to write one frame to the module.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads one request, failing with a timeout error at `deadline`.
pub async fn read_request<R: AsyncRead + Unpin>(reader: &mut R, deadline: Instant) -> Result<ModuleRequest, FrameError> {
    read_message(reader, deadline).await
}

/// Reads one message of any type, failing with a timeout error at `deadline`.
pub async fn read_message<R: AsyncRead + Unpin, T: DeserializeOwned>(reader: &mut R, deadline: Instant) -> Result<T, FrameError> {
    timeout_at(deadline, read_message_unbounded(reader))
        .await
        .unwrap_or_else(|_| Err(FrameError::Io(std::io::ErrorKind::TimedOut.into())))
}

async fn read_message_unbounded<R: AsyncRead + Unpin, T: DeserializeOwned>(reader: &mut R) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match reader.read(&mut header[filled..]).await {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => filled += n,
            Err(err) => return Err(FrameError::Io(err)),
        }
    }

    let len = decode_frame_len(header)?;
    // A frame may hold a prompt answer (a one-time code), so it is wiped on drop.
    let mut body = Zeroizing::new(vec![0u8; len]);
    reader.read_exact(&mut body).await.map_err(FrameError::Io)?;
    serde_json::from_slice(&body).map_err(FrameError::InvalidMessage)
}

/// Writes one reply within [`WRITE_TIMEOUT`].
pub async fn write_reply<W: AsyncWrite + Unpin>(writer: &mut W, reply: &DaemonReply) -> Result<(), FrameError> {
    write_message(writer, reply).await
}

/// Writes one message of any type within [`WRITE_TIMEOUT`].
pub async fn write_message<W: AsyncWrite + Unpin, T: Serialize>(writer: &mut W, message: &T) -> Result<(), FrameError> {
    let frame = encode_frame(message)?;
    let write = async {
        writer.write_all(&frame).await?;
        writer.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(result) => result.map_err(FrameError::Io),
        Err(_) => Err(FrameError::Io(std::io::ErrorKind::TimedOut.into())),
    }
}
