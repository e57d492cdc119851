use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    recoup_server::cli::run(std::env::args_os()).await
}
