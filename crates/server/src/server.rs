//! Assembling and running the gRPC server: the services, health, reflection, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use recoup_domain::policy::Policy;
use recoup_proto::v1::account_service_server::AccountServiceServer;
use recoup_proto::v1::call_service_server::CallServiceServer;
use recoup_proto::v1::event_service_server::EventServiceServer;
use recoup_proto::v1::floor_service_server::FloorServiceServer;
use recoup_proto::v1::guidance_service_server::GuidanceServiceServer;
use recoup_proto::v1::plan_service_server::PlanServiceServer;
use recoup_proto::v1::reporting_service_server::ReportingServiceServer;
use recoup_script::Templates;
use recoup_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::gate::GateLayer;
use crate::auth::jwt::{JwtSettings, JwtVerifier};
use crate::clock::{SharedClock, SystemClock};
use crate::config::LimitArgs;
use crate::services::accounts::Accounts;
use crate::services::calls::Calls;
use crate::services::events::Events;
use crate::services::floor::Floor;
use crate::services::guidance::Guidance;
use crate::services::plans::Plans;
use crate::services::reporting::Reporting;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Fully qualified names of the recoup services, as health reports them.
pub const SERVICES: [&str; 6] = [
    "recoup.v1.AccountService",
    "recoup.v1.CallService",
    "recoup.v1.PlanService",
    "recoup.v1.GuidanceService",
    "recoup.v1.EventService",
    "recoup.v1.ReportingService",
];

/// A server accepting calls. Stop it with `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    health: HealthReporter,
    stop: oneshot::Sender<()>,
    /// Ends open change-feed streams when shutdown begins, so they do not hold it for the grace period.
    closing: tokio::sync::watch::Sender<bool>,
    serve: JoinHandle<Result<(), tonic::transport::Error>>,
    probe: JoinHandle<()>,
    promises: JoinHandle<()>,
    worklist: JoinHandle<()>,
    ledger: JoinHandle<()>,
    reporting: JoinHandle<()>,
    webhooks: JoinHandle<()>,
    feed: JoinHandle<()>,
    _maintenance: recoup_store::Maintenance,
}

async fn set_all(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    for s in SERVICES {
        health.set_service_status(s, status).await;
    }
}

/// Reflection publishes the recoup contract, health, both reflection versions, and google.rpc error
/// details (so grpcurl can decode the BadRequest details of an INVALID_ARGUMENT).
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(recoup_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// PEM material for TLS.
#[derive(Debug, Clone)]
pub struct TlsPem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    /// When set, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca: Option<Vec<u8>>,
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: LimitArgs,
    pub tls: Option<TlsPem>,
    /// When set, bearer JWTs are accepted beside API keys.
    pub jwt: Option<JwtSettings>,
    /// How often health re-checks that the database is usable.
    pub health_interval: Duration,
    /// The house rules (from the policy file).
    pub policy: Arc<Policy>,
    /// How often promise states are judged and changes announced on the feed.
    pub promise_interval: Duration,
    /// How often worklist entries that are stale or due a fresh look are computed.
    pub worklist_interval: Duration,
    /// How often the reporting rollup folds the feed and looks for a day's book to take; zero: never
    /// (reports fold what they need when asked).
    pub report_interval: Duration,
    /// How often an open WatchEvents stream sends a heartbeat.
    pub watch_heartbeat: Duration,
    /// How often request keys past the idempotency window (`policy.requests.keep_days`) are
    /// forgotten.
    pub ledger_interval: Duration,
    /// How webhook endpoints are posted to.
    pub webhooks: crate::webhooks::WebhookOptions,
    /// The templates guidance, letters and written agreements are rendered with.
    pub templates: Arc<Templates>,
    /// Where every decision that depends on the time reads it.
    pub clock: SharedClock,
    /// The desktop at `/` and the origins allowed to call cross-origin (gRPC-Web is always on).
    pub browser: crate::browser::BrowserOptions,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            limits: LimitArgs::default(),
            tls: None,
            jwt: None,
            health_interval: Duration::from_secs(1),
            policy: Arc::default(),
            promise_interval: Duration::from_secs(30),
            worklist_interval: Duration::from_secs(2),
            ledger_interval: Duration::from_secs(3600),
            report_interval: Duration::from_secs(1),
            webhooks: crate::webhooks::WebhookOptions::default(),
            watch_heartbeat: Duration::from_secs(15),
            templates: Arc::new(Templates::new(&[]).expect("the shipped templates render")),
            clock: Arc::new(SystemClock),
            browser: crate::browser::BrowserOptions {
                desktop: true,
                cors_origins: Vec::new(),
            },
        }
    }
}

/// Starts serving on `listener` with a migrated `store`; health is SERVING once this returns.
pub async fn start(
    store: Store,
    listener: TcpListener,
    options: &ServeOptions,
) -> Result<Running, BoxError> {
    let addr = listener.local_addr()?;
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    store.check().await?;
    let maintenance = store.start_maintenance().await?;
    set_all(&health, ServingStatus::Serving).await;
    let clock = options.clock.clone();
    let promises = tokio::spawn(crate::promises::announce_every(
        store.clone(),
        options.policy.clone(),
        options.promise_interval,
        clock.clone(),
    ));
    let worklist = tokio::spawn(crate::worklist::refresh_every(
        store.clone(),
        options.policy.clone(),
        options.worklist_interval,
        clock.clone(),
    ));
    let ledger = tokio::spawn(crate::ledger::forget_every(
        store.clone(),
        options.policy.clone(),
        options.ledger_interval,
        clock.clone(),
    ));
    let webhooks = tokio::spawn(crate::webhooks::deliver_every(
        store.clone(),
        options.policy.clone(),
        options.webhooks.clone(),
    ));
    let reporting = tokio::spawn(crate::report::keep_every(
        store.clone(),
        options.policy.clone(),
        options.report_interval,
        clock.clone(),
    ));
    let feed = tokio::spawn({
        let store = store.clone();
        async move { store.follow_feed(Duration::from_secs(1)).await }
    });
    let probe = tokio::spawn(probe_database(
        store.clone(),
        health.clone(),
        options.health_interval,
    ));

    let jwt = options.jwt.as_ref().map(JwtVerifier::new).transpose()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (closing, closed) = tokio::sync::watch::channel(false);
    let limit = options.limits.max_message_bytes as usize;
    // HTTP/1.1 beside HTTP/2 on the one listener: browsers speak gRPC-Web over either.
    let mut builder = tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(options.limits.max_streams_per_connection)
        .http2_keepalive_interval(Some(Duration::from_secs(options.limits.keepalive_secs)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if options.limits.max_connection_age_secs > 0 {
        builder = builder
            .max_connection_age(Duration::from_secs(options.limits.max_connection_age_secs))
            .max_connection_age_grace(Duration::from_secs(options.limits.call_timeout_secs));
    }
    if let Some(tls) = &options.tls {
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert, &tls.key));
        if let Some(ca) = &tls.client_ca {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder.tls_config(config)?;
    }
    let router = builder
        // CORS first, so a preflight is answered before anything else looks at it; the desktop's
        // files next; then gRPC-Web becomes gRPC, so everything after sees one protocol.
        .layer(crate::browser::cors(&options.browser.cors_origins))
        .layer(crate::browser::DesktopLayer {
            enabled: options.browser.desktop,
        })
        .layer(tonic_web::GrpcWebLayer::new())
        // Outermost of the gRPC layers, so shed, refused and unauthenticated calls are counted too.
        .layer(crate::metrics::MetricsLayer)
        .layer(GateLayer::new(
            store.clone(),
            &options.limits.gate(),
            jwt,
            clock.clone(),
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            AccountServiceServer::new(Accounts::new(
                store.clone(),
                options.policy.clone(),
                options.limits.max_page_size,
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            CallServiceServer::new(Calls::new(
                store.clone(),
                options.policy.clone(),
                options.limits.max_page_size,
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            PlanServiceServer::new(Plans::new(
                store.clone(),
                options.policy.clone(),
                options.templates.clone(),
                options.limits.max_page_size,
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            GuidanceServiceServer::new(Guidance::new(
                store.clone(),
                options.policy.clone(),
                options.templates.clone(),
                options.limits.max_page_size,
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            EventServiceServer::new(Events::new(
                store.clone(),
                closed,
                options.watch_heartbeat,
                clock.clone(),
                options.policy.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            ReportingServiceServer::new(Reporting::new(
                store.clone(),
                options.policy.clone(),
                options.templates.clone(),
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            FloorServiceServer::new(Floor::new(
                store.clone(),
                options.policy.clone(),
                options.templates.clone(),
                options.limits.max_page_size,
                clock.clone(),
            ))
            .max_decoding_message_size(limit),
        );
    // Without TCP_NODELAY, responses that span several segments wait ~40 ms on delayed ACKs.
    let incoming = crate::connections::incoming(listener, options.limits.connections());
    let serve = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        health,
        stop,
        serve,
        probe,
        promises,
        worklist,
        ledger,
        reporting,
        webhooks,
        feed,
        closing,
        _maintenance: maintenance,
    })
}

/// Keeps health in step with the database: NOT_SERVING while it is not usable (does not answer,
/// lost its schema, or was replaced).
async fn probe_database(store: Store, health: HealthReporter, every: Duration) {
    let mut up = true;
    loop {
        tokio::time::sleep(every).await;
        // A database that does not answer within the interval (at least two seconds: a loaded
        // machine is not an outage) is not usable.
        let checked =
            match tokio::time::timeout(every.max(Duration::from_secs(2)), store.check()).await {
                Ok(checked) => checked,
                Err(_) => Err(recoup_store::StoreError::Unusable(
                    "the database did not answer the health check in time".into(),
                )),
            };
        if checked.is_ok() != up {
            up = checked.is_ok();
            match checked {
                Ok(()) => {
                    tracing::info!("database usable again; health SERVING");
                    set_all(&health, ServingStatus::Serving).await;
                }
                Err(e) => {
                    tracing::warn!(reason = %e, "database not usable; health NOT_SERVING");
                    set_all(&health, ServingStatus::NotServing).await;
                }
            }
        }
    }
}

impl Running {
    /// Health turns NOT_SERVING; for `drain` the server keeps serving (so load balancers that watch
    /// health move traffic away); then new connections are refused and in-flight calls get `grace`
    /// to finish before the server is dropped.
    pub async fn shutdown(self, drain: Duration, grace: Duration) -> Result<(), BoxError> {
        self.probe.abort();
        self.promises.abort();
        self.worklist.abort();
        self.ledger.abort();
        self.reporting.abort();
        self.webhooks.abort();
        self.feed.abort();
        set_all(&self.health, ServingStatus::NotServing).await;
        tokio::time::sleep(drain).await;
        let _ = self.closing.send(true);
        let _ = self.stop.send(());
        match tokio::time::timeout(grace, self.serve).await {
            Ok(joined) => joined??,
            Err(_) => tracing::warn!(
                ?grace,
                "in-flight calls still running after the grace period; stopping"
            ),
        }
        Ok(())
    }
}
