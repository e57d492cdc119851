use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use recoup_server::config::{Cli, Command, ServeArgs};
use recoup_server::demo;
use recoup_server::server::{self, BoxError};
use recoup_store::Store;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match EnvFilter::try_new(&cli.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "recoupd: --log / RECOUP_LOG '{}' is not a valid filter: {e}",
                cli.log
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => migrate(&db).await.map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("recoupd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(db: &recoup_server::config::DatabaseArgs) -> Result<Store, BoxError> {
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

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let store = migrate(&args.database).await?;
    if args.demo {
        let report = demo::load(&store, Utc::now()).await?;
        println!("{report}");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let running = server::start(store.clone(), listener).await?;
    tracing::info!(addr = %running.addr, backend = store.backend_name(), "recoupd serving");
    println!("recoupd listening on {}", running.addr);
    shutdown_signal().await;
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
