//! The trade's declaration form through HTTP as a browser sees it: the parser's errors beside
//! their fields (by JSON path) and in the summary in both languages, validation as you type,
//! check your answers and one lodging per form, drafts kept per enterprise, a copy of a lodged
//! declaration, the duty estimate, code pickers, supporting documents and their limits, CSRF.

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::Value;
use store::Store;

use crate::browser::{Page, Visitor};
use crate::helpers::{TestApp, example, spawn_app_at};

const NOW: &str = "2026-11-27T02:00:00Z";

impl Page {
    /// The message in the error slot of the field `id` (empty when the field is right).
    fn slot(&self, id: &str) -> String {
        let start = format!("id=\"e-{id}\"");
        let at = self
            .body
            .find(&start)
            .unwrap_or_else(|| panic!("no slot {id}"));
        let rest = &self.body[at..];
        let open = rest.find('>').unwrap() + 1;
        let close = rest.find("</p>").unwrap();
        rest[open..close].to_owned()
    }

    /// The value of the hidden input `name`.
    fn hidden(&self, name: &str) -> String {
        let start = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&start)
            .unwrap_or_else(|| panic!("no {name}"))
            + start.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

impl Visitor {
    async fn upload_document(
        &mut self,
        path: &str,
        kind: &str,
        name: &str,
        content: Vec<u8>,
    ) -> Page {
        let form = reqwest::multipart::Form::new()
            .text("csrf", self.csrf())
            .text("kind", kind.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(content).file_name(name.to_owned()),
            );
        self.post_multipart(path, form).await
    }

    /// The form's fields of `document`, with the CSRF token and the button pressed.
    fn form_of(&self, document: &Value, action: &str) -> Vec<(String, String)> {
        let mut form = flatten(document);
        form.push(("csrf".into(), self.csrf()));
        form.push(("action".into(), action.into()));
        form
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// A JSON document as form fields named by path, like the form's inputs.
fn flatten(document: &Value) -> Vec<(String, String)> {
    fn walk(value: &Value, path: String, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    let sub = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(member, sub, out);
                }
            }
            Value::Array(elements) => {
                for (i, element) in elements.iter().enumerate() {
                    walk(element, format!("{path}[{i}]"), out);
                }
            }
            Value::String(text) => out.push((path, text.clone())),
            Value::Null => {}
            other => out.push((path, other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(document, String::new(), &mut out);
    out
}

async fn app_with_passwords() -> TestApp {
    let app = spawn_app_at(NOW).await;
    crate::browser::with_passwords(&app, &["broker", "declarant", "officer", "other_declarant"])
        .await;
    app
}

/// The example with two mistakes: an unknown origin on the second item, an unknown currency.
fn with_two_errors() -> Value {
    let mut document = example();
    document["items"][1]["origin_country"] = "XX".into();
    document["invoice"]["currency"] = "ZZZ".into();
    document
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn the_parsers_errors_land_beside_their_fields_and_in_the_summary_in_both_languages() {
    let app = app_with_passwords().await;
    for language in ["en", "zh"] {
        let mut broker = Visitor::signed_in(&app, "broker", language).await;
        let form = broker.get("/console/form").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains(r#"name="items[0].origin_country""#));
        assert!(
            form.body.contains(r#"href="/console/form""#),
            "the nav link"
        );
        assert!(!form.body.contains("style="), "no inline style");

        let form = broker.form_of(&with_two_errors(), "check");
        let refused = broker.post_owned("/console/form", &form).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        let origin = refused.slot("f-items-1-origin_country");
        let currency = refused.slot("f-invoice-currency");
        assert!(
            !origin.is_empty() && !currency.is_empty(),
            "{}",
            refused.body
        );
        assert!(
            refused.slot("f-items-0-origin_country").is_empty(),
            "only where the error is"
        );
        assert!(refused.slot("f-trader-name").is_empty());
        // The summary links each error to its field.
        assert!(
            refused
                .body
                .contains(r##"<a href="#f-items-1-origin_country">"##)
        );
        assert!(refused.body.contains(r##"<a href="#f-invoice-currency">"##));
        assert_eq!(
            refused.body.matches(r#" field-error""#).count(),
            2,
            "two fields marked"
        );
        // What was typed comes back.
        assert!(refused.body.contains(r#"value="ZZZ""#));
        match language {
            "zh" => assert!(has_chinese(&origin) && has_chinese(&currency), "{origin}"),
            _ => assert!(!has_chinese(&origin) && !has_chinese(&currency), "{origin}"),
        }
    }
}

#[tokio::test]
async fn validation_as_you_type_answers_the_fields_typed_so_far_and_needs_the_csrf_token() {
    let app = app_with_passwords().await;
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let mut form = pairs(&[
        ("items[0].origin_country", "XX"),
        ("invoice.currency", "USD"),
    ]);
    form.push(("csrf".into(), broker.csrf()));
    let fragment = broker.post_owned("/console/form/validate", &form).await;
    assert_eq!(fragment.status, StatusCode::OK, "{}", fragment.body);
    assert!(!fragment.slot("f-items-0-origin_country").is_empty());
    assert!(fragment.body.contains(r#"hx-swap-oob="true""#));
    assert!(
        fragment.slot("f-trader-name").is_empty(),
        "a field not reached yet is not an error yet"
    );
    assert!(
        fragment.slot("f-invoice-currency").is_empty(),
        "a right field"
    );
    assert!(
        fragment
            .body
            .contains(r##"href="#f-items-0-origin_country""##)
    );

    // The whole example is right: no error anywhere.
    let right = broker.form_of(&example(), "check");
    let fragment = broker.post_owned("/console/form/validate", &right).await;
    assert!(
        !fragment.body.contains("error-summary"),
        "{}",
        fragment.body
    );

    // Without the CSRF token (or with another) nothing is checked.
    let forged: Vec<(String, String)> = right
        .iter()
        .map(|(k, v)| match k.as_str() {
            "csrf" => (k.clone(), "0".repeat(64)),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    assert_eq!(
        broker
            .post_owned("/console/form/validate", &forged)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        broker.post_owned("/console/form", &forged).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn answers_are_checked_then_lodged_once_however_often_the_button_is_pressed() {
    let app = app_with_passwords().await;
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let check = broker
        .post_owned("/console/form", &broker.form_of(&example(), "check"))
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    assert!(check.body.contains("Check your answers"));
    assert!(check.body.contains("COSU6123456780"));
    let nonce = check.hidden("nonce");
    assert_eq!(nonce.len(), 32);

    let mut lodge = broker.form_of(&example(), "lodge");
    lodge.push(("nonce".into(), nonce));
    let lodged = broker.post_owned("/console/form", &lodge).await;
    assert_eq!(lodged.status, StatusCode::SEE_OTHER, "{}", lodged.body);
    let to = lodged.location().to_owned();
    assert!(to.starts_with("/console/declarations/"), "{to}");
    let again = broker.post_owned("/console/form", &lodge).await;
    assert_eq!(again.location(), to, "a double click lodges once");
    let listed = app.get("/v1/declarations", "broker").await;
    assert_eq!(listed.body["declarations"].as_array().unwrap().len(), 1);
    let page = broker.get(&to).await;
    assert!(
        page.body.contains("/console/form?copy="),
        "copy from the page"
    );
    assert!(page.body.contains("/documents"), "its documents");

    // Without a nonce from a check page, nothing is lodged.
    let mut no_nonce = broker.form_of(&example(), "lodge");
    no_nonce.push(("nonce".into(), "x".into()));
    assert_eq!(
        broker.post_owned("/console/form", &no_nonce).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn drafts_are_kept_for_the_enterprise_and_not_found_by_another() {
    let app = app_with_passwords().await;
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let mut draft = broker.form_of(&with_two_errors(), "save-draft");
    draft.push(("draft_title".into(), "phones for Pudong".into()));
    let saved = broker.post_owned("/console/form", &draft).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let reopen = saved.location().to_owned();
    assert!(reopen.starts_with("/console/form?draft="), "{reopen}");
    let id = reopen["/console/form?draft=".len()..]
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let reopened = broker.get(&reopen).await;
    assert_eq!(reopened.status, StatusCode::OK);
    assert!(reopened.body.contains("Draft saved"));
    assert!(
        reopened.body.contains(r#"value="ZZZ""#),
        "saved unvalidated"
    );
    assert!(reopened.body.contains("COSU6123456780"));
    let listed = broker.get("/console/drafts").await;
    assert!(listed.body.contains("phones for Pudong"), "{}", listed.body);
    assert!(listed.body.contains("<td>broker</td>"), "saved by, by name");

    // Another enterprise: not listed, not found, cannot discard.
    let mut other = Visitor::signed_in(&app, "other_declarant", "en").await;
    assert!(
        !other
            .get("/console/drafts")
            .await
            .body
            .contains("phones for Pudong")
    );
    assert_eq!(
        other.get(&format!("/console/form?draft={id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let discard = pairs(&[("csrf", &other.csrf())]);
    assert_eq!(
        other
            .post_owned(&format!("/console/drafts/{id}/discard"), &discard)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The same enterprise's other users see it (the declarant is of the trader, not the
    // broker: not found either).
    let mut declarant = Visitor::signed_in(&app, "declarant", "en").await;
    assert_eq!(
        declarant
            .get(&format!("/console/form?draft={id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Customs has no form.
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    assert_eq!(
        officer.get("/console/form").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        officer.get("/console/drafts").await.status,
        StatusCode::NOT_FOUND
    );

    let discard = pairs(&[("csrf", &broker.csrf())]);
    let discarded = broker
        .post_owned(&format!("/console/drafts/{id}/discard"), &discard)
        .await;
    assert_eq!(discarded.status, StatusCode::OK);
    assert!(!discarded.body.contains("phones for Pudong"));
    assert_eq!(
        broker.get(&reopen).await.status,
        StatusCode::NOT_FOUND,
        "discarded"
    );
    let check = app.clearance.store().check_projections().await.unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
}

#[tokio::test]
async fn a_lodged_declaration_is_copied_into_a_new_form() {
    let app = app_with_passwords().await;
    let id = app.lodged_id("broker", &example()).await;
    let mut broker = Visitor::signed_in(&app, "broker", "zh").await;
    let copy = broker.get(&format!("/console/form?copy={id}")).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    assert!(copy.body.contains(r#"value="COSU6123456780""#));
    assert!(
        copy.body.contains(r#"name="items[1].description""#),
        "both items"
    );
    assert!(
        copy.body.contains(r#"name="documents[0].type""#),
        "what the form does not show is kept"
    );
    // A new declaration: lodged as such, with a new number.
    let check = broker
        .post_owned("/console/form", &broker.form_of(&example(), "check"))
        .await;
    assert_eq!(check.status, StatusCode::OK);
    let mut other = Visitor::signed_in(&app, "other_declarant", "en").await;
    assert_eq!(
        other.get(&format!("/console/form?copy={id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_estimate_is_the_services_to_the_fen() {
    let app = app_with_passwords().await;
    app.activate_sample_releases("2026-11-01").await;
    let estimate = app.post("/v1/estimates", "broker", None, &example()).await;
    assert_eq!(estimate.status, StatusCode::OK, "{}", estimate.text);
    let total = estimate.body["total_payable"].as_str().unwrap().to_owned();
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let shown = broker
        .post_owned("/console/form", &broker.form_of(&example(), "estimate"))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(
        shown.body.contains(&format!(
            r#"<strong id="estimate-total">{total} CNY</strong>"#
        )),
        "{total}: {}",
        shown.body
    );
    // A form the parser refuses gets its errors, not an estimate.
    let refused = broker
        .post_owned(
            "/console/form",
            &broker.form_of(&with_two_errors(), "estimate"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.slot("f-invoice-currency").is_empty());
}

#[tokio::test]
async fn pickers_search_the_code_lists_in_both_languages_and_are_bounded() {
    use clearance::console::CODE_CHOICES_MAX;
    let app = app_with_passwords().await;
    let mut broker = Visitor::signed_in(&app, "broker", "zh").await;
    let found = broker
        .get("/console/form/codes?list=country&for=items[0].origin_country&items%5B0%5D.origin_country=%E9%A9%AC%E6%9D%A5")
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found.body.contains(r#"<option value="MY">"#),
        "{}",
        found.body
    );
    assert!(found.body.contains("马来西亚"));
    let all = broker.get("/console/form/codes?list=country&q=").await;
    assert_eq!(all.body.matches("<option").count(), CODE_CHOICES_MAX);
    let currency = broker.get("/console/form/codes?list=currency&q=USD").await;
    assert!(currency.body.contains(r#"<option value="USD">"#));
    let unknown = broker.get("/console/form/codes?list=recipes&q=a").await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.body.matches("<option").count(), 0);
    // The form offers a datalist for each code field without script.
    let form = broker.get("/console/form").await;
    assert!(form.body.contains(r#"list="dl-f-items-0-origin_country""#));
}

#[tokio::test]
async fn supporting_documents_are_kept_by_digest_seen_by_customs_and_bounded() {
    use clearance::console::DOCUMENT_BYTES_MAX;
    let app = app_with_passwords().await;
    let id = app.lodged_id("broker", &example()).await;
    let path = format!("/console/declarations/{id}/documents");
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let pdf = b"%PDF-1.4 commercial invoice".to_vec();
    let added = broker
        .upload_document(&path, "invoice", "invoice.pdf", pdf.clone())
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&pdf))
    };
    let listed = broker.get(&path).await;
    assert!(listed.body.contains(&digest), "{}", listed.body);
    assert!(listed.body.contains("Invoice"));

    // Customs sees and downloads it; another enterprise does not.
    let mut officer = Visitor::signed_in(&app, "officer", "zh").await;
    let seen = officer.get(&path).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains(&digest));
    assert!(!seen.body.contains("enctype"), "customs does not upload");
    // The list alone, for the declaration's page (htmx).
    let fragment = officer.get(&format!("{path}?fragment=1")).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.body.contains(&digest) && !fragment.body.contains("<html"));
    let download = officer.get(&format!("{path}/{digest}")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.headers["content-type"], "application/pdf");
    assert_eq!(download.body.as_bytes(), pdf.as_slice());
    let mut other = Visitor::signed_in(&app, "other_declarant", "en").await;
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.get(&format!("{path}/{digest}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .upload_document(&path, "invoice", "x.pdf", b"%PDF-x".to_vec())
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Only PDF, JPEG and PNG; the error beside the field.
    let refused = broker
        .upload_document(&path, "invoice", "run.exe", b"MZ\x90\x00".to_vec())
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains(r#"id="document-file-error""#));
    assert!(refused.body.contains(r##"href="#document-file""##));
    // The size limit at its edge.
    let mut exact = b"%PDF-".to_vec();
    exact.resize(DOCUMENT_BYTES_MAX, b'a');
    let at_limit = broker
        .upload_document(&path, "contract", "c.pdf", exact.clone())
        .await;
    assert_eq!(at_limit.status, StatusCode::SEE_OTHER, "{}", at_limit.body);
    exact.push(b'b');
    let over = broker
        .upload_document(&path, "contract", "c2.pdf", exact)
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(over.body.contains(r#"id="document-file-error""#));
    // Without the CSRF token: refused.
    let mut forged = Visitor::signed_in(&app, "broker", "en").await;
    forged.cookies.retain(|(n, _)| n != "oc_csrf");
    forged.cookies.push(("oc_csrf".into(), "1".repeat(64)));
    let form = reqwest::multipart::Form::new()
        .text("csrf", "0".repeat(64))
        .text("kind", "invoice")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-y".to_vec()).file_name("y.pdf"),
        );
    let response = forged
        .http
        .post(format!("{}{path}", forged.base))
        .header(COOKIE, forged.header())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let check = app.clearance.store().check_projections().await.unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
}
