//! The wire protocol between `pam_ultraauth.so` and `ultraauthd`.
//!
//! Both sides exchange JSON messages inside length-prefixed frames over a Unix stream
//! socket. The module speaks first with [`ModuleRequest::BeginLogin`]; the daemon answers
//! with prompts and messages for the user and ends with [`DaemonReply::Finish`].
//! `ultraauthctl` sends the requests in [`admin`] over the same socket.

pub mod admin;
pub mod frame;
pub mod logfmt;
pub mod messages;

pub use frame::{FrameError, MAX_FRAME_LEN, decode_frame_len, encode_frame, read_frame, write_frame};
pub use messages::*;
