//! HTML pages of the browser-callback listener, with headers that keep them out of
//! caches, referrers and frames.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

/// No scripts, no external loads, no framing, no form targets.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{font-family:sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}output{font-family:monospace;font-size:1.6rem}";

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn page(status: StatusCode, title: &str, head_extra: &str, body: &str) -> Response<Full<Bytes>> {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>{head_extra}<style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>\n",
        title = escape_html(title),
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    add_security_headers(&mut response, "text/html; charset=utf-8");
    response
}

fn add_security_headers(response: &mut Response<Full<Bytes>>, content_type: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
}

pub fn error_page(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    page(status, "UltraAuth", "", &format!("<p>{}</p>", escape_html(message)))
}

pub fn retry_page(status: StatusCode, message: &str, start_url: &str) -> Response<Full<Bytes>> {
    let body = format!("<p>{}</p><p><a href=\"{}\">Start again</a></p>", escape_html(message), escape_html(start_url));
    page(status, "UltraAuth", "", &body)
}

pub fn landing_page(start_url: &str) -> Response<Full<Bytes>> {
    let body = format!("<p><a href=\"{}\">Sign in with UltraAuth</a> to get a one-time login code.</p>", escape_html(start_url));
    page(StatusCode::OK, "UltraAuth", "", &body)
}

pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    add_security_headers(&mut response, "text/plain; charset=utf-8");
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Shows the user and the code. With a `return_url` the page also sends the browser
/// there with both in the URL fragment, which browsers never send to a server.
pub fn code_page(user: &str, code: &str, lifetime: Duration, return_url: Option<&str>) -> Response<Full<Bytes>> {
    let minutes = lifetime.as_secs().div_ceil(60);
    let mut body = format!(
        "<p>Verified as <output id=\"ultraauth-user\">{user}</output>.</p>\
         <p>Your one-time code: <output id=\"ultraauth-code\">{code}</output></p>\
         <p>It works once, for this user only, within {minutes} minute(s). Enter it as the password.</p>",
        user = escape_html(user),
        code = escape_html(code),
    );

    let mut head_extra = String::new();
    if let Some(return_url) = return_url {
        let fragment: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("ultraauth_user", user).append_pair("ultraauth_code", code).finish();
        let target = escape_html(&format!("{return_url}#{fragment}"));
        body.push_str(&format!("<p><a id=\"ultraauth-continue\" href=\"{target}\">Continue</a></p>"));
        head_extra = format!("<meta http-equiv=\"refresh\" content=\"0; url={target}\">");
    }
    page(StatusCode::OK, "UltraAuth", &head_extra, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_markup() {
        assert_eq!(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn code_page_puts_code_in_fragment_only() {
        let response = code_page("alice", "ABCD-EFGH", Duration::from_secs(120), Some("https://hub.example.org/hub/login"));
        let headers = response.headers();
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert!(headers.get(header::LOCATION).is_none());
    }
}
