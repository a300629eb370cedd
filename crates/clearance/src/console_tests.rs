//! The trade's form: validating without lodging, drafts kept per enterprise with their limits,
//! supporting documents with theirs, and the tables rebuilt from the chain.

use store::{Actor, Store};

use crate::console::{
    DOCUMENT_BYTES_MAX, DOCUMENTS_PER_DECLARATION_MAX, DRAFT_BYTES_MAX, DRAFTS_PER_ENTERPRISE_MAX,
};
use crate::tests::{EXAMPLE, TRADER, beijing, fixture};
use crate::{ClearanceError, Role};

fn paths(error: &ClearanceError) -> Vec<String> {
    match error {
        ClearanceError::Invalid(errors) => errors.iter().map(|e| e.path.clone()).collect(),
        ClearanceError::Forbidden { errors, .. } => errors.iter().map(|e| e.path.clone()).collect(),
        other => panic!("not a refusal with fields: {other:?}"),
    }
}

#[tokio::test]
async fn validating_checks_like_lodging_and_writes_nothing() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let before = f
        .clearance
        .store()
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .len();
    f.clearance
        .validate(&broker, EXAMPLE.as_bytes())
        .await
        .unwrap();
    let broken = EXAMPLE
        .replace("\"origin_country\": \"MY\"", "\"origin_country\": \"XX\"")
        .replace(
            "\"voyage\": \"047E\"",
            "\"voyage\": \"047E\", \"colour\": \"red\"",
        );
    let refused = f
        .clearance
        .validate(&broker, broken.as_bytes())
        .await
        .unwrap_err();
    assert!(!paths(&refused).is_empty(), "{refused:?}");
    let origin = EXAMPLE.replace("\"origin_country\": \"MY\"", "\"origin_country\": \"XX\"");
    let refused = f
        .clearance
        .validate(&broker, origin.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["items[1].origin_country"]);
    // Another enterprise's declarant: refused as lodging would, by field.
    let other = EXAMPLE.replace("91310000MA1FL0001R", "91310115MA1H000024");
    let refused = f
        .clearance
        .validate(&broker, other.as_bytes())
        .await
        .unwrap_err();
    assert!(
        paths(&refused).contains(&"declarant.credit_code".to_owned()),
        "{refused:?}"
    );
    assert!(matches!(
        f.clearance.validate(&officer, EXAMPLE.as_bytes()).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    assert_eq!(
        f.clearance
            .store()
            .audit_entries(0, 100_000)
            .await
            .unwrap()
            .len(),
        before
    );
}

#[tokio::test]
async fn drafts_belong_to_their_enterprise_and_are_bounded() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .create_user(&admin, "trader", Role::Declarant, Some(TRADER))
        .await
        .unwrap();
    let trader = f.caller("trader").await;

    let id = f
        .clearance
        .save_draft(&broker, None, "smartphones", "{\"a\":1}", Some("d-1"))
        .await
        .unwrap();
    // A double click saves once.
    let again = f
        .clearance
        .save_draft(&broker, None, "smartphones", "{\"a\":1}", Some("d-1"))
        .await
        .unwrap();
    assert_eq!(id, again);
    assert_eq!(f.clearance.drafts(&broker).await.unwrap().len(), 1);
    // Another enterprise neither lists, reads, overwrites nor discards it.
    assert!(f.clearance.drafts(&trader).await.unwrap().is_empty());
    assert!(matches!(
        f.clearance.draft(&trader, &id).await,
        Err(ClearanceError::NotFound)
    ));
    assert!(matches!(
        f.clearance
            .save_draft(&trader, Some(&id), "x", "{}", None)
            .await,
        Err(ClearanceError::NotFound)
    ));
    assert!(matches!(
        f.clearance.discard_draft(&trader, &id).await,
        Err(ClearanceError::NotFound)
    ));
    // Saved again: a new text for the same draft.
    f.clearance
        .save_draft(&broker, Some(&id), "smartphones v2", "{\"a\":2}", None)
        .await
        .unwrap();
    let draft = f.clearance.draft(&broker, &id).await.unwrap();
    assert_eq!(draft["body"], "{\"a\":2}");
    assert_eq!(draft["title"], "smartphones v2");

    // The size limit, at its edge.
    let exact = "x".repeat(DRAFT_BYTES_MAX);
    f.clearance
        .save_draft(&broker, Some(&id), "big", &exact, None)
        .await
        .unwrap();
    let over = "x".repeat(DRAFT_BYTES_MAX + 1);
    let refused = f
        .clearance
        .save_draft(&broker, Some(&id), "big", &over, None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["draft"]);

    // The count limit, at its edge.
    for n in 1..DRAFTS_PER_ENTERPRISE_MAX {
        f.clearance
            .save_draft(&broker, None, &format!("draft {n}"), "{}", None)
            .await
            .unwrap();
    }
    assert_eq!(
        f.clearance.drafts(&broker).await.unwrap().len(),
        DRAFTS_PER_ENTERPRISE_MAX
    );
    let refused = f
        .clearance
        .save_draft(&broker, None, "one more", "{}", None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["drafts"]);
    f.clearance.discard_draft(&broker, &id).await.unwrap();
    assert!(matches!(
        f.clearance.draft(&broker, &id).await,
        Err(ClearanceError::NotFound)
    ));
    f.clearance
        .save_draft(&broker, None, "one more", "{}", None)
        .await
        .unwrap();

    let check = f.clearance.store().check_projections().await.unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
}

const PDF: &[u8] = b"%PDF-1.4 invoice";

#[tokio::test]
async fn documents_are_kept_by_digest_for_those_who_see_the_declaration() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("l-1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let added = f
        .clearance
        .add_document(
            &broker,
            &lodged.id,
            "invoice",
            "invoice.pdf",
            PDF,
            Some("k-1"),
        )
        .await
        .unwrap();
    let digest = added["digest"].as_str().unwrap().to_owned();
    assert_eq!(added["media_type"], "application/pdf");
    // A double click adds once.
    f.clearance
        .add_document(
            &broker,
            &lodged.id,
            "invoice",
            "invoice.pdf",
            PDF,
            Some("k-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        f.clearance
            .documents(&officer, &lodged.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let (name, media, content) = f
        .clearance
        .document_content(&officer, &lodged.id, &digest)
        .await
        .unwrap();
    assert_eq!(
        (name.as_str(), media.as_str(), content.as_slice()),
        ("invoice.pdf", "application/pdf", PDF)
    );
    // The same file twice, a file of another kind, an unknown kind: refused by field.
    let refused = f
        .clearance
        .add_document(&broker, &lodged.id, "invoice", "again.pdf", PDF, None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["content"]);
    let refused = f
        .clearance
        .add_document(&broker, &lodged.id, "recipe", "a.exe", b"MZ\x90", None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["kind", "content"]);
    // The size limit, at its edge.
    let mut exact = b"%PDF-".to_vec();
    exact.resize(DOCUMENT_BYTES_MAX, b'a');
    f.clearance
        .add_document(&broker, &lodged.id, "contract", "c.pdf", &exact, None)
        .await
        .unwrap();
    exact.push(b'b');
    let refused = f
        .clearance
        .add_document(&broker, &lodged.id, "contract", "c2.pdf", &exact, None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["content"]);
    // The count limit, at its edge.
    for n in 2..DOCUMENTS_PER_DECLARATION_MAX {
        let content = format!("%PDF-{n}");
        f.clearance
            .add_document(
                &broker,
                &lodged.id,
                "other",
                "o.pdf",
                content.as_bytes(),
                None,
            )
            .await
            .unwrap();
    }
    let refused = f
        .clearance
        .add_document(&broker, &lodged.id, "other", "o.pdf", b"%PDF-last", None)
        .await
        .unwrap_err();
    assert_eq!(paths(&refused), ["documents"]);
    // Another enterprise does not see the declaration, nor its documents.
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    let other = "91440300MA5F00003G";
    f.clearance
        .create_enterprise(&admin, other, "4403960003", "Other Co.")
        .await
        .unwrap();
    f.clearance
        .create_user(&admin, "stranger", Role::Declarant, Some(other))
        .await
        .unwrap();
    let stranger = f.caller("stranger").await;
    assert!(matches!(
        f.clearance.documents(&stranger, &lodged.id).await,
        Err(ClearanceError::NotFound)
    ));
    // The auditors' check: the chain, each document's content against its recorded digest, and
    // the tables rebuilt from the chain.
    f.clearance
        .create_user(&admin, "auditor", Role::Auditor, None)
        .await
        .unwrap();
    let auditor = f.caller("auditor").await;
    let auditors = crate::AuditorsCheck {
        public_key: Some(audit::AuditSigner::from_secret_bytes(&[7; 32]).public_key()),
        ..Default::default()
    };
    let verified = f
        .clearance
        .verify_audit_with(&auditor, &auditors)
        .await
        .unwrap();
    assert!(verified.intact, "{verified:?}");
}

#[tokio::test]
async fn code_searches_answer_both_languages_and_are_bounded() {
    use crate::console::CODE_CHOICES_MAX;
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let by_code = f.clearance.search_codes("country", "CN", 5).await.unwrap();
    assert_eq!(by_code[0].code, "CN", "{by_code:?}");
    let by_chinese = f
        .clearance
        .search_codes("country", "马来西亚", 5)
        .await
        .unwrap();
    assert_eq!(by_chinese[0].code, "MY", "{by_chinese:?}");
    let by_english = f
        .clearance
        .search_codes("currency", "us dollar", 50)
        .await
        .unwrap();
    assert!(by_english.iter().any(|c| c.code == "USD"), "{by_english:?}");
    // At most CODE_CHOICES_MAX, whatever is asked; exactly that many when there are more.
    let all = f
        .clearance
        .search_codes("country", "", usize::MAX)
        .await
        .unwrap();
    assert_eq!(all.len(), CODE_CHOICES_MAX);
    let one_fewer = f
        .clearance
        .search_codes("country", "", CODE_CHOICES_MAX - 1)
        .await
        .unwrap();
    assert_eq!(one_fewer.len(), CODE_CHOICES_MAX - 1);
    let hs = f
        .clearance
        .search_codes("commodity", "851713", 5)
        .await
        .unwrap();
    assert!(hs.iter().all(|c| c.code.starts_with("851713")), "{hs:?}");
    assert!(!hs.is_empty());
    assert!(matches!(
        f.clearance.search_codes("recipes", "", 5).await,
        Err(ClearanceError::Invalid(_))
    ));
}
