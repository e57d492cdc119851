//! What each `recoupd` subcommand does; `main.rs` only parses and dispatches.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use recoup_domain::policy::Policy;
use recoup_store::{Store, StoreOptions};

use crate::auth::jwt::JwtSettings;
use crate::auth::{Role, keys};
use crate::config::{
    DatabaseArgs, EvidenceArgs, HealthArgs, JwtArgs, KeysCommand, ReportArgs, ServeArgs,
    WebhooksCommand,
};
use crate::server::{self, BoxError, ServeOptions, TlsPem};
use crate::{demo, policy_file};
use recoup_script::Templates;

/// Opens and migrates the database.
pub async fn migrate(db: &DatabaseArgs) -> Result<Store, BoxError> {
    let store = Store::connect(&db.store_options())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    tracing::info!(backend = store.backend_name(), "database migrated");
    Ok(store)
}

fn read_pem(what: &str, path: &std::path::Path) -> Result<Vec<u8>, BoxError> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()).into())
}

/// TLS material from the flags; refuses plaintext beyond loopback unless --insecure.
fn tls(args: &ServeArgs) -> Result<Option<TlsPem>, BoxError> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsPem {
            cert: read_pem("--tls-cert", cert)?,
            key: read_pem("--tls-key", key)?,
            client_ca: args
                .tls_client_ca
                .as_deref()
                .map(|p| read_pem("--tls-client-ca", p))
                .transpose()?,
        }),
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.insecure {
        return Err(format!(
            "refusing to listen on {} without TLS: give --tls-cert and --tls-key, or --insecure \
             if TLS is terminated in front of recoupd",
            args.listen
        )
        .into());
    }
    Ok(tls)
}

fn jwt(args: &JwtArgs) -> Result<Option<JwtSettings>, BoxError> {
    let (Some(issuer), Some(audience), Some(key)) =
        (&args.jwt_issuer, &args.jwt_audience, &args.jwt_key)
    else {
        return Ok(None);
    };
    Ok(Some(JwtSettings {
        issuer: issuer.clone(),
        audience: audience.clone(),
        algorithm: args.jwt_algorithm,
        key_material: read_pem("--jwt-key", key)?,
        role_claim: args.jwt_role_claim.clone(),
        subject_claim: args.jwt_subject_claim.clone(),
    }))
}

/// The effective policy: defaults, the file, then RECOUP_POLICY__* variables.
fn policy(file: Option<&Path>) -> Result<Policy, BoxError> {
    policy_file::load(file, std::env::vars()).map_err(|e| format!("policy not valid: {e}").into())
}

/// The shipped templates, with the `.hbs` files under `dir` in place of those of the same path (a
/// first folder named like a locale, e.g. `cy-GB/`, holds that locale's).
pub fn templates(dir: Option<&Path>) -> Result<Templates, BoxError> {
    let mut overrides = Vec::new();
    if let Some(dir) = dir {
        collect_templates(dir, dir, &mut overrides)?;
    }
    Templates::new(&overrides).map_err(|e| match dir {
        Some(d) => format!("template in {}: {e}", d.display()).into(),
        None => format!("shipped template: {e}").into(),
    })
}

/// Every `.hbs` file under `at`, as (path relative to `root` with `/` separators, text).
fn collect_templates(
    root: &Path,
    at: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), BoxError> {
    let entries =
        std::fs::read_dir(at).map_err(|e| format!("--templates-dir {}: {e}", at.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(
            entry
                .map_err(|e| format!("--templates-dir {}: {e}", at.display()))?
                .path(),
        );
    }
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_templates(root, &path, out)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("hbs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("template {}: {e}", path.display()))?;
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((relative, text));
        }
    }
    Ok(())
}

/// `recoupd health`: the server's health status, or why it is not serving.
pub async fn health(args: &HealthArgs) -> Result<String, BoxError> {
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let scheme = if args.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut endpoint = Channel::from_shared(format!("{scheme}://{}", args.addr))
        .map_err(|e| format!("--addr {}: {e}", args.addr))?
        .connect_timeout(timeout)
        .timeout(timeout);
    if let Some(ca) = &args.tls_ca {
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read_pem("--tls-ca", ca)?));
        if let Some(domain) = &args.tls_domain {
            tls = tls.domain_name(domain.clone());
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("--tls-ca: {e}"))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("{} is not reachable: {e}", args.addr))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .map_err(|e| {
            format!(
                "{} did not answer the health check: {}",
                args.addr,
                e.message()
            )
        })?
        .into_inner();
    let what = if args.service.is_empty() {
        "recoupd".to_owned()
    } else {
        args.service.clone()
    };
    match answer.status() {
        ServingStatus::Serving => Ok(format!("{what} at {}: SERVING", args.addr)),
        other => Err(format!("{what} at {}: {}", args.addr, other.as_str_name()).into()),
    }
}

/// `recoupd check-config`: the effective policy as a file, or why it is not valid.
pub fn check_config(file: Option<&Path>) -> Result<String, BoxError> {
    let policy = policy(file)?;
    let source = file.map_or("built-in defaults".to_owned(), |f| f.display().to_string());
    Ok(format!(
        "# {source}: valid. The effective policy, defaults and RECOUP_POLICY__* included:\n{}",
        policy_file::render(&policy)
    ))
}

/// `recoupd rates`: the reference-rate tables in force, shipped and from the policy file.
pub fn rates(file: Option<&Path>) -> Result<String, BoxError> {
    let policy = policy(file)?;
    Ok(crate::rates::table(
        &policy.interest.rates,
        Utc::now().date_naive(),
    ))
}

/// `recoupd serve`: until SIGTERM/SIGINT.
pub async fn serve(
    db: &DatabaseArgs,
    config: Option<&Path>,
    args: ServeArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    if let Some(problem) = args.limits.problem() {
        return Err(problem.into());
    }
    let policy = Arc::new(policy(config)?);
    let templates = Arc::new(templates(args.templates_dir.as_deref())?);
    crate::rates::warn_if_stale(&policy.interest.rates, Utc::now().date_naive());
    for locale in templates.unformatted_locales() {
        tracing::warn!(
            locale,
            "locale {locale} has templates but no number and date format of its own: it writes \
             money and dates as en-GB does"
        );
    }
    let tls = tls(&args)?;
    let store = migrate(db).await?;
    if args.demo {
        println!("{}", demo::load(&store, Utc::now()).await?);
        println!(
            "{}",
            demo::issue_keys(&store, &args.listen.to_string(), Utc::now()).await?
        );
    }
    if let Some(addr) = args.metrics_addr {
        let bound =
            crate::metrics::serve(addr, store.clone(), policy.interest.rates.clone()).await?;
        println!("metrics listening on {bound}");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let options = ServeOptions {
        limits: args.limits.clone(),
        tls,
        jwt: jwt(&args.jwt)?,
        health_interval: Duration::from_secs(args.health_interval_secs),
        watch_heartbeat: Duration::from_secs(args.watch_heartbeat_secs),
        report_interval: Duration::from_secs(args.report_every_secs),
        webhooks: crate::webhooks::WebhookOptions {
            max_attempts: args.webhook_max_attempts,
            timeout: Duration::from_secs(args.webhook_timeout_secs),
            first_retry: Duration::from_secs(args.webhook_first_retry_secs),
            ..crate::webhooks::WebhookOptions::default()
        },
        policy,
        templates,
        browser: crate::browser::BrowserOptions {
            desktop: !args.no_desktop,
            cors_origins: args.cors_origins.clone(),
        },
        ..ServeOptions::default()
    };
    let running = server::start(store.clone(), listener, &options).await?;
    tracing::info!(addr = %running.addr, backend = store.backend_name(), tls = options.tls.is_some(), "recoupd serving");
    if options.browser.desktop {
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let keys = if args.demo {
            "a demo key above"
        } else {
            "a key from `recoupd keys create`"
        };
        println!(
            "agent desktop: {scheme}://{}/ (sign in with {keys})",
            running.addr
        );
    }
    // Last: scripts and tests take this line to mean "ready" and may stop reading after it.
    println!("recoupd listening on {}", running.addr);
    shutdown.await;
    tracing::info!("shutting down: health NOT_SERVING, draining, then finishing in-flight calls");
    running
        .shutdown(
            Duration::from_secs(args.shutdown_drain_secs),
            Duration::from_secs(args.shutdown_grace_secs),
        )
        .await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `recoupd webhooks …`: returns what to print. Like `keys`, on an existing, migrated database only.
pub async fn webhooks(db: &DatabaseArgs, command: WebhooksCommand) -> Result<String, BoxError> {
    let store = existing_store(db).await?;
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match command {
        WebhooksCommand::Add { url, events } => {
            if let Some(why) = crate::webhooks::url_problem(&url) {
                return Err(format!("--url {why}").into());
            }
            let mut types: Vec<String> = Vec::new();
            for e in &events {
                let t = e.trim().to_ascii_lowercase();
                if !crate::services::events::event_type_names().any(|n| n == t) {
                    return Err(format!(
                        "--event '{e}' is not an event type; one of: {}",
                        crate::services::events::event_type_names()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                    .into());
                }
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| format!("no random source: {e}"))?;
            let secret = format!("whsec_{}", URL_SAFE_NO_PAD.encode(raw));
            let w = store
                .add_webhook(&url, &types, &secret, "recoupd webhooks", Utc::now())
                .await?;
            Ok(format!(
                "webhook {} posts {} to {} from event {} on
signing secret (shown this once): {secret}",
                w.id,
                if types.is_empty() {
                    "every event".to_owned()
                } else {
                    types.join(", ")
                },
                w.url,
                w.position + 1
            ))
        }
        WebhooksCommand::List => {
            let mut out = format!(
                "{:<6}  {:<10}  {:<25}  {:<40}  url
",
                "id", "position", "created", "events"
            );
            for w in store.webhooks().await? {
                let types = if w.event_types.is_empty() {
                    "all".to_owned()
                } else {
                    w.event_types.join(",")
                };
                out.push_str(&format!(
                    "{:<6}  {:<10}  {:<25}  {:<40}  {}{}
",
                    w.id,
                    w.position,
                    time(w.create_time),
                    types,
                    w.url,
                    if w.attempts > 0 {
                        format!(" (next event failed {} times)", w.attempts)
                    } else {
                        String::new()
                    }
                ));
            }
            Ok(out.trim_end().to_owned())
        }
        WebhooksCommand::Remove { id } => {
            if store.remove_webhook(id).await? {
                Ok(format!("webhook {id} removed"))
            } else {
                Err(format!("no webhook {id}").into())
            }
        }
        WebhooksCommand::Deliveries { id, limit } => {
            let w = store
                .webhook(id)
                .await?
                .ok_or_else(|| format!("no webhook {id}"))?;
            let mut out = format!(
                "webhook {} ({}): delivered through event {}
",
                w.id, w.url, w.position
            );
            if w.attempts > 0 {
                out.push_str(&format!(
                    "retrying the next event: {} failed tries, last: {}; next try {}
",
                    w.attempts,
                    w.last_error.as_deref().unwrap_or(""),
                    w.retry_time.map(time).unwrap_or_else(|| "now".into())
                ));
            }
            let dead = store.dead_letters(id, limit).await?;
            if dead.is_empty() {
                out.push_str("no dead letters");
            } else {
                out.push_str(&format!(
                    "{:<10}  {:<8}  {:<25}  last error
",
                    "event", "tries", "dead since"
                ));
                for d in dead {
                    out.push_str(&format!(
                        "{:<10}  {:<8}  {:<25}  {}
",
                        d.event_id,
                        d.attempts,
                        time(d.dead_time),
                        d.last_error
                    ));
                }
            }
            Ok(out.trim_end().to_owned())
        }
    }
}

/// An existing, usable database (never created or migrated here).
async fn existing_store(db: &DatabaseArgs) -> Result<Store, BoxError> {
    let options = StoreOptions {
        create_if_missing: false,
        ..db.store_options()
    };
    let store = Store::connect(&options)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    store
        .check()
        .await
        .map_err(|e| format!("cannot use the database: {e}"))?;
    Ok(store)
}

/// `recoupd keys …`: returns what to print. Works on an existing, migrated database only: a wrong
/// directory or URL must not leave an empty database (or a stray schema) behind.
pub async fn keys(db: &DatabaseArgs, command: KeysCommand) -> Result<String, BoxError> {
    let store = existing_store(db).await?;
    let now = Utc::now();
    let out = match command {
        KeysCommand::Create {
            role,
            subject,
            expires,
            queues,
        } => {
            let subject = subject.trim();
            if let Some(why) = crate::auth::subject_problem(subject) {
                return Err(format!("--subject {why}").into());
            }
            let expire_time = expires
                .map(|d| chrono::Duration::from_std(d).map(|d| now + d))
                .transpose()
                .map_err(|_| "--expires is too long")?;
            let limited = (!queues.is_empty()).then(|| queues.clone());
            let key = keys::issue_limited(&store, role, subject, expire_time, limited, now).await?;
            format!(
                "created key {} for {subject} ({role}){}{}\n\n  {}\n\nThis secret is shown once; recoup keeps only its digest.\n\
                 Clients send it as the header: authorization: Bearer {}",
                key.key_id,
                expire_time
                    .map(|t| format!(", expires {}", t.to_rfc3339()))
                    .unwrap_or_default(),
                if queues.is_empty() {
                    String::new()
                } else {
                    format!(", queues {}", queues.join(", "))
                },
                key.secret,
                key.secret
            )
        }
        KeysCommand::List => {
            let mut out = format!(
                "{:<16}  {:<11}  {:<25}  {:<25}  {:<8}  subject\n",
                "key id", "role", "created", "expires", "state"
            );
            for k in store.list_keys().await? {
                let state = if k.revoke_time.is_some() {
                    "revoked"
                } else if k.expire_time.is_some_and(|t| t <= now) {
                    "expired"
                } else {
                    "active"
                };
                out.push_str(&format!(
                    "{:<16}  {:<11}  {:<25}  {:<25}  {:<8}  {}\n",
                    k.key_id,
                    Role::parse(&k.role).map_or("?", Role::as_str),
                    k.create_time.format("%Y-%m-%d %H:%M:%S UTC"),
                    k.expire_time
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_else(|| "never".into()),
                    state,
                    match &k.queues {
                        Some(q) => format!("{} (queues {})", k.subject, q.join(", ")),
                        None => k.subject.clone(),
                    }
                ));
            }
            out
        }
        KeysCommand::Revoke { key_id } => {
            if keys::revoke(&store, &key_id, now).await? {
                format!("revoked key {key_id}")
            } else {
                return Err(format!("no active key {key_id}").into());
            }
        }
    };
    store.close().await;
    Ok(out)
}

/// `recoupd report`: brings the rollup up to date (telling progress on stderr), then returns the
/// report as CSV or JSON.
pub async fn report(
    db: &DatabaseArgs,
    config: Option<&Path>,
    args: &ReportArgs,
) -> Result<String, BoxError> {
    use crate::config::{ReportFormat, ReportGrouping};
    use recoup_proto::v1::KpiGrouping;
    let policy = policy(config)?;
    // The request the RPC would get, checked by the RPC's own rules (fields named as flags).
    let request = recoup_proto::v1::GetKpisRequest {
        from_date: Some(crate::convert::date_out(args.from)),
        to_date: Some(crate::convert::date_out(args.to)),
        group_by: match args.group_by {
            ReportGrouping::None => KpiGrouping::None,
            ReportGrouping::Agent => KpiGrouping::Agent,
            ReportGrouping::Queue => KpiGrouping::Queue,
            ReportGrouping::Currency => KpiGrouping::Currency,
            ReportGrouping::Day => KpiGrouping::Day,
            ReportGrouping::Week => KpiGrouping::Week,
            ReportGrouping::Month => KpiGrouping::Month,
        } as i32,
        time_zone: String::new(),
    };
    let ask = crate::services::reporting::ask_in(&request, &policy, None).map_err(|v| {
        v.into_iter()
            .map(|x| {
                let flag = match x.field.as_str() {
                    "from_date" => "--from",
                    "to_date" => "--to",
                    _ => "--group-by",
                };
                format!("{flag} {}", x.description.replace("from_date", "--from"))
            })
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let store = existing_store(db).await?;
    let lag = store.report_lag(&policy.reporting).await?;
    if lag > crate::report::MAX_LAG {
        eprintln!("recoupd: counting {lag} changes into the report's rollup first");
    }
    let mut folded = 0;
    loop {
        let n = store.fold_report(&policy.reporting).await?;
        folded += n;
        if n == 0 {
            break;
        }
        if lag > crate::report::MAX_LAG && folded % 100_000 < n {
            eprintln!("recoupd: {folded} of about {lag} counted");
        }
    }
    let response = crate::report::kpis(&store, &policy.reporting, &ask, Utc::now())
        .await?
        .map_err(|lag| format!("the rollup is {lag} changes behind"))?;
    store.close().await;
    Ok(match args.format {
        ReportFormat::Json => {
            let json = crate::convert::json::to_json("recoup.v1.GetKpisResponse", &response)?;
            format!("{}\n", String::from_utf8(json)?)
        }
        ReportFormat::Csv => crate::report::csv(&response),
    })
}

/// `recoupd evidence`: writes the account's pack into a new folder; returns what to print (the
/// folder, then each part with its digest).
pub async fn evidence(
    db: &DatabaseArgs,
    config: Option<&Path>,
    args: &EvidenceArgs,
) -> Result<String, BoxError> {
    let policy = Arc::new(policy(config)?);
    let store = existing_store(db).await?;
    let reader = crate::evidence::Reader::new(
        store.clone(),
        policy,
        Arc::new(templates(None)?),
        Arc::new(crate::clock::SystemClock),
    );
    let pack = reader
        .pack(&args.account)
        .await
        .map_err(|s| format!("{}: {}", args.account, s.message()))?;
    store.close().await;
    let manifest: serde_json::Value = serde_json::from_str(&pack.manifest_json)?;
    let reference = manifest["external_ref"].as_str().unwrap_or_default();
    let out = args.out.clone().unwrap_or_else(|| {
        // A reference may hold characters a file name cannot.
        let safe: String = reference
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        std::path::PathBuf::from(format!("evidence-{safe}"))
    });
    if out.exists() && std::fs::read_dir(&out)?.next().is_some() {
        return Err(format!("{} exists and is not empty", out.display()).into());
    }
    let mut printed = format!("{}\n", out.display());
    for part in &pack.parts {
        let path = out.join(&part.name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &part.content)?;
        printed.push_str(&format!("  {}  {}\n", part.sha256, part.name));
    }
    std::fs::write(out.join("manifest.json"), &pack.manifest_json)?;
    printed.push_str("  manifest.json\n");
    Ok(printed)
}
