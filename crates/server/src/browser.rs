//! What browsers need beside native gRPC on the same listener: gRPC-Web (tonic-web, in
//! `server.rs`), CORS for the origins an operator allows, and the reference desktop's files at `/`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::body::Body;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How browsers are served.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Serve the reference desktop at `/`.
    pub desktop: bool,
    /// Origins (`scheme://host[:port]`) whose pages may call the API cross-origin.
    pub cors_origins: Vec<HeaderValue>,
}

/// An origin as `--cors-origin` takes it: `http(s)://host[:port]`, nothing after.
pub fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let bad = || {
        format!(
            "{text:?} is not an origin: write scheme://host[:port], e.g. https://desk.example.com (no path, no trailing slash, no wildcard)"
        )
    };
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        return Err(bad());
    }
    HeaderValue::from_str(text).map_err(|_| bad())
}

/// CORS for gRPC-Web from the allowed origins: the headers grpc-web and Connect-ES send, and the
/// gRPC status headers a browser script must be able to read. With no origin allowed, a
/// cross-origin page gets no CORS headers, so the browser refuses it; same-origin pages (the
/// desktop) need none.
pub fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
            HeaderName::from_static("traceparent"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// The page's rules for the browser: its own scripts, styles and API only; no framing, no plugins,
/// no inline script — so data that slipped into markup still could not run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Answers GET and HEAD for the desktop's files; every other request goes on to gRPC.
#[derive(Debug, Clone, Copy)]
pub struct DesktopLayer {
    pub enabled: bool,
}

impl<S> Layer<S> for DesktopLayer {
    type Service = Desktop<S>;
    fn layer(&self, inner: S) -> Desktop<S> {
        Desktop {
            inner,
            enabled: self.enabled,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Desktop<S> {
    inner: S,
    enabled: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for Desktop<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let page = (self.enabled && matches!(*req.method(), Method::GET | Method::HEAD))
            .then(|| recoup_desktop::asset(req.uri().path()))
            .flatten();
        match page {
            Some(asset) => {
                let response = asset_response(asset, &req);
                Box::pin(async move { Ok(response) })
            }
            None => Box::pin(self.inner.call(req)),
        }
    }
}

fn asset_response<B>(asset: &recoup_desktop::Asset, req: &Request<B>) -> Response<Body> {
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == asset.etag.as_bytes());
    let (status, body) = if unchanged {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if req.method() == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (
            StatusCode::OK,
            Body::new(http_body_util::Full::new(Bytes::from_static(asset.bytes))),
        )
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Revalidated on every load (a 304 when unchanged), so an upgraded server is never mixed with
    // an old script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(parse_origin("https://desk.example.com").is_ok());
        assert!(parse_origin("http://127.0.0.1:5173").is_ok());
        for bad in [
            "*",
            "desk.example.com",
            "https://desk.example.com/",
            "https://desk.example.com/app",
            "ftp://x",
            "https://",
        ] {
            let err = parse_origin(bad).unwrap_err();
            assert!(err.contains("scheme://host[:port]"), "{bad}: {err}");
        }
    }
}
