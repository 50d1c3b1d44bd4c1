//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes of JSON.
//!
//! Every frame is capped at [`MAX_FRAME_LEN`] in both directions, so a peer cannot make
//! the other side allocate more than that by announcing a large length.

use std::fmt;
use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Maximum length of one frame's JSON body, in bytes.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Size of the length prefix, in bytes.
pub const HEADER_LEN: usize = 4;

#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection before a frame started.
    Closed,
    /// Reading or writing failed, including read and write timeouts.
    Io(io::Error),
    /// The length prefix announced a frame above [`MAX_FRAME_LEN`] (or an empty one).
    InvalidLength(usize),
    /// The body was not valid JSON for the expected message type.
    InvalidMessage(serde_json::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => write!(f, "connection closed by peer"),
            FrameError::Io(err) => write!(f, "socket I/O failed: {err}"),
            FrameError::InvalidLength(len) => write!(
                f,
                "invalid frame length {len}: must be between 1 and {MAX_FRAME_LEN} bytes"
            ),
            FrameError::InvalidMessage(err) => write!(f, "invalid message: {err}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Serializes `message` into one frame, header included.
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(message).map_err(FrameError::InvalidMessage)?;
    if body.is_empty() || body.len() > MAX_FRAME_LEN {
        return Err(FrameError::InvalidLength(body.len()));
    }

    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Checks a length prefix and returns the body length it announces.
pub fn decode_frame_len(header: [u8; HEADER_LEN]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len == 0 || len > MAX_FRAME_LEN {
        return Err(FrameError::InvalidLength(len));
    }
    Ok(len)
}

/// Writes one frame; the caller sets the socket's write timeout.
pub fn write_frame<W: Write, T: Serialize>(writer: &mut W, message: &T) -> Result<(), FrameError> {
    let frame = encode_frame(message)?;
    writer.write_all(&frame).map_err(FrameError::Io)?;
    writer.flush().map_err(FrameError::Io)
}

/// Reads one frame; the caller sets the socket's read timeout.
///
/// End of stream before the first header byte is [`FrameError::Closed`]; end of stream
/// inside a frame is an I/O error, so a half-written frame is never taken for a message.
pub fn read_frame<R: Read, T: DeserializeOwned>(reader: &mut R) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    read_header(reader, &mut header)?;
    let len = decode_frame_len(header)?;

    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).map_err(FrameError::Io)?;
    serde_json::from_slice(&body).map_err(FrameError::InvalidMessage)
}

fn read_header<R: Read>(reader: &mut R, header: &mut [u8; HEADER_LEN]) -> Result<(), FrameError> {
    let mut filled = 0;
    while filled < HEADER_LEN {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a frame header",
                )));
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(FrameError::Io(err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{DaemonReply, ModuleRequest};
    use std::io::Cursor;

    #[test]
    fn frame_round_trip() {
        let request = ModuleRequest::AnswerPrompt { text: Some("yes".into()) };
        let bytes = encode_frame(&request).unwrap();
        let decoded: ModuleRequest = read_frame(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(decoded, request);
    }

    #[test]
    fn frame_rejects_oversized_length() {
        let mut bytes = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(bytes));
        assert!(matches!(result, Err(FrameError::InvalidLength(len)) if len == MAX_FRAME_LEN + 1));
    }

    #[test]
    fn frame_rejects_zero_length() {
        let bytes = 0u32.to_be_bytes().to_vec();
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(bytes));
        assert!(matches!(result, Err(FrameError::InvalidLength(0))));
    }

    #[test]
    fn frame_empty_stream_is_closed() {
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(Vec::new()));
        assert!(matches!(result, Err(FrameError::Closed)));
    }

    #[test]
    fn frame_truncated_body_is_io_error() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{\"ty");
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(bytes));
        assert!(matches!(result, Err(FrameError::Io(_))));
    }

    #[test]
    fn frame_truncated_header_is_io_error() {
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(vec![0u8, 0]));
        assert!(matches!(result, Err(FrameError::Io(_))));
    }

    #[test]
    fn frame_invalid_json_is_rejected() {
        let mut bytes = 3u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{x}");
        let result: Result<DaemonReply, _> = read_frame(&mut Cursor::new(bytes));
        assert!(matches!(result, Err(FrameError::InvalidMessage(_))));
    }

    #[test]
    fn encode_rejects_oversized_message() {
        let request = ModuleRequest::AnswerPrompt { text: Some("x".repeat(MAX_FRAME_LEN)) };
        assert!(matches!(encode_frame(&request), Err(FrameError::InvalidLength(_))));
    }
}
