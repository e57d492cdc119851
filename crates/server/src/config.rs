//! Command line and environment: every setting is a flag with a `RECOUP_*` variable beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use recoup_store::StoreOptions;

use crate::auth::Role;
use crate::auth::gate::GateConfig;
use crate::auth::jwt::JwtAlgorithm;

/// recoupd: the recoup credit-control gRPC service.
#[derive(Debug, Parser)]
#[command(name = "recoupd", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Policy file (TOML; see recoup.example.toml). Keys left out keep their defaults;
    /// RECOUP_POLICY__* variables override it.
    #[arg(long, env = "RECOUP_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Log filter, in tracing's env-filter syntax (e.g. "info", "recoup_server=debug"). The
    /// template engine is held at warn whatever this says: it would log the data it renders.
    #[arg(long, env = "RECOUP_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log lines as text for people, or as JSON objects (one per line) for log collectors.
    #[arg(
        long,
        env = "RECOUP_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Export traces (a span per RPC, joined to the caller's W3C `traceparent`) over OTLP/gRPC to
    /// this collector, e.g. http://otel-collector:4317 (off unless set).
    #[arg(long, env = "RECOUP_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Validate a policy file (default: --config / RECOUP_CONFIG, else the built-in defaults) with
    /// the RECOUP_POLICY__* variables, and print the effective policy.
    CheckConfig {
        /// The policy file to check.
        file: Option<PathBuf>,
    },
    /// Print the reference-rate tables statutory interest is computed from: the shipped history
    /// amended by the policy file (default: --config / RECOUP_CONFIG), each change marked shipped or
    /// policy file, the date each is known to, and whether debts falling overdue today take a rate
    /// after that date (their interest is then provisional).
    Rates {
        /// The policy file whose amendments to apply.
        file: Option<PathBuf>,
    },
    /// Manage API keys in an existing database (create prints the secret once; only its digest is
    /// stored). Never creates or migrates a database.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage webhook endpoints in an existing database: the change feed posted, signed, to CRMs
    /// that cannot hold a stream open (add prints the signing secret once). Never creates or
    /// migrates a database.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Ask a running recoupd whether it is serving (grpc.health.v1 Check), for container health
    /// checks and scripts: prints the status and exits 0 when SERVING, 1 otherwise (not serving,
    /// unreachable, or no answer in time).
    Health(HealthArgs),
    /// Print the manager's report for a period (the figures ReportingService.GetKpis gives, from the
    /// same rollup, which it first brings up to date) as CSV or proto3 JSON, for spreadsheets. Works
    /// on an existing database; the reporting settings come from the policy (--config and
    /// RECOUP_POLICY__REPORTING__*).
    Report(ReportArgs),
    /// Write an account's evidence pack (for an agency referral or a court claim: the statement,
    /// invoices, payments, letters as sent, calls, plans, disputes and statutory interest with the
    /// rates used) into a new folder: the printable evidence.html, the records as JSON, each
    /// letter's text, and manifest.json with each part's SHA-256. Works on an existing database.
    Evidence(EvidenceArgs),
}

/// Whose pack `recoupd evidence` writes, and where.
#[derive(Debug, Clone, clap::Args)]
pub struct EvidenceArgs {
    /// The account: `accounts/ID`, or its reference in the CRM.
    pub account: String,
    /// The folder to create (default: `evidence-<reference>` here); it must not exist or be empty.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `recoupd report` prints.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// First day of the period (YYYY-MM-DD, in the reporting time zone).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last day of the period, inclusive (YYYY-MM-DD).
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// How the figures are grouped.
    #[arg(long, value_enum, default_value_t = ReportGrouping::None)]
    pub group_by: ReportGrouping,
    /// csv: one line per group, figure and currency (`group,period_start,period_end,figure,
    /// currency,value`, amounts as decimals); json: GetKpisResponse as proto3 JSON.
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportGrouping {
    None,
    Agent,
    Queue,
    Currency,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Json,
}

/// Where and how `recoupd health` asks.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The server's address, host:port.
    #[arg(long, env = "RECOUP_HEALTH_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: String,
    /// The service to ask about; empty means the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Connect with TLS, trusting the certificates this PEM CA file signed (default: plaintext).
    #[arg(long, env = "RECOUP_HEALTH_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate is for, when it differs from the address's host.
    #[arg(long, env = "RECOUP_HEALTH_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint: it is posted every event from now on (of the types given, or all),
    /// and the secret its posts are signed with is printed this once.
    Add {
        /// Where to post: https, or plain http to this machine only.
        #[arg(long)]
        url: String,
        /// An event type to post (repeatable; default: every type): account_created,
        /// account_updated, payment_recorded, call_recorded, promise_changed, dispute_changed,
        /// plan_changed, letter_rendered, category_set, contact_rule_breached,
        /// contact_block_lifted.
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// List the endpoints: id, URL, types, position in the feed, and a failing event's tries.
    List,
    /// Remove an endpoint (its dead letters go with it).
    Remove {
        /// The endpoint's id (from `list`).
        id: i64,
    },
    /// One endpoint's deliveries: its position, the event being retried and why, and the events
    /// dead-lettered after their last try (newest first).
    Deliveries {
        /// The endpoint's id (from `list`).
        id: i64,
        /// How many dead letters to show.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown this once only).
    Create {
        /// What the key may do.
        #[arg(long, value_enum)]
        role: Role,
        /// Who holds it: recorded as the actor of every change made with it (1 to 100 characters).
        #[arg(long)]
        subject: String,
        /// How long until it expires, e.g. "90d", "12h" (default: never).
        #[arg(long, value_parser = positive_duration)]
        expires: Option<std::time::Duration>,
        /// Limit the key to a queue (repeatable): ClaimNextAccount and GetWorklist then work only
        /// these queues (default: every queue).
        #[arg(long = "queue", value_parser = queue_name)]
        queues: Vec<String>,
    },
    /// List keys: id, role, subject, created, expires, state. Secrets are never shown.
    List,
    /// Revoke a key by its id (the part between "rk_" and "."); effective on the next call.
    Revoke {
        /// The key id.
        key_id: String,
    },
}

/// A queue name for `--queue`.
fn queue_name(s: &str) -> Result<String, String> {
    if recoup_domain::account::is_queue_name(s) {
        Ok(s.to_owned())
    } else {
        Err(recoup_domain::account::QUEUE_RULE.to_owned())
    }
}

/// A duration for `--expires`: humantime syntax, and more than zero (a key that expires at once
/// is a mistake, not a key).
fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than zero (e.g. 90d, 12h)".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// Where the database is. Global: accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database: `sqlite:PATH` (created if missing by serve and migrate) or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "RECOUP_DATABASE_URL",
        default_value = "sqlite:recoup.db",
        global = true
    )]
    pub database_url: String,

    /// Most database connections: the PostgreSQL pool (default 8), or SQLite's readers (default two
    /// per core; SQLite always has one writer besides).
    #[arg(long, env = "RECOUP_DB_MAX_CONNECTIONS", global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: Option<u32>,

    /// Seconds to wait for a database connection (and SQLite's busy timeout).
    #[arg(long, env = "RECOUP_DB_TIMEOUT_SECS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub db_timeout_secs: u64,
}

impl DatabaseArgs {
    /// Options for `serve` and `migrate`, which create a missing SQLite file.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database_url.clone(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_timeout_secs),
            create_if_missing: true,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RECOUP_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Load the demo book (22 accounts, one for each collection situation) if not loaded before.
    #[arg(long, env = "RECOUP_DEMO")]
    pub demo: bool,

    /// Seconds between SIGTERM/SIGINT and closing the listener: health already says NOT_SERVING and
    /// calls are still served, so load balancers can move traffic away first.
    #[arg(long, env = "RECOUP_SHUTDOWN_DRAIN_SECS", default_value_t = 0)]
    pub shutdown_drain_secs: u64,

    /// Seconds in-flight calls get to finish once the listener is closed, before the process exits
    /// anyway (open Health.Watch streams also hold shutdown until then).
    #[arg(long, env = "RECOUP_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// PEM certificate chain for TLS (with --tls-key).
    #[arg(long, env = "RECOUP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for TLS (with --tls-cert).
    #[arg(long, env = "RECOUP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): clients must present a certificate signed by one (mutual TLS).
    #[arg(long, env = "RECOUP_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Do not serve the reference agent desktop at `/` (gRPC and gRPC-Web are served either way).
    #[arg(long, env = "RECOUP_NO_DESKTOP")]
    pub no_desktop: bool,

    /// A browser origin (`scheme://host[:port]`) whose pages may call the API with gRPC-Web from
    /// another origin (CORS); repeatable, or comma-separated in the variable. The desktop at `/`
    /// is the same origin and needs none; a page from any other origin is refused by the browser.
    #[arg(long = "cors-origin", env = "RECOUP_CORS_ORIGINS", value_delimiter = ',',
          value_parser = crate::browser::parse_origin)]
    pub cors_origins: Vec<http::HeaderValue>,

    /// Allow listening on a non-loopback address without TLS (e.g. behind a TLS-terminating proxy).
    #[arg(long, env = "RECOUP_INSECURE")]
    pub insecure: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics (off unless set; a port of its own, so it
    /// can stay inside the cluster while the gRPC port is exposed).
    #[arg(long, env = "RECOUP_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// A folder of template files replacing the shipped ones by name (e.g. plan_agreement.hbs, the
    /// written agreement of a payment plan). Every template is rendered against sample data at
    /// start; a broken one, or a file that is not a template recoup uses, stops the start naming
    /// the file and line.
    #[arg(long, env = "RECOUP_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Seconds between health checks of the database (answers within the interval or 2 s,
    /// whichever is longer, has this build's schema, is the file that was opened, and, after a
    /// write failed for the database's reason such as a full disk, takes a write again); health is
    /// NOT_SERVING while one fails and SERVING again by itself once one passes.
    #[arg(long, env = "RECOUP_HEALTH_INTERVAL_SECS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub health_interval_secs: u64,

    /// Seconds between heartbeats on an open WatchEvents stream (an event of type HEARTBEAT with
    /// the stream's cursor), so a watcher of a few types keeps its resume point current and idle
    /// proxies keep the stream.
    #[arg(long, env = "RECOUP_WATCH_HEARTBEAT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub watch_heartbeat_secs: u64,

    /// Seconds between passes of the reporting keeper, which folds new changes into the report's
    /// rollup and takes the book at each day's end (policy.reporting.time_zone). 0 turns the pass
    /// off on this process: reports still fold what they need when asked, but no daily book is
    /// taken here (run it on at least one replica).
    #[arg(long, env = "RECOUP_REPORT_EVERY_SECS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub report_every_secs: u64,

    /// Tries of one event at a webhook endpoint before it is dead-lettered for that endpoint (the
    /// next event then follows).
    #[arg(long, env = "RECOUP_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,

    /// Seconds a webhook post may take, connecting included, before it counts as failed.
    #[arg(long, env = "RECOUP_WEBHOOK_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub webhook_timeout_secs: u64,

    /// Seconds before the first retry of a failed webhook post; each next wait doubles (at most an
    /// hour), less up to half at random.
    #[arg(long, env = "RECOUP_WEBHOOK_FIRST_RETRY_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub webhook_first_retry_secs: u64,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// Optional JWT bearer tokens (beside API keys), verified against a fixed public key or JWKS file.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// Accept JWTs from this issuer (`iss`); enables JWT authentication.
    #[arg(long, env = "RECOUP_JWT_ISSUER", requires_all = ["jwt_audience", "jwt_key"])]
    pub jwt_issuer: Option<String>,

    /// The audience (`aud`) tokens must name.
    #[arg(long, env = "RECOUP_JWT_AUDIENCE", requires = "jwt_issuer")]
    pub jwt_audience: Option<String>,

    /// File with the issuer's public key (PEM) or key set (JWKS JSON; keys chosen by `kid`).
    #[arg(long, env = "RECOUP_JWT_KEY", requires = "jwt_issuer")]
    pub jwt_key: Option<PathBuf>,

    /// The one signature algorithm accepted; tokens signed otherwise (or unsigned) are refused.
    #[arg(
        long,
        env = "RECOUP_JWT_ALGORITHM",
        value_enum,
        default_value = "RS256"
    )]
    pub jwt_algorithm: JwtAlgorithm,

    /// Claim holding the recoup role (agent, supervisor, integration or admin).
    #[arg(long, env = "RECOUP_JWT_ROLE_CLAIM", default_value = "recoup_role")]
    pub jwt_role_claim: String,

    /// Claim holding the caller's identity, recorded as the actor `jwt:<subject>` (API keys and
    /// tokens name people in separate namespaces).
    #[arg(long, env = "RECOUP_JWT_SUBJECT_CLAIM", default_value = "sub")]
    pub jwt_subject_claim: String,
}

/// Limits that protect the service from oversized or excessive calls.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest request message accepted, in bytes (bulk data streams as many messages).
    #[arg(long, env = "RECOUP_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=(64 * 1024 * 1024)))]
    pub max_message_bytes: u32,

    /// Calls handled at once; beyond it calls are refused at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "RECOUP_MAX_CONCURRENT_CALLS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_calls: u32,

    /// Seconds a unary call may take before DEADLINE_EXCEEDED (streams are not limited).
    #[arg(long, env = "RECOUP_CALL_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub call_timeout_secs: u64,

    /// Seconds a verified API key is trusted without reading the database again (0: read every
    /// call). A key revoked by `recoupd keys revoke` stops working on running servers within this.
    #[arg(long, env = "RECOUP_KEY_CACHE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub key_cache_secs: u64,

    /// Largest page a List call returns (larger page_size values are lowered to it).
    #[arg(long, env = "RECOUP_MAX_PAGE_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_page_size: u32,

    /// Close each client connection after this many seconds (0: never), letting calls in flight
    /// finish, so long-lived HTTP/2 clients reconnect and spread over replicas that were added.
    #[arg(long, env = "RECOUP_MAX_CONNECTION_AGE_SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub max_connection_age_secs: u64,

    /// Calls one caller (one credential's subject) may have in flight at once; more are refused
    /// RESOURCE_EXHAUSTED with RetryInfo, so one key cannot take the slots of the whole floor.
    #[arg(long, env = "RECOUP_MAX_CALLS_PER_CALLER", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_calls_per_caller: u32,

    /// Calls one caller may start per second, on average (a token bucket holding
    /// `--caller-burst`); beyond it RESOURCE_EXHAUSTED with RetryInfo saying when to retry.
    #[arg(long, env = "RECOUP_CALLER_RATE", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub caller_rate: u32,

    /// Calls one caller may start at once after being quiet (the token bucket's size).
    #[arg(long, env = "RECOUP_CALLER_BURST", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub caller_burst: u32,

    /// Limits of its own for every caller of one role, in place of the three above:
    /// ROLE=CALLS/RATE/BURST, e.g. `integration=128/2000/4000` (repeatable; in the variable,
    /// comma-separated).
    #[arg(long = "role-limit", env = "RECOUP_ROLE_LIMITS", value_delimiter = ',',
          value_parser = parse_role_limit)]
    pub role_limits: Vec<RoleLimit>,

    /// Client connections open at once; beyond it a new connection takes the place of the oldest
    /// one that has sent nothing yet, or is closed as it arrives when every open one has spoken.
    /// Lowered at start to the process's open-file limit less 128.
    #[arg(long, env = "RECOUP_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Calls (HTTP/2 streams) one connection may have open at once.
    #[arg(long, env = "RECOUP_MAX_STREAMS_PER_CONNECTION", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_streams_per_connection: u32,

    /// Seconds a new connection may stay silent before it is closed (a client speaks at once).
    #[arg(long, env = "RECOUP_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub handshake_timeout_secs: u64,

    /// Seconds between HTTP/2 pings the server sends on every connection; a client that does not
    /// answer one within 20 s is disconnected, and answers keep live idle clients connected.
    #[arg(long, env = "RECOUP_KEEPALIVE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keepalive_secs: u64,

    /// Seconds a connection may send nothing at all (not even a ping's answer) before it is
    /// closed; keep it above `--keepalive-secs`.
    #[arg(long, env = "RECOUP_IDLE_CONNECTION_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_connection_secs: u64,

    /// Seconds a call's request may send nothing before the call ends DEADLINE_EXCEEDED: a call
    /// whose headers came without its message, or an import stream gone quiet, gives its slot back.
    #[arg(long, env = "RECOUP_STREAM_IDLE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub stream_idle_secs: u64,
}

/// `--role-limit`: one role's per-caller limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleLimit {
    pub role: Role,
    pub calls: u32,
    pub rate: u32,
    pub burst: u32,
}

fn parse_role_limit(s: &str) -> Result<RoleLimit, String> {
    let usage = "expected ROLE=CALLS/RATE/BURST, e.g. integration=128/2000/4000";
    let (role, numbers) = s.split_once('=').ok_or(usage)?;
    let role = Role::parse(role.trim()).ok_or_else(|| {
        format!("'{role}' is not a role (agent, supervisor, integration, admin); {usage}")
    })?;
    let numbers: Vec<u32> = numbers
        .split('/')
        .map(|n| n.trim().parse::<u32>().ok().filter(|n| *n >= 1))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            format!("each of CALLS, RATE and BURST must be a whole number from 1; {usage}")
        })?;
    let [calls, rate, burst] = numbers[..] else {
        return Err(usage.into());
    };
    Ok(RoleLimit {
        role,
        calls,
        rate,
        burst,
    })
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_concurrent_calls: 256,
            call_timeout_secs: 30,
            key_cache_secs: 10,
            max_page_size: 1000,
            max_connection_age_secs: 0,
            max_calls_per_caller: 64,
            caller_rate: 500,
            caller_burst: 1000,
            role_limits: Vec::new(),
            max_connections: 4096,
            max_streams_per_connection: 128,
            handshake_timeout_secs: 10,
            keepalive_secs: 30,
            idle_connection_secs: 120,
            stream_idle_secs: 60,
        }
    }
}

impl LimitArgs {
    pub fn gate(&self) -> GateConfig {
        GateConfig {
            max_concurrent_calls: self.max_concurrent_calls as usize,
            call_timeout: Duration::from_secs(self.call_timeout_secs),
            key_cache_ttl: Duration::from_secs(self.key_cache_secs),
            max_calls_per_caller: self.max_calls_per_caller as usize,
            caller_rate: f64::from(self.caller_rate),
            caller_burst: f64::from(self.caller_burst),
            role_limits: self
                .role_limits
                .iter()
                .map(|r| {
                    (
                        r.role,
                        crate::auth::callers::CallerLimits {
                            max_calls: r.calls as usize,
                            rate: f64::from(r.rate),
                            burst: f64::from(r.burst),
                        },
                    )
                })
                .collect(),
            stream_idle: Duration::from_secs(self.stream_idle_secs),
        }
    }

    /// What makes the limits unusable together, if anything.
    pub fn problem(&self) -> Option<String> {
        (self.idle_connection_secs <= self.keepalive_secs).then(|| {
            format!(
                "--idle-connection-secs ({}) must be longer than --keepalive-secs ({}): the \
                 answers to the server's pings are what keep an idle client's connection open",
                self.idle_connection_secs, self.keepalive_secs
            )
        })
    }

    pub fn connections(&self) -> crate::connections::ConnectionLimits {
        crate::connections::ConnectionLimits {
            max_connections: self.max_connections as usize,
            handshake: Duration::from_secs(self.handshake_timeout_secs),
            idle: Duration::from_secs(self.idle_connection_secs),
        }
    }
}
