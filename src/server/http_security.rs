//! HTTP-level protections every response and request goes through:
//! cross-site request forgery checks and security headers.
//!
//! **Cross-site requests.** Leptos server functions are plain POST
//! endpoints, and the session cookie is `SameSite=Lax`, which still lets a
//! same-site page (another subdomain) post with it. So every request that
//! is not `GET`/`HEAD`/`OPTIONS` must come from an allowed origin: its
//! `Origin` header must match `security.allowed_origins` (or, when that is
//! empty, the request's own `Host`); without `Origin`, its
//! `Sec-Fetch-Site` must be `same-origin` or `none`. Browsers send at least
//! one of the two on every cross-site POST, so a request with neither comes
//! from a non-browser client (curl, a bot, the load generator), which a
//! forged page cannot drive with someone's cookie. Refused: 403. No
//! endpoint changes state on `GET`.
//!
//! **Headers.** `X-Content-Type-Options: nosniff`, `Referrer-Policy`,
//! `X-Frame-Options: DENY`, HSTS when cookies are `Secure`, and a
//! Content-Security-Policy: pages get one with the per-response nonce that
//! Leptos puts on its own inline scripts ([`page_csp`]), so hydration works
//! and any other inline script is refused; everything else gets
//! `default-src 'none'`. The nonce is minted here, before the page renders
//! ([`PageNonce`], handed to Leptos by `router`), and the policy is set
//! here on every HTML answer: it does not depend on the render reaching
//! the header (a page once came out with the non-page policy and never
//! hydrated; ARCHITECTURE.md).

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::config::Settings;
use super::state::AppState;
use crate::error::AppError;

/// Refuses state-changing requests from other origins (403).
pub(crate) async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || is_same_origin(&state.settings, request.headers(), authority.as_deref())
    {
        return next.run(request).await;
    }
    tracing::info!(
        origin = ?request.headers().get(header::ORIGIN),
        path = %request.uri().path(),
        "refused a cross-site request"
    );
    AppError::Forbidden("Cross-site request refused.".into()).into_response()
}

/// `authority` is the request URI's (HTTP/2 carries the host there, as
/// `:authority`, rather than in a `Host` header).
fn is_same_origin(
    settings: &Settings,
    headers: &axum::http::HeaderMap,
    authority: Option<&str>,
) -> bool {
    let text = |name: HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        let origin = origin.trim_end_matches('/');
        // With secure cookies the site is served over HTTPS: a plain-HTTP
        // origin is a man-in-the-middle's page, never ours.
        let schemes: &[&str] = if settings.session.cookie_secure {
            &["https://"]
        } else {
            &["http://", "https://"]
        };
        if !schemes.iter().any(|scheme| {
            origin
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        }) {
            return false;
        }
        let allowed = &settings.security.allowed_origins;
        if !allowed.is_empty() {
            return allowed
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin));
        }
        return text(header::HOST).or(authority).is_some_and(|host| {
            schemes
                .iter()
                .any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}{host}")))
        });
    }
    match text(HeaderName::from_static("sec-fetch-site")) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// The policy for a page whose inline scripts carry `nonce`. Under
/// `cargo leptos watch` (`LEPTOS_WATCH` set) the live-reload script also
/// needs its WebSocket, on another port.
pub(crate) fn page_csp(nonce: &str) -> String {
    let reload = if std::env::var_os("LEPTOS_WATCH").is_some() {
        " ws: wss:"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For everything that is not a page (JSON, the event stream, files).
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The nonce a page rendered for this request puts on its inline scripts,
/// in the request's extensions (where the Leptos context finds it).
#[derive(Clone, Debug)]
pub(crate) struct PageNonce(pub(crate) String);

/// Adds the security headers to every response: an HTML answer (a page)
/// gets the policy of its nonce, anything else the non-page policy.
pub(crate) async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = matches!(*request.method(), Method::GET | Method::HEAD).then(|| {
        let nonce = leptos::nonce::Nonce::new().to_string();
        request.extensions_mut().insert(PageNonce(nonce.clone()));
        nonce
    });
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|kind| kind.to_str().ok())
        .is_some_and(|kind| kind.starts_with("text/html"));
    let page_policy = nonce
        .filter(|_| html)
        .and_then(|nonce| HeaderValue::from_str(&page_csp(&nonce)).ok());
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        page_policy.unwrap_or(HeaderValue::from_static(DEFAULT_CSP)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if state.settings.session.cookie_secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn an_origin_matching_the_host_is_same_origin() {
        let mut settings = Settings::default();
        settings.session.cookie_secure = false;
        let ok = headers(&[
            ("origin", "http://chat.test:3000"),
            ("host", "chat.test:3000"),
        ]);
        assert!(is_same_origin(&settings, &ok, None));
        let evil = headers(&[("origin", "https://evil.test"), ("host", "chat.test:3000")]);
        assert!(!is_same_origin(&settings, &evil, None));
        let null = headers(&[("origin", "null"), ("host", "chat.test")]);
        assert!(!is_same_origin(&settings, &null, None));
    }

    #[test]
    fn with_secure_cookies_only_https_origins_pass() {
        let settings = Settings::default();
        assert!(settings.session.cookie_secure);
        let plain = headers(&[("origin", "http://chat.test"), ("host", "chat.test")]);
        assert!(!is_same_origin(&settings, &plain, None));
        let secure = headers(&[("origin", "https://chat.test"), ("host", "chat.test")]);
        assert!(is_same_origin(&settings, &secure, None));
        assert_eq!(settings.session.cookie_name(), "__Host-redchat_session");
        let mut listed = Settings::default();
        listed.security.allowed_origins = vec!["http://chat.example.com".into()];
        assert!(listed.validate().is_err());
    }

    #[test]
    fn over_http2_the_authority_stands_in_for_host() {
        let settings = Settings::default();
        let origin = headers(&[("origin", "https://chat.test")]);
        assert!(is_same_origin(&settings, &origin, Some("chat.test")));
        assert!(!is_same_origin(&settings, &origin, Some("other.test")));
    }

    #[test]
    fn configured_origins_replace_the_host_rule() {
        let mut settings = Settings::default();
        settings.security.allowed_origins = vec!["https://chat.example.com".into()];
        let ok = headers(&[("origin", "https://chat.example.com"), ("host", "10.0.0.5")]);
        assert!(is_same_origin(&settings, &ok, None));
        let host_only = headers(&[("origin", "http://10.0.0.5"), ("host", "10.0.0.5")]);
        assert!(!is_same_origin(&settings, &host_only, None));
    }

    #[test]
    fn without_origin_the_fetch_site_decides_and_non_browsers_pass() {
        let settings = Settings::default();
        assert!(is_same_origin(
            &settings,
            &headers(&[("sec-fetch-site", "same-origin")]),
            None
        ));
        assert!(!is_same_origin(
            &settings,
            &headers(&[("sec-fetch-site", "cross-site")]),
            None
        ));
        assert!(!is_same_origin(
            &settings,
            &headers(&[("sec-fetch-site", "same-site")]),
            None
        ));
        assert!(is_same_origin(&settings, &headers(&[]), None));
    }
}
