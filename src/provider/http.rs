//! HTTP calls to the provider: bounded in time and size, no redirects followed.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{StatusCode, header};
use serde_json::Value;
use zeroize::Zeroizing;

/// Largest response body accepted from the provider, in bytes.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;

/// Time allowed to open a TCP and TLS connection to the provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum HttpError {
    /// Connecting, sending or receiving failed, or the request timed out.
    Transport(String),
    /// The body was larger than [`MAX_RESPONSE_LEN`].
    TooLarge { url: String },
    /// The body was not JSON, or not a JSON object.
    NotJson { url: String, status: u16 },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Transport(reason) => write!(f, "{reason}"),
            HttpError::TooLarge { url } => write!(f, "response from {url} is larger than {MAX_RESPONSE_LEN} bytes"),
            HttpError::NotJson { url, status } => write!(f, "response from {url} (HTTP {status}) is not a JSON object"),
        }
    }
}

/// A JSON object response with its HTTP status.
#[derive(Debug)]
pub struct JsonResponse {
    pub status: StatusCode,
    pub body: serde_json::Map<String, Value>,
}

/// Client credentials for the token endpoint.
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
}

/// Provider requests in flight at once. Over HTTP/1.1 each waiting request keeps its own
/// connection, so without a cap thousands of pending logins open thousands of sockets.
const MAX_IN_FLIGHT: usize = 64;

#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ProviderHttp {
    pub fn new(request_timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(request_timeout))
            .timeout(request_timeout)
            .user_agent(concat!("ultraauthd/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            .build()
            .map_err(|err| format!("building the HTTP client failed: {err}"))?;
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        Ok(ProviderHttp { client, in_flight })
    }

    pub async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<JsonResponse, HttpError> {
        let mut request = self.client.get(url).header(header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(url, request).await
    }

    /// POSTs a form with client_secret_basic authentication (RFC 6749 section 2.3.1), or
    /// with `client_id` in the body for a public client.
    pub async fn post_form(&self, url: &str, auth: &ClientAuth<'_>, form: &[(&str, &str)]) -> Result<JsonResponse, HttpError> {
        let mut request = self.client.post(url).header(header::ACCEPT, "application/json");

        match auth.client_secret {
            Some(secret) => {
                let credentials = Zeroizing::new(format!("{}:{}", form_encode(auth.client_id), form_encode(secret)));
                let value = Zeroizing::new(format!("Basic {}", STANDARD.encode(credentials.as_bytes())));
                let mut header_value = header::HeaderValue::from_str(&value)
                    .map_err(|_| HttpError::Transport("client credentials contain characters not allowed in a header".into()))?;
                header_value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, header_value).form(form);
            }
            None => {
                let mut with_id: Vec<(&str, &str)> = form.to_vec();
                with_id.push(("client_id", auth.client_id));
                request = request.form(&with_id);
            }
        }
        self.send(url, request).await
    }

    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<JsonResponse, HttpError> {
        // The permit is held until the body is read, so it bounds open connections too.
        let _permit = self.in_flight.acquire().await.map_err(|_| HttpError::Transport("the HTTP client is shutting down".into()))?;
        let mut response = request.send().await.map_err(|err| HttpError::Transport(describe_transport_error(url, &err)))?;
        let status = response.status();

        if response.content_length().is_some_and(|len| len > MAX_RESPONSE_LEN as u64) {
            return Err(HttpError::TooLarge { url: url.to_owned() });
        }

        // The body holds tokens and device codes, so it is wiped on drop. Buffers that
        // reqwest and hyper used on the way are not (see docs/security.md).
        let initial = response.content_length().map_or(0, |len| len as usize);
        let mut body = Zeroizing::new(Vec::with_capacity(initial));
        while let Some(chunk) = response.chunk().await.map_err(|err| HttpError::Transport(describe_transport_error(url, &err)))? {
            if body.len() + chunk.len() > MAX_RESPONSE_LEN {
                return Err(HttpError::TooLarge { url: url.to_owned() });
            }
            body.extend_from_slice(&chunk);
        }

        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(JsonResponse { status, body: map }),
            _ => Err(HttpError::NotJson { url: url.to_owned(), status: status.as_u16() }),
        }
    }
}

/// application/x-www-form-urlencoded encoding, as RFC 6749 requires for Basic credentials.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn describe_transport_error(url: &str, err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "failed"
    };
    // The error's source chain names the cause (refused, DNS, TLS) without any secret.
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        format!("request to {url} {kind}")
    } else {
        format!("request to {url} {kind}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encode_escapes_reserved() {
        assert_eq!(form_encode("a b:c%"), "a+b%3Ac%25");
    }
}
