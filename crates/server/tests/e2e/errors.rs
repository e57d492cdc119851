//! Errors a program can branch on: every non-OK status carries a google.rpc.ErrorInfo with domain
//! `recoup` and a reason from the proto's ErrorReason (the floor's refusals are checked in
//! floor.rs, the limits' in limits.rs, a reused request id in idempotency.rs).

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::{TestServer, account, get, import, invoice, london_today, money};

/// The ErrorInfo reason of `e`, checked to be one the proto documents, in recoup's domain.
pub fn reason(e: &tonic::Status) -> String {
    let info = e.get_details_error_info().unwrap_or_else(|| {
        panic!("{e:?} carries no ErrorInfo");
    });
    assert_eq!(info.domain, "recoup", "{e:?}");
    assert!(
        pb::ErrorReason::from_str_name(&format!("ERROR_REASON_{}", info.reason)).is_some(),
        "{} is not a documented ErrorReason",
        info.reason
    );
    info.reason
}

fn read(name: &str) -> pb::GetAccountRequest {
    pb::GetAccountRequest {
        account: Some(pb::get_account_request::Account::Name(name.into())),
        view: pb::AccountView::Basic as i32,
    }
}

#[tokio::test]
async fn every_refusal_names_its_reason() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        import(
            &mut crm,
            "",
            vec![account(
                "ERR-1",
                vec![invoice("E-1", london_today(), money("GBP", 90, 0))],
            )],
        )
        .await
        .unwrap();
        let name = get(&mut crm, "ERR-1").await.name;

        let bad = crm.get_account(read("accounts/x")).await.unwrap_err();
        assert_eq!(
            (bad.code(), reason(&bad).as_str()),
            (Code::InvalidArgument, "BAD_REQUEST"),
            "{backend}"
        );
        let missing = crm.get_account(read("accounts/987654")).await.unwrap_err();
        assert_eq!(
            (missing.code(), reason(&missing).as_str()),
            (Code::NotFound, "RESOURCE_NOT_FOUND"),
            "{backend}"
        );
        let stranger = AccountServiceClient::new(server.with_key("rk_live_not-a-key"))
            .get_account(read(&name))
            .await
            .unwrap_err();
        assert_eq!(
            (stranger.code(), reason(&stranger).as_str()),
            (Code::Unauthenticated, "CREDENTIALS_REFUSED"),
            "{backend}"
        );
        let lift = |role: Role, request_id: &str| {
            let request = pb::LiftContactBlockRequest {
                request_id: request_id.into(),
                name: name.clone(),
                block: pb::ContactBlockReason::CeaseCalls as i32,
                reason: "asked in writing".into(),
            };
            let mut client = AccountServiceClient::new(server.as_role(role));
            async move { client.lift_contact_block(request).await.unwrap_err() }
        };
        let agent = lift(Role::Agent, "lift-1").await;
        assert_eq!(
            (agent.code(), reason(&agent).as_str()),
            (Code::PermissionDenied, "NOT_ALLOWED"),
            "{backend}"
        );
        // Nothing recoup set from a call to lift: a conflict with the account's state.
        let nothing = lift(Role::Supervisor, "lift-2").await;
        assert_eq!(
            (nothing.code(), reason(&nothing).as_str()),
            (Code::FailedPrecondition, "CONFLICT"),
            "{backend}"
        );
        server.stop().await;
    }
}
