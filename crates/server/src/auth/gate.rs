//! The gate every call passes: authentication, the permission matrix, the caller's own limits
//! (`callers`), load shedding and the call timeout, in one tower layer in front of all services.
//! A call takes a slot only once it is admitted, so neither an unauthenticated flood nor one
//! caller can take the slots of everyone else. Health and reflection pass untouched.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use recoup_store::Store;
use tokio::sync::Semaphore;
use tonic::Status;
use tonic::body::Body;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::clock::SharedClock;

use super::callers::{CallerLimits, Callers, Refusal};
use super::idle::IdleLimited;
use super::jwt::JwtVerifier;
use super::keys::{self, Rejection};
use super::permissions::{is_open, roles_for};

/// Calls that stream for as long as the client keeps sending or listening: no call timeout (a
/// client stream that goes quiet ends after `stream_idle` instead).
const STREAMING: &[&str] = &[
    "/recoup.v1.AccountService/ImportAccounts",
    "/recoup.v1.AccountService/ImportAccountsWithResults",
    "/recoup.v1.AccountService/ImportHistory",
    "/recoup.v1.EventService/WatchEvents",
];

/// Gate settings.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Calls handled at once; more are refused with RESOURCE_EXHAUSTED rather than queued.
    pub max_concurrent_calls: usize,
    /// Longest a unary call may take before DEADLINE_EXCEEDED.
    pub call_timeout: Duration,
    /// How long a verified API key is trusted without reading the store again.
    pub key_cache_ttl: Duration,
    /// Calls one caller may have in flight.
    pub max_calls_per_caller: usize,
    /// Calls one caller may start per second on average, and at once after a quiet spell.
    pub caller_rate: f64,
    pub caller_burst: f64,
    /// Roles whose callers have limits of their own.
    pub role_limits: Vec<(super::Role, CallerLimits)>,
    /// Longest a request's body may send nothing before the call ends.
    pub stream_idle: Duration,
}

struct State {
    store: Store,
    jwt: Option<JwtVerifier>,
    permits: Arc<Semaphore>,
    callers: Arc<Callers>,
    stream_idle: Duration,
    call_timeout: Duration,
    key_cache_ttl: Duration,
    clock: SharedClock,
}

#[derive(Clone)]
pub struct GateLayer(Arc<State>);

impl GateLayer {
    pub fn new(
        store: Store,
        config: &GateConfig,
        jwt: Option<JwtVerifier>,
        clock: SharedClock,
    ) -> Self {
        GateLayer(Arc::new(State {
            store,
            jwt,
            permits: Arc::new(Semaphore::new(config.max_concurrent_calls)),
            callers: Callers::new(
                CallerLimits {
                    max_calls: config.max_calls_per_caller,
                    rate: config.caller_rate,
                    burst: config.caller_burst,
                },
                &config.role_limits,
            ),
            stream_idle: config.stream_idle,
            call_timeout: config.call_timeout,
            key_cache_ttl: config.key_cache_ttl,
            clock,
        }))
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;
    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            state: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    state: Arc<State>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The ready service answers this call; a fresh clone waits for the next (tower's pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path().to_owned();
        if is_open(&path) {
            return Box::pin(inner.call(req));
        }
        let state = self.state.clone();
        let answer = async move {
            let identity = match authenticate(&state, req.headers()).await {
                Ok(identity) => identity,
                Err(status) => return Ok(status.into_http()),
            };
            let Some(roles) = roles_for(&path) else {
                return Ok(Status::unimplemented(format!(
                    "{path} is not a method of this server; `grpcurl list` shows the methods"
                ))
                .into_http());
            };
            if !roles.contains(&identity.role) {
                tracing::info!(method = %path, role = %identity.role, "permission denied");
                return Ok(Status::permission_denied(format!(
                    "the {} role may not call {path}",
                    identity.role
                ))
                .into_http());
            }
            // The caller's subject on the call's span (metrics::Measured): who, never what.
            tracing::Span::current().record("subject", identity.subject.as_str());
            let admitted = match state.callers.admit(
                &identity.subject,
                identity.role,
                std::time::Instant::now(),
            ) {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    let (wait, why) = match refusal {
                        Refusal::Busy(wait) => {
                            (wait, "this caller has its limit of calls in flight")
                        }
                        Refusal::Rate(wait) => (
                            wait,
                            "this caller is starting calls faster than its rate limit",
                        ),
                    };
                    tracing::warn!(method = %path, subject = %identity.subject, why, "caller limit: call refused");
                    return Ok(
                        overloaded(format!("{why}; retry after the RetryInfo delay"), wait)
                            .into_http(),
                    );
                }
            };
            let Ok(permit) = state.permits.clone().try_acquire_owned() else {
                tracing::warn!(method = %path, "overloaded: call refused");
                return Ok(overloaded(
                    "the server is at its concurrent call limit; retry with backoff".into(),
                    Duration::from_secs(1),
                )
                .into_http());
            };
            req.extensions_mut().insert(identity);
            let idle = state.stream_idle;
            let req = req.map(|body| Body::new(IdleLimited::new(body, idle)));
            let response = if STREAMING.contains(&path.as_str()) {
                inner.call(req).await
            } else {
                match tokio::time::timeout(state.call_timeout, inner.call(req)).await {
                    Ok(r) => r,
                    Err(_) => Ok(Status::deadline_exceeded(format!(
                        "the call took longer than the server's limit of {:?}",
                        state.call_timeout
                    ))
                    .into_http()),
                }
            };
            // The slot and the caller's count are held until the response has been sent in full:
            // for a stream, until it ends.
            let held = (permit, admitted);
            response.map(|r| {
                r.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &held;
                        frame
                    }))
                })
            })
        };
        // Every failed call, refused here or by its handler, leaves with an ErrorInfo reason.
        Box::pin(async move { answer.await.map(crate::status::response_with_reason) })
    }
}

/// RESOURCE_EXHAUSTED with ErrorInfo OVERLOADED and RetryInfo: when trying again makes sense.
fn overloaded(message: String, wait: Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(wait));
    details.set_error_info("OVERLOADED", crate::status::ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(tonic::Code::ResourceExhausted, message, details)
}

/// The identity behind an `authorization: Bearer …` header, or UNAUTHENTICATED.
async fn authenticate(state: &State, headers: &http::HeaderMap) -> Result<super::Identity, Status> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(Status::unauthenticated(
            "missing credentials: send the header 'authorization: Bearer <key>'",
        ));
    };
    // RFC 7235: the scheme name is case-insensitive ("bearer", "BEARER").
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(Status::unauthenticated(
            "malformed credentials: expected 'authorization: Bearer <key>'",
        ));
    };
    if let Some(jwt) = &state.jwt
        && JwtVerifier::looks_like_jwt(token)
    {
        return jwt.verify(token).map_err(|why| {
            tracing::info!(reason = %why, "token refused");
            Status::unauthenticated("token not accepted: invalid, expired or not for this service")
        });
    }
    match keys::verify(&state.store, token, state.clock.now(), state.key_cache_ttl).await {
        Ok(Ok(identity)) => Ok(identity),
        Ok(Err((Rejection::Malformed, _))) => Err(Status::unauthenticated(
            "malformed credentials: not an API key",
        )),
        Ok(Err((why, key_id))) => {
            tracing::info!(key_id = %key_id, reason = ?why, "credential refused");
            Err(Status::unauthenticated(
                "credentials not accepted: unknown, revoked or expired",
            ))
        }
        Err(e) => Err(crate::status::store_failed(e)),
    }
}
