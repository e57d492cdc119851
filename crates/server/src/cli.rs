//! recoupd's command line: parse, set up logging, run a subcommand. `main.rs` calls `run`; the
//! benchmark harness calls it too, to run the very same server in a process of its own.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::commands;
use crate::config::{Cli, Command, LogFormat};

/// The most the template engine (handlebars) may log.
const TEMPLATE_ENGINE_LOGS: &str = "handlebars=warn";

/// Runs recoupd with these command-line arguments (the first is the program name).
pub async fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = Cli::parse_from(args);
    let filter = match EnvFilter::try_new(&cli.log) {
        // The template engine logs the data it renders (names, invoices, amounts) at debug and
        // trace: held at warn whatever the filter asks, so logs never carry customer data.
        Ok(f) => f.add_directive(TEMPLATE_ENGINE_LOGS.parse().expect("a valid directive")),
        Err(e) => {
            eprintln!(
                "recoupd: --log / RECOUP_LOG '{}' is not a valid filter: {e}",
                cli.log
            );
            return ExitCode::from(2);
        }
    };
    let tracing = match cli.otlp_endpoint.as_deref().map(crate::telemetry::tracer) {
        None => None,
        Some(Ok(provider)) => Some(provider),
        Some(Err(e)) => {
            eprintln!("recoupd: --otlp-endpoint: {e}");
            return ExitCode::from(2);
        }
    };
    let logs = match cli.log_format {
        // Colour codes only for a person at a terminal, never into files or log collectors.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The log filter is the logs' own: traces keep every call's span whatever the log level.
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(
            tracing
                .as_ref()
                .map(|p| crate::telemetry::layer(p).with_filter(LevelFilter::INFO)),
        )
        .init();
    let serving = matches!(cli.command, Command::Serve(_));
    let result = match cli.command {
        Command::Serve(args) => {
            commands::serve(
                &cli.database,
                cli.config.as_deref(),
                *args,
                shutdown_signal(),
            )
            .await
        }
        Command::CheckConfig { file } => {
            commands::check_config(file.as_deref().or(cli.config.as_deref()))
                .map(|out| print!("{out}"))
        }
        Command::Rates { file } => {
            commands::rates(file.as_deref().or(cli.config.as_deref())).map(|out| print!("{out}"))
        }
        Command::Migrate => commands::migrate(&cli.database).await.map(|_| ()),
        Command::Keys { command } => commands::keys(&cli.database, command)
            .await
            .map(|out| println!("{out}")),
        Command::Webhooks { command } => commands::webhooks(&cli.database, command)
            .await
            .map(|out| println!("{out}")),
        Command::Health(args) => commands::health(&args).await.map(|out| println!("{out}")),
        Command::Report(args) => commands::report(&cli.database, cli.config.as_deref(), &args)
            .await
            .map(|out| print!("{out}")),
        Command::Evidence(args) => commands::evidence(&cli.database, cli.config.as_deref(), &args)
            .await
            .map(|out| print!("{out}")),
    };
    if let Some(provider) = tracing {
        // Sends the spans still batched before the process ends.
        if let Err(e) = provider.shutdown() {
            eprintln!("recoupd: exporting the last traces failed: {e}");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A server's failure also goes to its log stream; a tool's only to the person.
            if serving {
                tracing::error!("{e}");
            }
            eprintln!("recoupd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the future
/// is first polled: a signal that arrives right after "listening" is printed (before the server
/// first waits on it) must still shut it down cleanly, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
        async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
