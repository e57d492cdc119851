//! JWT bearer tokens from an identity provider: only correctly signed, current tokens for this
//! issuer and audience, with the pinned algorithm and a recoup role, are accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rcgen::{KeyPair, PKCS_ED25519};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::jwt::{JwtAlgorithm, JwtSettings};
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;
use serde_json::{Value, json};
use tonic::Code;

use crate::TestServer;

const ISSUER: &str = "https://idp.example/realms/collections";
const AUDIENCE: &str = "recoup";

fn settings(key_material: Vec<u8>) -> JwtSettings {
    JwtSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        algorithm: JwtAlgorithm::EdDsa,
        key_material,
        role_claim: "recoup_role".into(),
        subject_claim: "preferred_username".into(),
    }
}

fn claims(role: &str, exp_in_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "exp": now + exp_in_secs, "iat": now,
        "sub": "f3b1c2", "preferred_username": "sam.agent", "recoup_role": role,
    })
}

fn sign(key: &KeyPair, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    let encoding = EncodingKey::from_ed_pem(key.serialize_pem().as_bytes()).unwrap();
    encode(&header, claims, &encoding).unwrap()
}

async fn list(server: &TestServer, token: &str) -> Code {
    let mut client = AccountServiceClient::new(server.with_key(token));
    match client
        .list_accounts(pb::ListAccountsRequest::default())
        .await
    {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::test]
async fn accepts_only_valid_tokens_for_this_service() {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let options = ServeOptions {
        jwt: Some(settings(key.public_key_pem().into_bytes())),
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;

    assert_eq!(
        list(&server, &sign(&key, None, &claims("agent", 300))).await,
        Code::Ok
    );
    let mut import =
        AccountServiceClient::new(server.with_key(&sign(&key, None, &claims("agent", 300))));
    let denied = import
        .import_accounts(tokio_stream::iter(Vec::<pb::ImportAccountsRequest>::new()))
        .await;
    assert_eq!(
        denied.unwrap_err().code(),
        Code::PermissionDenied,
        "the role comes from the token"
    );

    let mut wrong_issuer = claims("agent", 300);
    wrong_issuer["iss"] = json!("https://evil.example");
    let mut wrong_audience = claims("agent", 300);
    wrong_audience["aud"] = json!("someone-else");
    let mut no_expiry = claims("agent", 300);
    no_expiry.as_object_mut().unwrap().remove("exp");
    let other_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    // Someone else's subject with an invisible or look-alike character: never the same person.
    let passing_for = |subject: &str| {
        let mut c = claims("supervisor", 300);
        c["sub"] = json!(subject);
        c["preferred_username"] = json!(subject);
        sign(&key, None, &c)
    };
    let cases = [
        ("a zero-width space", passing_for("demo-supervisor\u{200B}")),
        (
            "a right-to-left override",
            passing_for("\u{202E}demo-supervisor"),
        ),
        ("a Cyrillic e", passing_for("d\u{0435}mo-supervisor")),
        ("wrong issuer", sign(&key, None, &wrong_issuer)),
        ("wrong audience", sign(&key, None, &wrong_audience)),
        ("expired", sign(&key, None, &claims("agent", -600))),
        ("no expiry", sign(&key, None, &no_expiry)),
        (
            "not a recoup role",
            sign(&key, None, &claims("superuser", 300)),
        ),
        (
            "signed by another key",
            sign(&other_key, None, &claims("supervisor", 300)),
        ),
        ("unsigned (alg none)", unsigned(&claims("supervisor", 300))),
        (
            "HMAC keyed with the public key",
            hmac_confusion(&key, &claims("supervisor", 300)),
        ),
        (
            "tampered payload",
            tamper(&sign(&key, None, &claims("agent", 300))),
        ),
    ];
    for (what, token) in cases {
        assert_eq!(list(&server, &token).await, Code::Unauthenticated, "{what}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_key_set_picks_the_key_by_kid() {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let jwks = json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "2026-11", "alg": "EdDSA", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(key.public_key_raw()),
    }]});
    let options = ServeOptions {
        jwt: Some(settings(jwks.to_string().into_bytes())),
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    assert_eq!(
        list(
            &server,
            &sign(&key, Some("2026-11"), &claims("supervisor", 300))
        )
        .await,
        Code::Ok
    );
    assert_eq!(
        list(
            &server,
            &sign(&key, Some("retired"), &claims("supervisor", 300))
        )
        .await,
        Code::Unauthenticated
    );
    assert_eq!(
        list(&server, &sign(&key, None, &claims("supervisor", 300))).await,
        Code::Unauthenticated
    );
    // API keys still work beside tokens.
    assert_eq!(
        list(&server, &server.keys[&recoup_server::auth::Role::Agent]).await,
        Code::Ok
    );
    server.stop().await;
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

fn hmac_confusion(key: &KeyPair, claims: &Value) -> String {
    let secret = EncodingKey::from_secret(key.public_key_pem().as_bytes());
    encode(&Header::new(Algorithm::HS256), claims, &secret).unwrap()
}

fn tamper(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["recoup_role"] = json!("supervisor");
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    )
}

/// A token whose subject equals an API key's is another person: its request ids are its own (no
/// clash with the key's, no replay of the key's answer) and its records name it `jwt:<subject>`.
#[tokio::test]
async fn token_subjects_live_apart_from_api_key_subjects() {
    use recoup_proto::v1::call_service_client::CallServiceClient;
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let options = ServeOptions {
        jwt: Some(settings(key.public_key_pem().into_bytes())),
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), &options).await;
    let mut crm = server.accounts();
    crate::import(&mut crm, "", vec![crate::account("NS-1", vec![])])
        .await
        .unwrap();
    let parent = crate::get(&mut crm, "NS-1").await.name;
    let call = |outcome: pb::call_record::Outcome| pb::RecordCallOutcomeRequest {
        request_id: "same-id".into(),
        parent: parent.clone(),
        call: Some(pb::CallRecord {
            direction: pb::CallDirection::Inbound as i32,
            start_time: Some(prost_types::Timestamp {
                seconds: crate::now().timestamp() - 60,
                nanos: 0,
            }),
            contact_name: "Accounts payable".into(),
            outcome: Some(outcome),
            ..Default::default()
        }),
    };
    // The API key's holder is `test-agent`; the token names the same subject.
    let by_key = CallServiceClient::new(server.as_role(recoup_server::auth::Role::Agent))
        .record_call_outcome(call(pb::call_record::Outcome::NoAnswer(pb::NoAnswer {})))
        .await
        .unwrap()
        .into_inner();
    let mut c = claims("agent", 300);
    c["preferred_username"] = json!("test-agent");
    let token = sign(&key, None, &c);
    let by_token = CallServiceClient::new(server.with_key(&token))
        .record_call_outcome(call(pb::call_record::Outcome::LeftMessage(
            pb::LeftMessage {
                left_with: "reception".into(),
            },
        )))
        .await
        .expect("the same request id is the token holder's own")
        .into_inner();
    assert_ne!(by_key.name, by_token.name);
    assert_eq!(by_key.agent, "test-agent");
    assert_eq!(by_token.agent, "jwt:test-agent");
    // No key may be issued in the tokens' namespace.
    assert!(recoup_server::auth::subject_problem("jwt:test-agent").is_some());
    server.stop().await;
}
