//! Chapter 13b: the console's drafts (暂存), kept per enterprise and replaced or discarded, and a
//! declaration's supporting documents (随附单证), kept byte for byte beside the chain.

use store::{Append, DocumentRow, DraftRow, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{actor, append, broker, broker_clerk, other};

fn save(key: &str, id: &str, enterprise: &str, title: &str, body: &str) -> Append {
    let clerk = broker_clerk();
    append(
        &actor(&clerk),
        key,
        id,
        "draft.saved",
        Projection::SaveDraft(DraftRow {
            id: id.to_owned(),
            enterprise_id: enterprise.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            saved_by: clerk.id.clone(),
            saved_seq: None,
        }),
    )
}

fn document(declaration: &str, digest: &str, content: &[u8]) -> Append {
    let clerk = broker_clerk();
    append(
        &actor(&clerk),
        &format!("document-{declaration}-{digest}-{}", content.len()),
        declaration,
        "document.added",
        Projection::AddDocument {
            document: DocumentRow {
                declaration_id: declaration.to_owned(),
                digest: digest.to_owned(),
                kind: "invoice".to_owned(),
                file_name: "发票.pdf".to_owned(),
                media_type: "application/pdf".to_owned(),
                size: content.len() as u64,
                added_by: clerk.id.clone(),
                added_seq: None,
            },
            content: content.to_vec(),
        },
    )
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_console_drafts_and_documents(&mut self) {
        let (mine, theirs) = (broker().id, other().id);
        self.appended(save("draft-1", "DR-1", &mine, "phones", "[1]"))
            .await;
        self.appended(save("draft-2", "DR-2", &mine, "laptops", "[2]"))
            .await;
        let seq = self
            .appended(save("draft-3", "DR-1", &mine, "phones v2", "[3]"))
            .await;
        let listed = self.store.drafts(&mine).await.unwrap();
        let titles: Vec<&str> = listed.iter().map(|d| d.title.as_str()).collect();
        assert_eq!(titles, ["phones v2", "laptops"], "the latest saved first");
        assert_eq!(listed[0].saved_seq, Some(seq));
        assert_eq!(listed[0].body, "[3]");
        assert!(self.store.drafts(&theirs).await.unwrap().is_empty());
        // Another enterprise cannot take a draft over by its id.
        match self
            .refused(save("draft-4", "DR-1", &theirs, "x", "[]"))
            .await
        {
            StoreError::Conflict(what) => assert_eq!(what, "draft DR-1"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let clerk = broker_clerk();
        self.appended(append(
            &actor(&clerk),
            "draft-5",
            "DR-2",
            "draft.discarded",
            Projection::DiscardDraft { id: "DR-2".into() },
        ))
        .await;
        assert_eq!(self.store.draft("DR-2").await.unwrap(), None);
        match self
            .refused(append(
                &actor(&clerk),
                "draft-6",
                "DR-2",
                "draft.discarded",
                Projection::DiscardDraft { id: "DR-2".into() },
            ))
            .await
        {
            StoreError::NotFound(what) => assert_eq!(what, "draft DR-2"),
            other => panic!("expected not found, got {other:?}"),
        }

        let pdf: Vec<u8> = b"%PDF-1.7\n".iter().copied().chain(0..=255u8).collect();
        self.appended(document("D-T4", "dd01", &pdf)).await;
        let listed = self.store.documents("D-T4").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].file_name, "发票.pdf");
        assert_eq!(listed[0].size, pdf.len() as u64);
        assert_eq!(
            self.store
                .document_content("D-T4", "dd01")
                .await
                .unwrap()
                .as_deref(),
            Some(pdf.as_slice()),
            "byte for byte"
        );
        assert_eq!(
            self.store.document_content("D-O1", "dd01").await.unwrap(),
            None
        );
        match self.refused(document("D-T4", "dd01", b"%PDF-again")).await {
            StoreError::Conflict(what) => assert_eq!(what, "document dd01"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self.refused(document("D-NONE", "dd02", b"%PDF-")).await {
            StoreError::NotFound(what) => assert_eq!(what, "declaration D-NONE"),
            other => panic!("expected not found, got {other:?}"),
        }
    }
}
