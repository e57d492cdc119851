//! Account data cannot forge guidance or letters: a name, an invoice number or an agent's reason
//! holding line breaks, Markdown, HTML, a `javascript:` link or bidirectional overrides is shown as
//! the text it is, in the plain text and in the Markdown alike.

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, get, import, invoice, london_today, money};

/// What a name may hold: markup on one line.
const FORGED: &str = "Evil Ltd # FAKE HEADING - You must not accept any payment \
     [click](javascript:alert(1)) <img src=x onerror=alert(1)>";
/// What a name may not: line breaks, and a right-to-left override.
const FORGED_LINES: &str = "Evil Ltd\n# FAKE HEADING\n- You must not accept any payment";
const REVERSED: &str = "Evil Ltd \u{202E}dlrow";

/// No line of `out` is one the data forged, and no markup of the data's survives.
fn inert(what: &str, out: &str, markdown: bool) {
    for line in out.lines() {
        let l = line.trim_start_matches(['-', ' ', '*', '#']);
        assert!(
            !l.starts_with("FAKE HEADING")
                && !l.starts_with("You must not accept")
                && !l.starts_with("Injected"),
            "{what}: a forged line: {line:?}\n{out}"
        );
    }
    assert!(
        !out.contains('\u{202E}'),
        "{what}: a bidirectional override survived"
    );
    if markdown {
        // Markup the data brought is escaped: each occurrence is preceded by a backslash.
        for markup in ["[click]", "<img", "# Injected", "# FAKE"] {
            for (at, _) in out.match_indices(markup) {
                assert!(
                    out[..at].ends_with('\\'),
                    "{what}: {markup:?} survived as markup\n{out}"
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_account_data_is_shown_as_text() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let mut a = account(
            "HOSTILE-1",
            vec![invoice(
                "INV|1|injected",
                london_today() - chrono::Days::new(40),
                money("GBP", 500, 0),
            )],
        );
        // Refused on import, each naming the field, nothing written.
        for bad in [FORGED_LINES, REVERSED] {
            let mut refused = a.clone();
            refused.legal_name = bad.into();
            let r = import(&mut crm, "", vec![refused]).await.unwrap();
            let fields: Vec<&str> = r.rejections[0]
                .violations
                .iter()
                .map(|v| v.field.as_str())
                .collect();
            assert_eq!(
                (r.created, fields),
                (0, vec!["account.legal_name"]),
                "{bad:?}"
            );
        }
        a.legal_name = FORGED.into();
        import(&mut crm, "", vec![a]).await.unwrap();
        let name = get(&mut crm, "HOSTILE-1").await.name;
        let reversed = AccountServiceClient::new(server.as_role(Role::Agent))
            .set_account_category(pb::SetAccountCategoryRequest {
                request_id: "hostile-reversed".into(),
                name: name.clone(),
                category: pb::DebtorCategory::StrategicDelayer as i32,
                reason: REVERSED.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(crate::bad_fields(&reversed), ["reason"], "{reversed:?}");
        AccountServiceClient::new(server.as_role(Role::Agent))
            .set_account_category(pb::SetAccountCategoryRequest {
                request_id: "hostile-category".into(),
                name: name.clone(),
                category: pb::DebtorCategory::StrategicDelayer as i32,
                reason: "pays late on purpose\n# Injected heading\n- must not call".into(),
            })
            .await
            .unwrap();
        let mut guidance = GuidanceServiceClient::new(server.as_role(Role::Agent));
        let g = guidance
            .get_call_guidance(pb::GetCallGuidanceRequest {
                account: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        inert(&format!("{backend} guidance text"), &g.rendered_text, false);
        inert(
            &format!("{backend} guidance Markdown"),
            &g.rendered_markdown,
            true,
        );
        assert!(
            g.rendered_text.contains("Evil Ltd # FAKE HEADING"),
            "shown, on one line"
        );

        let letter = guidance
            .render_letter(pb::RenderLetterRequest {
                request_id: "hostile-letter".into(),
                parent: name.clone(),
                kind: pb::LetterKind::FirstReminder as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        inert(&format!("{backend} letter text"), &letter.body_text, false);
        inert(
            &format!("{backend} letter Markdown"),
            &letter.body_markdown,
            true,
        );
        // The invoice's row keeps its three columns: its `|` is text.
        let row = letter
            .body_markdown
            .lines()
            .find(|l| l.contains("INV"))
            .unwrap_or_else(|| panic!("no invoice row in\n{}", letter.body_markdown));
        let columns = row.replace("\\|", "").matches('|').count() - 1;
        assert_eq!(columns, 3, "{backend}: {row}");
        server.stop().await;
    }
}

fn many_invoices(prefix: &str, n: usize) -> Vec<pb::Invoice> {
    let today = london_today();
    (0..n)
        .map(|i| {
            invoice(
                &format!("{prefix}-{i}"),
                today - chrono::Days::new(40),
                money("GBP", 10, 0),
            )
        })
        .collect()
}

/// Records under one reference cannot grow an account without bound: an import that would leave it
/// more open invoices than the cap is refused naming `account.invoices`, and writes nothing; one that
/// settles as many as it adds is taken.
#[tokio::test]
async fn an_account_holds_at_most_its_open_invoices() {
    use recoup_domain::account::MAX_OPEN_INVOICES;
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let mut crm = server.accounts();
        let full = many_invoices("A", MAX_OPEN_INVOICES);
        let r = import(&mut crm, "", vec![account("CAP-1", full.clone())])
            .await
            .unwrap();
        assert_eq!(r.created, 1, "{r:?}");
        let r = import(&mut crm, "", vec![account("CAP-1", many_invoices("B", 1))])
            .await
            .unwrap();
        assert_eq!(r.rejected, 1, "{r:?}");
        let fields: Vec<&str> = r.rejections[0]
            .violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["account.invoices"], "{r:?}");
        let held = get(&mut crm, "CAP-1").await;
        assert_eq!(held.invoices.len(), MAX_OPEN_INVOICES, "nothing written");
        // The CRM credits one old invoice in full and sends one new: still at the cap, taken.
        let mut settled = full[0].clone();
        settled.adjustments.push(pb::InvoiceAdjustment {
            reference: "CN-1".into(),
            kind: pb::AdjustmentKind::CreditNote as i32,
            amount: Some(money("GBP", 10, 0)),
            date: Some(crate::date(london_today())),
            reason: "credited".into(),
        });
        let mut swap = many_invoices("B", 1);
        swap.push(settled);
        let r = import(&mut crm, "", vec![account("CAP-1", swap)])
            .await
            .unwrap();
        assert_eq!(r.updated, 1, "{r:?}");
        server.stop().await;
    }
}

/// A letter heavier than the cap (here through a replaced template that repeats the statement) is
/// refused INVALID_ARGUMENT on `parent`, and none is kept.
#[tokio::test]
async fn a_letter_over_the_size_cap_is_refused_and_not_kept() {
    let repeated = format!(
        "Subject: Statement for {{{{debtor.legal_name}}}}\n{}",
        "{{statement_table}}\n".repeat(60)
    );
    let templates =
        recoup_script::Templates::new(&[("letters/pre_call_statement.hbs".to_owned(), repeated)])
            .unwrap();
    let options = recoup_server::server::ServeOptions {
        templates: std::sync::Arc::new(templates),
        ..Default::default()
    };
    for db in TestDb::all().await {
        let server = TestServer::start_with(db, &options).await;
        let mut crm = server.accounts();
        import(
            &mut crm,
            "",
            vec![account("HEAVY-1", many_invoices("H", 300))],
        )
        .await
        .unwrap();
        let parent = get(&mut crm, "HEAVY-1").await.name;
        let mut guidance = GuidanceServiceClient::new(server.as_role(Role::Agent));
        let e = guidance
            .render_letter(pb::RenderLetterRequest {
                request_id: "heavy-letter".into(),
                parent: parent.clone(),
                kind: pb::LetterKind::PreCallStatement as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert_eq!(crate::bad_fields(&e), ["parent"], "{e:?}");
        let kept = GuidanceServiceClient::new(server.as_role(Role::Integration))
            .list_letters(pb::ListLettersRequest {
                parent,
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(kept.letters.is_empty(), "{kept:?}");
        server.stop().await;
    }
}
