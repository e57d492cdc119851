//! The baseline: a trivial unary service (grpc.health.v1 Check, answered from memory) on the same
//! tonic stack recoupd uses (tonic's server, HTTP/2, TCP_NODELAY), run in a process of its own as
//! recoupd is, so the two are loaded and measured alike.

use tonic::transport::server::TcpIncoming;

/// What the echo process prints once it listens; the address follows.
pub const ANNOUNCE: &str = "echo listening on";

/// Serves until killed.
pub async fn serve(listen: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let (health, service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("{ANNOUNCE} {}", listener.local_addr()?);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}
