//! Webhooks, for CRMs that cannot hold a stream open: each registered endpoint (`recoupd webhooks`)
//! is posted the change feed, one event at a time in feed order, as the JSON form of the event
//! WatchEvents streams, signed like Stripe's and GitHub's: `Recoup-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the endpoint's secret>`. A failed post
//! (no answer, a timeout, a status other than 2xx) is tried again with exponential backoff and
//! jitter; after the last try the event is dead-lettered for that endpoint and the next follows, so
//! no event is ever posted after a later one. Delivery is at least once: a crash after a post and
//! before its record repeats the post, and the receiver tells repeats by `Recoup-Event-Id`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use recoup_domain::policy::Policy;
use recoup_proto::v1 as pb;
use recoup_store::{Store, StoreError, StoredEvent, StoredWebhook};
use sha2::Sha256;

use crate::services::events::event_out;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Tries per event before it is dead-lettered.
    pub max_attempts: u32,
    /// How long a post may take, connection included.
    pub timeout: Duration,
    /// The wait after the first failed try; each next wait doubles (at most an hour), less up to
    /// half at random so endpoints that failed together do not retry together.
    pub first_retry: Duration,
    /// How often endpoints are looked at when no event is committed here (other replicas' events).
    pub poll: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(30),
            poll: Duration::from_secs(1),
        }
    }
}

/// Events read per round for one endpoint.
const PAGE: i64 = 100;
/// The longest one round of deliveries to an endpoint runs before the next endpoint's turn.
const ROUND: Duration = Duration::from_secs(60);
/// The longest wait between tries.
const MAX_RETRY: Duration = Duration::from_secs(3600);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What a delivery round needs.
struct Deliverer {
    store: Store,
    policy: Arc<Policy>,
    options: WebhookOptions,
    client: HttpClient,
}

/// Delivers to every endpoint whenever events are committed here, and every `options.poll`, until
/// the task is dropped. Retries, holds and signatures go by the wall clock, not the server's
/// business clock: they are compared across replicas and by receivers.
pub async fn deliver_every(store: Store, policy: Arc<Policy>, options: WebhookOptions) {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let d = Deliverer {
        client: Client::builder(TokioExecutor::new()).build(https),
        store,
        policy,
        options,
    };
    let mut wake = d.store.watch_events();
    loop {
        wake.borrow_and_update();
        if let Err(e) = d.round().await {
            tracing::warn!(error = %e, "webhook deliveries failed; retrying");
        }
        tokio::select! {
            woken = wake.changed() => if woken.is_err() { return },
            _ = tokio::time::sleep(d.options.poll) => {}
        }
    }
}

impl Deliverer {
    /// One round: each endpoint whose next try is due, held so no other replica posts to it.
    async fn round(&self) -> Result<(), StoreError> {
        for w in self.store.webhooks().await? {
            let now = Utc::now();
            if w.retry_time.is_some_and(|t| t > now) {
                continue;
            }
            let hold = ROUND + self.options.timeout * 2;
            let until = now + chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::MAX);
            if !self.store.lease_webhook(w.id, now, until).await? {
                continue;
            }
            let delivered = self.deliver(&w).await;
            self.store.release_webhook(w.id).await?;
            delivered?;
        }
        Ok(())
    }

    /// Posts the events after the endpoint's position in order, until one fails (its retry is
    /// then scheduled), the page ends, or the round's time is up.
    async fn deliver(&self, w: &StoredWebhook) -> Result<(), StoreError> {
        let started = tokio::time::Instant::now();
        let types: Vec<&str> = w.event_types.iter().map(String::as_str).collect();
        let mut attempts = w.attempts;
        for e in self
            .store
            .events_after(w.position, &types, None, PAGE)
            .await?
        {
            if started.elapsed() > ROUND {
                break;
            }
            let event = event_out(&self.store, &self.policy, &e).await?;
            match self.post(w, &event, &e).await {
                Ok(()) => {
                    metrics::counter!("recoup_webhook_deliveries_total", "result" => "delivered")
                        .increment(1);
                    self.store.webhook_passed(w.id, e.id).await?;
                    attempts = 0;
                }
                Err(why) => {
                    attempts += 1;
                    let now = Utc::now();
                    if attempts >= self.options.max_attempts {
                        metrics::counter!("recoup_webhook_deliveries_total", "result" => "dead_lettered")
                            .increment(1);
                        tracing::warn!(webhook = w.id, event = e.id, attempts, error = %why,
                            "webhook event dead-lettered after its last try");
                        self.store
                            .webhook_dead_letter(w.id, e.id, attempts, &why, now)
                            .await?;
                        self.store.webhook_passed(w.id, e.id).await?;
                        attempts = 0;
                        continue;
                    }
                    metrics::counter!("recoup_webhook_deliveries_total", "result" => "failed")
                        .increment(1);
                    tracing::info!(webhook = w.id, event = e.id, attempts, error = %why,
                        "webhook post failed; will try again");
                    let wait = chrono::Duration::from_std(backoff(&self.options, attempts))
                        .unwrap_or(chrono::Duration::MAX);
                    self.store
                        .webhook_failed(w.id, attempts, &why, now + wait)
                        .await?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One post of `event`; Err says why it failed, in words fit for the dead letter.
    async fn post(
        &self,
        w: &StoredWebhook,
        event: &pb::Event,
        stored: &StoredEvent,
    ) -> Result<(), String> {
        let body = event_json(event).map_err(|e| format!("the event could not be written: {e}"))?;
        let t = Utc::now().timestamp();
        let request = http::Request::post(&w.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "recoup-webhooks/1")
            .header("recoup-event-id", &event.cursor)
            .header("recoup-webhook-id", w.id.to_string())
            .header(
                "recoup-signature",
                format!("t={t},v1={}", signature(&w.secret, t, &body)),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("not a URL recoup can post to: {e}"))?;
        let answer = tokio::time::timeout(self.options.timeout, async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read to the end, so the connection can be used again.
            let _ = response.into_body().collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await;
        match answer {
            Err(_) => Err(format!(
                "no answer within {} s",
                self.options.timeout.as_secs_f64()
            )),
            Ok(Err(e)) => Err(format!("could not post: {e}")),
            Ok(Ok(status)) if status.is_success() => {
                tracing::debug!(webhook = w.id, event = stored.id, "webhook event delivered");
                Ok(())
            }
            Ok(Ok(status)) => Err(format!("answered {status}")),
        }
    }
}

/// The event as proto3 JSON (field names in lowerCamelCase, enums by name, 64-bit integers as
/// strings, times in RFC 3339), as any protobuf JSON library reads it.
pub fn event_json(event: &pb::Event) -> Result<Vec<u8>, String> {
    crate::convert::json::to_json("recoup.v1.Event", event)
}

/// The hex HMAC-SHA256 of `<t>.<body>` keyed with `secret`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The wait before try `attempts + 1`: `first_retry` doubled per failed try, at most an hour, less
/// up to half at random.
fn backoff(options: &WebhookOptions, attempts: u32) -> Duration {
    let doubled = options
        .first_retry
        .saturating_mul(1 << attempts.saturating_sub(1).min(20))
        .min(MAX_RETRY);
    let mut byte = [0u8; 1];
    getrandom::fill(&mut byte).expect("the operating system's random source");
    doubled.mul_f64(1.0 - f64::from(byte[0]) / 512.0)
}

/// Why `url` cannot be an endpoint, if it cannot: HTTPS, or plain HTTP to this machine only (a
/// receiver beside recoupd, or a test).
pub fn url_problem(url: &str) -> Option<String> {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return Some("is not a URL".into());
    };
    let Some(host) = uri.host() else {
        return Some("has no host".into());
    };
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => None,
        Some("http") if loopback => None,
        Some("http") => Some("must be https (plain http only to this machine)".into()),
        _ => Some("must be an https URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let body = b"what do ya want for nothing?";
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(body);
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(signature("Jefe", 1, body), signature("Jefe", 2, body));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn endpoints_are_https_or_this_machine() {
        for ok in [
            "https://crm.example/hooks/recoup",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9/hook",
        ] {
            assert_eq!(url_problem(ok), None, "{ok}");
        }
        for bad in [
            "http://crm.example/hook",
            "ftp://x/y",
            "not a url",
            "/relative",
        ] {
            assert!(url_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn retries_back_off_with_jitter_up_to_an_hour() {
        let o = WebhookOptions {
            first_retry: Duration::from_secs(30),
            ..WebhookOptions::default()
        };
        let first = backoff(&o, 1);
        assert!(first <= Duration::from_secs(30) && first >= Duration::from_secs(15));
        let fourth = backoff(&o, 4);
        assert!(fourth <= Duration::from_secs(240) && fourth >= Duration::from_secs(120));
        assert!(backoff(&o, 40) <= MAX_RETRY);
    }
}
