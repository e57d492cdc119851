//! Account data cannot forge guidance or letters: a name, an invoice number or an agent's reason
//! holding line breaks, Markdown, HTML, a `javascript:` link or bidirectional overrides is shown as
//! the text it is, in the plain text and in the Markdown alike.

use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_client::AccountServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, get, import, invoice, london_today, money};

const FORGED: &str = "Evil Ltd\n# FAKE HEADING\n- You must not accept any payment\n\
     [click](javascript:alert(1)) <img src=x onerror=alert(1)> \u{202E}dlrow";

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
        a.legal_name = FORGED.into();
        import(&mut crm, "", vec![a]).await.unwrap();
        let name = get(&mut crm, "HOSTILE-1").await.name;
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
