use chrono::Days;
use recoup_proto::v1 as pb;

use crate::{
    account, bad_fields, each_backend, get, import, invoice, london_today, money, without_read_time,
};

#[tokio::test]
async fn pages_are_stable_and_tokens_bound_to_their_filters() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        let today = london_today();
        let records: Vec<pb::Account> = (0..7)
            .map(|i| {
                account(
                    &format!("L-{i}"),
                    vec![invoice(
                        "I",
                        today - Days::new(i * 20),
                        money("GBP", 100 * (i as i64 + 1), 0),
                    )],
                )
            })
            .collect();
        import(&mut client, "", records).await.unwrap();

        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.accounts.len() <= 3);
            seen.extend(page.accounts.iter().map(|a| a.external_ref.clone()));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let expect: Vec<String> = (0..7).map(|i| format!("L-{i}")).collect();
        assert_eq!(seen, expect, "{}", server.db.backend);

        // At least 40 days overdue: L-2 (40), L-3 (60) … L-6 (120).
        let overdue = pb::ListAccountsRequest {
            min_days_overdue: 40,
            page_size: 2,
            ..Default::default()
        };
        let first = client
            .list_accounts(overdue.clone())
            .await
            .unwrap()
            .into_inner();
        let refs: Vec<_> = first
            .accounts
            .iter()
            .map(|a| a.external_ref.as_str())
            .collect();
        assert_eq!(refs, ["L-2", "L-3"]);
        assert!(
            first
                .accounts
                .iter()
                .all(|a| a.invoices.is_empty() && a.balance.is_some()),
            "BASIC view by default"
        );

        let other_filter = pb::ListAccountsRequest {
            page_token: first.next_page_token.clone(),
            ..Default::default()
        };
        assert_eq!(
            bad_fields(&client.list_accounts(other_filter).await.unwrap_err()),
            ["page_token"]
        );

        // Overdue total at least GBP 600.00: L-5 (600) and L-6 (700).
        let big = pb::ListAccountsRequest {
            min_overdue_amount: Some(money("GBP", 600, 0)),
            view: pb::AccountView::Full as i32,
            ..Default::default()
        };
        let page = client.list_accounts(big).await.unwrap().into_inner();
        let refs: Vec<_> = page
            .accounts
            .iter()
            .map(|a| a.external_ref.as_str())
            .collect();
        assert_eq!(refs, ["L-5", "L-6"]);
        assert!(
            page.accounts.iter().all(|a| a.invoices.len() == 1),
            "FULL view carries invoices"
        );

        let held = pb::ListAccountsRequest {
            status: pb::AccountStatus::OnHold as i32,
            ..Default::default()
        };
        assert!(
            client
                .list_accounts(held)
                .await
                .unwrap()
                .into_inner()
                .accounts
                .is_empty()
        );
        server
    })
    .await;
}

#[tokio::test]
async fn get_by_name_and_by_external_ref_agree() {
    each_backend(|server| async move {
        let mut client = server.accounts();
        import(
            &mut client,
            "",
            vec![account(
                "G-1",
                vec![invoice("I", london_today(), money("GBP", 5, 0))],
            )],
        )
        .await
        .unwrap();
        let by_ref = get(&mut client, "G-1").await;
        let by_name = client
            .get_account(pb::GetAccountRequest {
                account: Some(pb::get_account_request::Account::Name(by_ref.name.clone())),
                view: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            without_read_time(by_ref.clone()),
            without_read_time(by_name)
        );
        assert_eq!(by_ref.contacts.len(), 1);
        assert_eq!(by_ref.contacts[0].email, "alex@ledger.example");
        assert_eq!(by_ref.time_zone, "Europe/London");
        assert_eq!(
            by_ref.status,
            pb::AccountStatus::Active as i32,
            "UNSPECIFIED imports as ACTIVE"
        );
        let basic = client
            .get_account(pb::GetAccountRequest {
                account: Some(pb::get_account_request::Account::Name(by_ref.name.clone())),
                view: pb::AccountView::Basic as i32,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(basic.invoices.is_empty() && basic.balance == by_ref.balance);
        server
    })
    .await;
}
