//! OpenID Connect Discovery 1.0: the provider's metadata document.
//!
//! Parsing is strict for the fields the daemon relies on (issuer, token_endpoint,
//! jwks_uri) and lenient for the rest: a missing or malformed optional field reads as
//! absent instead of failing the whole document.

use serde_json::{Map, Value};

use crate::config::EndpointOverrides;
use crate::config::validate::check_provider_url;

/// The metadata fields the daemon uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    /// RFC 8628 section 4; absent when the provider has no device grant.
    pub device_authorization_endpoint: Option<String>,
    /// OpenID Connect CIBA 1.0 section 4; absent when the provider has no push.
    pub backchannel_authentication_endpoint: Option<String>,
    pub backchannel_token_delivery_modes_supported: Option<Vec<String>>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub grant_types_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// Returns the CIBA endpoint when the provider supports poll mode (the only mode a
    /// daemon without a public notification endpoint can use).
    pub fn ciba_poll_endpoint(&self) -> Option<&str> {
        let poll_supported = match &self.backchannel_token_delivery_modes_supported {
            Some(modes) => modes.iter().any(|mode| mode == "poll"),
            None => true,
        };
        self.backchannel_authentication_endpoint.as_deref().filter(|_| poll_supported)
    }
}

/// Returns the discovery URL for an issuer (OpenID Connect Discovery 1.0 section 4).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Parses a discovery document for `expected_issuer` and applies the admin's overrides.
pub fn parse_metadata(document: &Map<String, Value>, expected_issuer: &str, overrides: &EndpointOverrides) -> Result<ProviderMetadata, String> {
    let issuer = required_string(document, "issuer")?;
    // Discovery section 4.3: the issuer must be identical, so a trailing slash counts.
    if issuer != expected_issuer {
        return Err(format!("discovery document names issuer {issuer:?}, but provider.issuer is {expected_issuer:?}; they must be identical"));
    }

    let token_endpoint = pick_endpoint(&overrides.token_endpoint, document, "token_endpoint")?
        .ok_or("discovery document has no token_endpoint; set provider.token_endpoint")?;
    let jwks_uri = pick_endpoint(&overrides.jwks_uri, document, "jwks_uri")?.ok_or("discovery document has no jwks_uri; set provider.jwks_uri")?;

    Ok(ProviderMetadata {
        issuer,
        authorization_endpoint: pick_endpoint(&overrides.authorization_endpoint, document, "authorization_endpoint")?,
        token_endpoint,
        userinfo_endpoint: pick_endpoint(&overrides.userinfo_endpoint, document, "userinfo_endpoint")?,
        jwks_uri,
        device_authorization_endpoint: pick_endpoint(&overrides.device_authorization_endpoint, document, "device_authorization_endpoint")?,
        backchannel_authentication_endpoint: pick_endpoint(&None, document, "backchannel_authentication_endpoint")?,
        backchannel_token_delivery_modes_supported: string_list(document, "backchannel_token_delivery_modes_supported"),
        id_token_signing_alg_values_supported: string_list(document, "id_token_signing_alg_values_supported").unwrap_or_default(),
        grant_types_supported: string_list(document, "grant_types_supported"),
    })
}

fn required_string(document: &Map<String, Value>, key: &str) -> Result<String, String> {
    match document.get(key) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
        Some(other) => Err(format!("discovery document field {key} is {other}, not a string")),
        None => Err(format!("discovery document has no {key}")),
    }
}

/// Returns the admin's override, else the document's endpoint; an endpoint the daemon
/// would call must pass the same URL rules as the configuration.
fn pick_endpoint(overridden: &Option<String>, document: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    if let Some(url) = overridden {
        return Ok(Some(url.clone()));
    }
    let Some(Value::String(url)) = document.get(key) else { return Ok(None) };
    check_provider_url(url).map_err(|reason| format!("discovery document field {key} = {url:?} is invalid: {reason}"))?;
    Ok(Some(url.clone()))
}

fn string_list(document: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    let Some(Value::Array(items)) = document.get(key) else { return None };
    Some(items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn ultraauth_document() -> Map<String, Value> {
        document(json!({
            "issuer": "https://srv.qryp.to/op",
            "authorization_endpoint": "https://srv.qryp.to/op/auth",
            "token_endpoint": "https://srv.qryp.to/op/token",
            "userinfo_endpoint": "https://srv.qryp.to/op/me",
            "jwks_uri": "https://srv.qryp.to/op/jwks",
            "id_token_signing_alg_values_supported": ["RS256", 7],
            "grant_types_supported": "not a list"
        }))
    }

    #[test]
    fn discovery_parses_ultraauth_shape() {
        let metadata = parse_metadata(&ultraauth_document(), "https://srv.qryp.to/op", &EndpointOverrides::default()).unwrap();
        assert_eq!(metadata.token_endpoint, "https://srv.qryp.to/op/token");
        assert_eq!(metadata.userinfo_endpoint.as_deref(), Some("https://srv.qryp.to/op/me"));
        assert_eq!(metadata.device_authorization_endpoint, None);
        assert_eq!(metadata.id_token_signing_alg_values_supported, vec!["RS256"]);
        assert_eq!(metadata.grant_types_supported, None);
    }

    #[test]
    fn discovery_rejects_trailing_slash_issuer() {
        let err = parse_metadata(&ultraauth_document(), "https://srv.qryp.to/op/", &EndpointOverrides::default()).unwrap_err();
        assert!(err.contains("identical"), "{err}");
    }

    #[test]
    fn discovery_override_wins() {
        let overrides = EndpointOverrides { device_authorization_endpoint: Some("https://srv.qryp.to/op/device/auth".into()), ..Default::default() };
        let metadata = parse_metadata(&ultraauth_document(), "https://srv.qryp.to/op", &overrides).unwrap();
        assert_eq!(metadata.device_authorization_endpoint.as_deref(), Some("https://srv.qryp.to/op/device/auth"));
    }

    #[test]
    fn discovery_rejects_plain_http_endpoint() {
        let mut doc = ultraauth_document();
        doc.insert("token_endpoint".into(), json!("http://attacker.example/token"));
        let err = parse_metadata(&doc, "https://srv.qryp.to/op", &EndpointOverrides::default()).unwrap_err();
        assert!(err.contains("token_endpoint"), "{err}");
    }

    #[test]
    fn discovery_requires_jwks_uri() {
        let mut doc = ultraauth_document();
        doc.remove("jwks_uri");
        assert!(parse_metadata(&doc, "https://srv.qryp.to/op", &EndpointOverrides::default()).is_err());
    }

    #[test]
    fn discovery_url_joins_without_double_slash() {
        assert_eq!(discovery_url("https://srv.qryp.to/op/"), "https://srv.qryp.to/op/.well-known/openid-configuration");
    }
}
