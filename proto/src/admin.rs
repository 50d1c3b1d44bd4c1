//! Admin messages between `ultraauthctl` and `ultraauthd`.
//!
//! They travel over the login socket in the same frames. The daemon tells them apart from
//! a login by the `type` of the first frame ([`is_admin_type`]) and serves them only to
//! the local users listed in `socket.admin_users`. One connection carries one request
//! and its reply.

use serde::{Deserialize, Serialize};

/// Requests from `ultraauthctl` to the daemon. Requests without fields are empty struct
/// variants, because serde ignores extra fields after the tag of a unit variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminRequest {
    /// Asks for the daemon's state: version, uptime, pending logins, live sessions.
    GetStatus {},
    /// Asks for every live verified session.
    ListSessions {},
    /// Ends every verified session of `user`, so the user's next login runs a flow.
    RevokeSessions { user: String },
}

/// The `type` values of [`AdminRequest`] on the wire.
pub const ADMIN_TYPES: &[&str] = &["get_status", "list_sessions", "revoke_sessions"];

/// Returns whether a first frame with this `type` is an admin request.
pub fn is_admin_type(message_type: &str) -> bool {
    ADMIN_TYPES.contains(&message_type)
}

/// Replies from the daemon to `ultraauthctl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminReply {
    Status(DaemonStatus),
    Sessions { sessions: Vec<SessionInfo> },
    /// The sessions of `user` that [`AdminRequest::RevokeSessions`] ended.
    Revoked { user: String, count: usize },
    /// The request was not served; `message` says why.
    Error { message: String },
}

/// The daemon's state, as `ultraauthctl status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonStatus {
    /// The daemon's version (Cargo package version).
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    /// The configured `provider.issuer`.
    pub issuer: String,
    /// Logins that have started and not yet sent their verdict and closed.
    pub pending_logins: usize,
    pub live_sessions: usize,
    /// Successful configuration reloads (SIGHUP) since the start.
    pub reloads: u64,
}

/// One live verified session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInfo {
    pub user: String,
    pub service: String,
    /// The remote host; empty for a local login.
    pub rhost: String,
    /// The terminal of a local login; empty for a remote one.
    pub tty: String,
    /// The uid of the PAM application that started the session (sshd runs as root).
    pub caller_uid: u32,
    /// Seconds until the session ends.
    pub expires_in_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::ModuleRequest;

    #[test]
    fn admin_types_match_serialized_tags() {
        let requests = [AdminRequest::GetStatus {}, AdminRequest::ListSessions {}, AdminRequest::RevokeSessions { user: "alice".into() }];
        for request in requests {
            let json = serde_json::to_value(&request).unwrap();
            let tag = json["type"].as_str().unwrap();
            assert!(is_admin_type(tag), "{tag} is missing from ADMIN_TYPES");
        }
        assert_eq!(ADMIN_TYPES.len(), 3);
    }

    #[test]
    fn module_types_are_not_admin_types() {
        let request = ModuleRequest::AnswerPrompt { text: None };
        let json = serde_json::to_value(&request).unwrap();
        assert!(!is_admin_type(json["type"].as_str().unwrap()));
        assert!(!is_admin_type("begin_login"));
    }

    #[test]
    fn revoke_request_json_shape() {
        let json = serde_json::to_string(&AdminRequest::RevokeSessions { user: "alice".into() }).unwrap();
        assert_eq!(json, r#"{"type":"revoke_sessions","user":"alice"}"#);
    }

    #[test]
    fn status_request_json_shape() {
        assert_eq!(serde_json::to_string(&AdminRequest::GetStatus {}).unwrap(), r#"{"type":"get_status"}"#);
        let parsed: AdminRequest = serde_json::from_str(r#"{"type":"list_sessions"}"#).unwrap();
        assert_eq!(parsed, AdminRequest::ListSessions {});
    }

    #[test]
    fn admin_unknown_field_is_rejected() {
        let parsed: Result<AdminRequest, _> = serde_json::from_str(r#"{"type":"get_status","verbose":true}"#);
        assert!(parsed.is_err());
    }
}
