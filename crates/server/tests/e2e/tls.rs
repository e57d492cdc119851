//! TLS and mutual TLS, with certificates made for each test; and the refusal to serve plaintext
//! beyond loopback.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::Role;
use recoup_server::server::{ServeOptions, TlsPem};
use recoup_store::testkit::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::{Bearer, TestServer};

/// A CA and the leaf certificates it signed, as PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki(name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, purpose: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(
            vec!["crm.example".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    }
}

async fn tls_server(pki: &Pki, mutual: bool) -> TestServer {
    let options = ServeOptions {
        tls: Some(TlsPem {
            cert: pki.server.0.clone().into_bytes(),
            key: pki.server.1.clone().into_bytes(),
            client_ca: mutual.then(|| pki.ca.clone().into_bytes()),
        }),
        ..Default::default()
    };
    TestServer::start_with(TestDb::sqlite(), &options).await
}

/// Lists accounts over TLS trusting `ca`, optionally presenting a client certificate.
async fn list_over_tls(
    server: &TestServer,
    ca: &str,
    client: Option<&(String, String)>,
) -> Result<pb::ListAccountsResponse, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = client {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://{}", server.running_addr()))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let authed = InterceptedService::new(channel, Bearer(server.keys[&Role::Agent].clone()));
    AccountServiceClient::new(authed)
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .map(|r| r.into_inner())
        .map_err(|s| format!("call: {s:?}"))
}

#[tokio::test]
async fn tls_serves_clients_that_trust_its_ca() {
    let pki = pki("recoup test CA");
    let server = tls_server(&pki, false).await;
    list_over_tls(&server, &pki.ca, None)
        .await
        .expect("TLS call");

    let stranger = crate::tls::pki("another CA");
    assert!(
        list_over_tls(&server, &stranger.ca, None).await.is_err(),
        "a client that does not trust the CA refuses"
    );

    let plaintext = AccountServiceClient::new(server.as_role(Role::Agent))
        .list_accounts(pb::ListAccountsRequest::default())
        .await;
    assert!(
        plaintext.is_err(),
        "plaintext HTTP/2 is not served on a TLS port"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_health_command_speaks_tls_when_given_the_ca() {
    let pki = pki("recoup test CA");
    let server = tls_server(&pki, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();
    let addr = server.running_addr();
    let (ok, out) = crate::health::health_command(vec![
        "--addr".into(),
        addr.clone(),
        "--tls-ca".into(),
        ca.to_str().unwrap().into(),
        "--tls-domain".into(),
        "localhost".into(),
    ])
    .await;
    assert!(ok && out.contains("SERVING"), "{out}");
    let (ok, out) = crate::health::health_command(vec![
        "--addr".into(),
        addr,
        "--timeout-secs".into(),
        "2".into(),
    ])
    .await;
    assert!(!ok, "plaintext to a TLS port must fail: {out}");
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki("recoup test CA");
    let server = tls_server(&pki, true).await;
    list_over_tls(&server, &pki.ca, Some(&pki.client))
        .await
        .expect("mTLS call with a good client certificate");

    let without = list_over_tls(&server, &pki.ca, None).await;
    assert!(without.is_err(), "no client certificate: refused");

    let foreign = crate::tls::pki("another CA");
    let wrong = list_over_tls(&server, &pki.ca, Some(&foreign.client)).await;
    assert!(
        wrong.is_err(),
        "a client certificate from another CA: refused"
    );
    server.stop().await;
}

#[test]
fn refuses_plaintext_beyond_loopback_unless_insecure() {
    let db = TestDb::sqlite();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_recoupd"))
        .args(["serve", "--listen", "0.0.0.0:0", "--database-url", &db.url])
        .env("RECOUP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without TLS") && err.contains("--insecure"),
        "{err}"
    );
}
