//! What the binary serves to browsers: the chat page (`/` with its script and style) and the
//! embeddable widget (`/widget.js`), each with its security headers. The files are compiled in
//! (`include_str!`): no CDN, no build step.

use crate::app::App;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, LazyLock};
use switchboard_core::TenantId;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(page))
        .route("/chat.js", get(|h: HeaderMap| async move { CHAT_JS.answer(&h) }))
        .route("/chat.css", get(|h: HeaderMap| async move { CHAT_CSS.answer(&h) }))
        .route("/widget.js", get(|h: HeaderMap| async move { WIDGET_JS.answer(&h) }))
}

/// A compiled-in file with its validator, so that a browser holding a copy gets a 304.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    cache_control: &'static str,
    /// Loaded by other sites' pages (the widget), not only by ours.
    for_other_sites: bool,
    etag: String,
}

impl Asset {
    fn new(
        body: impl Into<Bytes>,
        content_type: &'static str,
        cache_control: &'static str,
        for_other_sites: bool,
    ) -> Asset {
        let body = body.into();
        let digest = Sha256::digest(&body);
        Asset {
            body,
            content_type,
            cache_control,
            for_other_sites,
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
        }
    }

    fn answer(&self, req: &HeaderMap) -> Response {
        let fresh = req
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag || t.trim() == "*"));
        let mut res = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            Response::new(Body::from(self.body.clone()))
        };
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, etag);
        }
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        let corp = if self.for_other_sites {
            "cross-origin"
        } else {
            "same-origin"
        };
        h.insert(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static(corp),
        );
        // A site may load the widget with `crossorigin` (for subresource integrity, or to see
        // its errors): that is a CORS request, and the file is public anyway.
        if self.for_other_sites {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        res
    }
}

// The page's own files are revalidated on every load (a 304 is cheap) so that a new release never
// pairs a new page with an old script. The widget sits on customers' pages with many views each:
// a few minutes of a stale copy after a release is the price of not asking every time.
static CHAT_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("web/chat.js"),
        "application/javascript; charset=utf-8",
        "no-cache",
        false,
    )
});
static CHAT_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("web/chat.css"),
        "text/css; charset=utf-8",
        "no-cache",
        false,
    )
});
static WIDGET_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        widget_js(),
        "application/javascript; charset=utf-8",
        "public, max-age=300",
        true,
    )
});

/// The widget is one file on customers' pages, so its stylesheet travels inside it; kept apart
/// here only to be edited as CSS.
const WIDGET_CSS_SLOT: &str = "'__SWITCHBOARD_WIDGET_CSS__'";

fn widget_js() -> String {
    // A JSON string is a JavaScript string literal: quotes, backslashes and line breaks escaped.
    let css = serde_json::to_string(include_str!("web/widget.css")).unwrap_or_else(|_| "''".to_owned());
    include_str!("web/widget.js").replacen(WIDGET_CSS_SLOT, &css, 1)
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    tenant: Option<String>,
}

async fn page(State(app): State<Arc<App>>, uri: axum::http::Uri) -> Response {
    // The query only picks whose framing rules apply; a malformed one gets the strictest.
    let q: PageQuery = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let origins = match q.tenant.as_deref().and_then(|t| TenantId::parse(t).ok()) {
        Some(t) if app.tenants.get(&t).is_some() => match app.store.tenant_settings(&t).await {
            Ok(s) => s.allowed_origins,
            Err(e) => {
                tracing::warn!(tenant = %t, error = %e, "cannot read the allowed origins; the page may only frame itself");
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let csp = page_csp(&origins);
    let mut res = Response::new(Body::from(include_str!("web/index.html")));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    match HeaderValue::from_str(&csp) {
        Ok(v) => h.insert(header::CONTENT_SECURITY_POLICY, v),
        Err(_) => h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP_SELF)),
    };
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The policy depends on the tenant's settings, which an admin may change at any time.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Everything the page needs comes from this server; pictures in rich replies are the bot's
/// own https URLs.
macro_rules! page_csp_base {
    () => {
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src https:; \
         base-uri 'none'; form-action 'none'"
    };
}
const PAGE_CSP_BASE: &str = page_csp_base!();
const PAGE_CSP_SELF: &str = concat!(page_csp_base!(), "; frame-ancestors 'self'");

/// The page's policy: it may be framed by itself and by the sites the tenant allowed.
fn page_csp(origins: &[String]) -> String {
    let mut ancestors = String::from("'self'");
    // Origins are validated when saved; this keeps a stray character (`;` is legal in an
    // authority) from ever reading as a directive of its own.
    for o in origins.iter().filter(|o| {
        o.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'/' | b'[' | b']'))
    }) {
        ancestors.push(' ');
        ancestors.push_str(o);
    }
    format!("{PAGE_CSP_BASE}; frame-ancestors {ancestors}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_are_the_page_itself_and_the_allowed_origins_only() {
        assert_eq!(page_csp(&[]), PAGE_CSP_SELF);
        let csp = page_csp(&["https://shop.example".into(), "http://127.0.0.1:8081".into()]);
        assert!(
            csp.ends_with("; frame-ancestors 'self' https://shop.example http://127.0.0.1:8081"),
            "{csp}"
        );
        let csp = page_csp(&["https://a.example;script-src".into()]);
        assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
    }

    #[test]
    fn a_held_copy_is_answered_not_modified() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&WIDGET_JS.etag).expect("etag"),
        );
        assert_eq!(WIDGET_JS.answer(&h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(WIDGET_JS.answer(&HeaderMap::new()).status(), StatusCode::OK);
    }

    #[test]
    fn the_widget_carries_its_stylesheet() {
        let js = std::str::from_utf8(&WIDGET_JS.body).expect("text");
        assert!(!js.contains(WIDGET_CSS_SLOT));
        assert!(js.contains(r#"const CSS = "/* "#), "the stylesheet as a string");
        assert!(js.contains(r#"\n:host { all: initial; }\n"#));
    }
}
