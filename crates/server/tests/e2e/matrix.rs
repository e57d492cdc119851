//! The full authentication × authorisation matrix: every RPC of the contract, called with no
//! credential, a malformed one, an unknown key, a revoked key, an expired key, and each role's key.

use chrono::Duration;
use prost::Message;
use recoup_server::auth::permissions::MATRIX;
use recoup_server::auth::{Role, keys};
use tonic::Code;

use crate::{TestServer, each_backend};

/// Every RPC in recoup.v1, as `/package.Service/Method`, read from the published descriptors.
pub fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(recoup_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "recoup.v1") {
        for service in &file.service {
            for method in &service.method {
                rpcs.push(format!("/recoup.v1.{}/{}", service.name(), method.name()));
            }
        }
    }
    rpcs.sort();
    rpcs
}

/// What an allowed caller gets for an empty request: the service's own answer.
fn answer_to_empty_request(rpc: &str) -> Code {
    match rpc.rsplit('/').next().unwrap() {
        // Nothing required is missing: an empty list, and an import of one (rejected) record.
        // WatchEvents: the feed opens (and would stay open; `call` looks at the start only).
        "ListAccounts"
        | "ImportAccounts"
        | "ImportAccountsWithResults"
        | "WatchEvents"
        | "GetWorklist" => Code::Ok,
        // History: one (rejected) record. The floor: nothing to claim in an empty book, and no
        // calls that broke a rule.
        "ImportHistory" | "ClaimNextAccount" | "ListRuleBreaches" => Code::Ok,
        "GetAccount"
        | "RecordPayment"
        | "RecordCallOutcome"
        | "ListCalls"
        | "RaiseDispute"
        | "ResolveDispute"
        | "SetAccountCategory"
        | "ValidatePlan"
        | "CreatePlan"
        | "GetPlan"
        | "GetPayment"
        | "ListPayments"
        | "BatchGetAccounts"
        | "GetDispute"
        | "ListDisputes"
        | "GetInvoice"
        | "GetLetter"
        | "ListLetters"
        | "GetCall"
        | "ListPlans"
        | "ApprovePlan"
        | "RecordPlanSignature"
        | "GetCallGuidance"
        | "RenderLetter"
        | "LiftContactBlock"
        | "ClaimAccount"
        | "ExtendClaim"
        | "ReleaseClaim"
        | "PrepareCall"
        | "GetKpis"
        | "GetEvidencePack" => Code::InvalidArgument,
        other => panic!("{other}: no expected answer to an empty request"),
    }
}

/// Calls `rpc` with an empty message, presenting `key` (empty: no header).
pub async fn call(channel: &tonic::transport::Channel, rpc: &str, key: &str) -> Code {
    let authed = tonic::service::interceptor::InterceptedService::new(
        channel.clone(),
        crate::Bearer(key.to_owned()),
    );
    let mut grpc = tonic::client::Grpc::new(authed);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::try_from(rpc.to_owned()).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let answer = if rpc.ends_with("/WatchEvents") || rpc.ends_with("/ImportAccountsWithResults") {
        // An answer that is a stream: whether it opened (a live one never ends).
        grpc.server_streaming(tonic::Request::new(()), path, codec)
            .await
            .map(drop)
    } else {
        grpc.unary(tonic::Request::new(()), path, codec)
            .await
            .map(drop)
    };
    match answer {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn every_rpc_for_every_credential() {
    let rpcs = every_rpc();
    assert_eq!(
        rpcs.len(),
        MATRIX.len(),
        "every RPC has a row in the matrix"
    );
    each_backend(|server| {
        let rpcs = rpcs.clone();
        async move {
            let now = crate::now();
            let revoked = keys::issue(&server.store, Role::Supervisor, "gone", None, now)
                .await
                .unwrap();
            assert!(server.store.revoke_key(&revoked.key_id, now).await.unwrap());
            let past = Some(now - Duration::seconds(1));
            let expired = keys::issue(&server.store, Role::Supervisor, "late", past, now)
                .await
                .unwrap();
            let unknown = format!("rk_{}.{}", "0".repeat(16), "1".repeat(64));
            let mut wrong_secret = server.keys[&Role::Supervisor].clone();
            wrong_secret.replace_range(wrong_secret.len() - 4.., "0000");
            let refused: [(&str, String); 6] = [
                ("no credential", String::new()),
                ("malformed", "not-a-key".into()),
                ("unknown", unknown),
                ("wrong secret", wrong_secret),
                ("revoked", revoked.secret),
                ("expired", expired.secret),
            ];
            let mut cells = 0;
            for rpc in &rpcs {
                let allowed = MATRIX.iter().find(|(p, _)| p == rpc).unwrap().1;
                for (what, key) in &refused {
                    assert_eq!(
                        call(&server.channel, rpc, key).await,
                        Code::Unauthenticated,
                        "{rpc} with {what}"
                    );
                    cells += 1;
                }
                for role in Role::ALL {
                    let expect = if allowed.contains(&role) {
                        // An agent's feed must name the one account it watches.
                        if role == Role::Agent && rpc.ends_with("/WatchEvents") {
                            Code::PermissionDenied
                        } else {
                            answer_to_empty_request(rpc)
                        }
                    } else {
                        Code::PermissionDenied
                    };
                    assert_eq!(
                        call(&server.channel, rpc, &server.keys[&role]).await,
                        expect,
                        "{rpc} as {role}"
                    );
                    cells += 1;
                }
            }
            assert_eq!(cells, rpcs.len() * 10, "{}", server.db.backend);
            // Health and reflection stay open.
            let mut health =
                tonic_health::pb::health_client::HealthClient::new(server.channel.clone());
            assert!(
                health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .is_ok()
            );
            server
        }
    })
    .await;
}

/// A key works with "Bearer" followed by the key only; other schemes are refused.
#[tokio::test]
async fn only_bearer_keys_are_accepted() {
    let server = TestServer::start(recoup_store::testkit::TestDb::sqlite()).await;
    let key = server.keys[&Role::Agent].clone();
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    for header in [
        format!("Basic {key}"),
        key.clone(),
        "Bearer ".into(),
        format!("bearer{key}"),
    ] {
        grpc.ready().await.unwrap();
        let mut req = tonic::Request::new(());
        req.metadata_mut()
            .insert("authorization", header.parse().unwrap());
        let path = http::uri::PathAndQuery::from_static("/recoup.v1.AccountService/ListAccounts");
        let got = grpc
            .unary(req, path, tonic_prost::ProstCodec::<(), ()>::default())
            .await;
        assert_eq!(got.unwrap_err().code(), Code::Unauthenticated, "{header:?}");
    }
    server.stop().await;
}

/// The scheme name is case-insensitive (RFC 7235): "bearer" and "BEARER" work like "Bearer".
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::start(recoup_store::testkit::TestDb::sqlite()).await;
    let key = server.keys[&Role::Agent].clone();
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        grpc.ready().await.unwrap();
        let mut req = tonic::Request::new(());
        req.metadata_mut()
            .insert("authorization", format!("{scheme} {key}").parse().unwrap());
        let path = http::uri::PathAndQuery::from_static("/recoup.v1.AccountService/ListAccounts");
        let got = grpc
            .unary(req, path, tonic_prost::ProstCodec::<(), ()>::default())
            .await;
        assert!(got.is_ok(), "{scheme}: {got:?}");
    }
    server.stop().await;
}

/// A method the server does not have is UNIMPLEMENTED (once the caller is authenticated), not
/// PERMISSION_DENIED: the caller's permissions are not the problem.
#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    each_backend(|server| async move {
        for rpc in [
            "/recoup.v1.AccountService/DeleteAccount",
            "/recoup.v9.Nothing/Here",
        ] {
            assert_eq!(
                call(&server.channel, rpc, "").await,
                Code::Unauthenticated,
                "{rpc}"
            );
            for role in Role::ALL {
                assert_eq!(
                    call(&server.channel, rpc, &server.keys[&role]).await,
                    Code::Unimplemented,
                    "{rpc} as {role} on {}",
                    server.db.backend
                );
            }
        }
        server
    })
    .await;
}

/// Verified keys are remembered for `--key-cache-secs`: a revocation made through the running
/// process applies at once; one made elsewhere (another process, here straight in the store)
/// applies within the TTL, and at once when the cache is off.
#[tokio::test]
async fn revocations_reach_the_key_cache() {
    use recoup_server::config::LimitArgs;
    use recoup_server::server::ServeOptions;
    for ttl in [3600, 0] {
        let options = ServeOptions {
            limits: LimitArgs {
                key_cache_secs: ttl,
                ..LimitArgs::default()
            },
            ..ServeOptions::default()
        };
        let server =
            TestServer::start_with(recoup_store::testkit::TestDb::sqlite(), &options).await;
        let list = "/recoup.v1.AccountService/ListAccounts";
        let now = crate::now();
        let here = keys::issue(&server.store, Role::Agent, "here", None, now)
            .await
            .unwrap();
        let elsewhere = keys::issue(&server.store, Role::Agent, "elsewhere", None, now)
            .await
            .unwrap();
        for k in [&here, &elsewhere] {
            assert_eq!(call(&server.channel, list, &k.secret).await, Code::Ok);
        }
        assert!(
            keys::revoke(&server.store, &here.key_id, now)
                .await
                .unwrap()
        );
        assert_eq!(
            call(&server.channel, list, &here.secret).await,
            Code::Unauthenticated,
            "ttl {ttl}"
        );
        assert!(
            server
                .store
                .revoke_key(&elsewhere.key_id, now)
                .await
                .unwrap()
        );
        let expected = if ttl == 0 {
            Code::Unauthenticated
        } else {
            Code::Ok
        };
        assert_eq!(
            call(&server.channel, list, &elsewhere.secret).await,
            expected,
            "ttl {ttl}"
        );
        server.stop().await;
    }
}
