//! The browser-callback listener: `/start` sends the browser to the provider,
//! `/callback` receives the authorization code and shows a one-time code.
//!
//! It is served by hyper (already in the tree through reqwest) instead of tiny_http:
//! tiny_http 0.12 has no socket timeouts and no caps on header size or count, and it
//! reads any Transfer-Encoding as chunked. Here each connection has a header read
//! timeout, a cap on its buffer and header count, one request only (no keep-alive), a
//! total time limit, and the number of open connections is capped. Only GET and HEAD
//! without a body are accepted.

mod pages;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::audit::Level;
use crate::daemon::Daemon;
use crate::flows::code::{authorization_url, exchange_code};
use crate::login::checks::check_assurance;
use crate::login::verdict::verify_identity;

/// Maximum connections served at once.
const MAX_WEB_CONNECTIONS: usize = 64;

/// Bytes hyper may buffer for one request head (hyper's minimum is 8 KiB).
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Maximum header lines in one request.
const MAX_HEADERS: usize = 32;

/// Time allowed to send the request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time one connection may take in all, including the provider calls of a callback.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until the listener fails.
pub async fn serve_web(daemon: Arc<Daemon>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_WEB_CONNECTIONS));

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                daemon.audit.event(Level::Error, "web_accept_failed", &[("reason", &err.to_string())]);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };

        let daemon = daemon.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let daemon = daemon.clone();
                async move { Ok::<_, Infallible>(handle(&daemon, request).await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .keep_alive(false)
                .max_buf_size(MAX_REQUEST_HEAD)
                .max_headers(MAX_HEADERS)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(permit);
        });
    }
}

async fn handle(daemon: &Daemon, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = pages::error_page(StatusCode::METHOD_NOT_ALLOWED, "Only GET is accepted here.");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if has_body(&request) {
        return pages::error_page(StatusCode::BAD_REQUEST, "Requests to this page must not have a body.");
    }
    let Some(web) = daemon.web.as_ref() else {
        return pages::error_page(StatusCode::NOT_FOUND, "Not found.");
    };

    let query = parse_query(request.uri().query().unwrap_or_default());
    match route(request.uri().path(), &web.public_url) {
        Some("/") => pages::landing_page(&format!("{}/start", web.public_url)),
        Some("/start") => start(daemon).await,
        Some("/callback") => callback(daemon, &query).await,
        _ => pages::error_page(StatusCode::NOT_FOUND, "Not found."),
    }
}

/// Strips the public URL's path prefix when the proxy passes it through, so both
/// `/ultraauth/start` and `/start` reach the start page.
fn route<'a>(path: &'a str, public_url: &str) -> Option<&'a str> {
    let prefix = url::Url::parse(public_url).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default();
    let relative = path.strip_prefix(prefix.as_str()).filter(|rest| rest.is_empty() || rest.starts_with('/')).unwrap_or(path);
    Some(if relative.is_empty() { "/" } else { relative })
}

fn has_body(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    let content_length = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()).map(str::trim);
    headers.contains_key(header::TRANSFER_ENCODING) || content_length.is_some_and(|len| len != "0")
}

fn parse_query(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes()).take(16).map(|(key, value)| (key.into_owned(), value.into_owned())).collect()
}

/// Creates state, nonce and PKCE verifier and redirects to the provider.
async fn start(daemon: &Daemon) -> Response<Full<Bytes>> {
    let Some(web) = daemon.web.as_ref() else { return pages::error_page(StatusCode::NOT_FOUND, "Not found.") };

    let metadata = match daemon.provider.metadata().await {
        Ok(metadata) => metadata,
        Err(err) => {
            daemon.audit.event(Level::Error, "browser_verification_failed", &[("flow", "code"), ("reason", &err.to_string())]);
            return pages::error_page(StatusCode::BAD_GATEWAY, "The verification service is not reachable. Try again later.");
        }
    };
    let Some(endpoint) = metadata.authorization_endpoint.as_deref() else {
        daemon.audit.event(Level::Error, "browser_verification_failed", &[("flow", "code"), ("reason", "the provider has no authorization_endpoint")]);
        return pages::error_page(StatusCode::BAD_GATEWAY, "The verification service does not support browser sign-in.");
    };

    let Some(request) = daemon.pending_authorizations.begin() else {
        daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("reason", "too many browser verifications in flight")]);
        return pages::error_page(StatusCode::SERVICE_UNAVAILABLE, "Too many sign-ins are in progress. Try again in a minute.");
    };

    let config = daemon.provider.config();
    let assurance = daemon.security.load().global.assurance.request_params();
    match authorization_url(endpoint, &config.client_id, &web.redirect_uri(), &config.scopes, &request, &assurance) {
        Ok(url) => pages::redirect(&url),
        Err(reason) => {
            daemon.audit.event(Level::Error, "browser_verification_failed", &[("flow", "code"), ("reason", &reason)]);
            pages::error_page(StatusCode::BAD_GATEWAY, "The verification service is misconfigured.")
        }
    }
}

/// Exchanges the code, verifies the identity and issues a one-time code.
async fn callback(daemon: &Daemon, query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let Some(web) = daemon.web.as_ref() else { return pages::error_page(StatusCode::NOT_FOUND, "Not found.") };
    let start_url = format!("{}/start", web.public_url);

    // The state is taken first, so a callback with an error also ends its authorization.
    let pending = query.get("state").and_then(|state| daemon.pending_authorizations.take(state));

    if let Some(error) = query.get("error") {
        let error: String = error.chars().take(64).filter(|c| c.is_ascii_graphic()).collect();
        daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("reason", &format!("provider returned error {error}"))]);
        return pages::retry_page(StatusCode::FORBIDDEN, "The verification was cancelled or denied.", &start_url);
    }
    let (Some(pending), Some(code)) = (pending, query.get("code")) else {
        daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("reason", "callback with an unknown, used or expired state, or without a code")]);
        return pages::retry_page(StatusCode::BAD_REQUEST, "This sign-in link expired or was already used.", &start_url);
    };

    let tokens = match exchange_code(&daemon.provider, code, &pending, &web.redirect_uri()).await {
        Ok(tokens) => tokens,
        Err(err) => {
            daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("reason", &err.to_string())]);
            return pages::retry_page(StatusCode::BAD_GATEWAY, "The verification could not be completed.", &start_url);
        }
    };

    let identity = match verify_identity(daemon, &tokens, Some(&pending.nonce)).await {
        Ok(identity) => identity,
        Err(verdict) => {
            daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("reason", &verdict.reason)]);
            return pages::retry_page(StatusCode::FORBIDDEN, "The verified account cannot log in here.", &start_url);
        }
    };

    // No PAM service is known yet, so the [assurance] defaults apply here. The login that
    // redeems the code later checks its own service's policy against the claims kept below.
    if let Err(verdict) = check_assurance(daemon, &daemon.security.load().global.assurance, &identity.assurance) {
        daemon.audit.event(Level::Warning, "browser_verification_failed", &[("flow", "code"), ("sub", &identity.sub), ("reason", &verdict.reason)]);
        return pages::retry_page(StatusCode::FORBIDDEN, "The verification did not use a method this login requires.", &start_url);
    }

    let one_time_code = daemon.one_time_codes.issue(&identity.local_user);
    daemon.code_assurance.record(&identity.local_user, &one_time_code, identity.assurance.clone());
    let lifetime = daemon.one_time_codes.lifetime().as_secs().to_string();
    let (amr, acr) = (identity.assurance.amr_for_log(), identity.assurance.acr_for_log());
    daemon.audit.event(
        Level::Notice,
        "one_time_code_issued",
        &[("user", &identity.local_user), ("flow", "code"), ("sub", &identity.sub), ("amr", &amr), ("acr", &acr), ("lifetime_secs", &lifetime)],
    );
    pages::code_page(&identity.local_user, &one_time_code, daemon.one_time_codes.lifetime(), web.return_url.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_accepts_prefixed_and_stripped_paths() {
        assert_eq!(route("/ultraauth/start", "https://hub.example.org/ultraauth"), Some("/start"));
        assert_eq!(route("/start", "https://hub.example.org/ultraauth"), Some("/start"));
        assert_eq!(route("/ultraauth", "https://hub.example.org/ultraauth"), Some("/"));
        assert_eq!(route("/callback", "http://127.0.0.1:8765"), Some("/callback"));
        assert_eq!(route("/ultraauthx/start", "https://hub.example.org/ultraauth"), Some("/ultraauthx/start"));
    }

    #[test]
    fn query_is_capped() {
        let long: String = (0..100).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(parse_query(&long).len(), 16);
    }
}
