//! Chapter 13: attachments (查验照片、单证) on officers' tasks: kept byte for byte, listed in the
//! order added, refused on a closed or unknown task and when added twice.

use store::{Append, AttachmentRow, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{actor, append, officer};

fn attachment(task: &str, digest: &str, name: &str, content: &[u8]) -> Append {
    let li = officer();
    append(
        &actor(&li),
        &format!("attach-{task}-{digest}-{name}"),
        "D-T4",
        "task.attachment_added",
        Projection::AddAttachment {
            attachment: AttachmentRow {
                task_id: task.to_owned(),
                digest: digest.to_owned(),
                file_name: name.to_owned(),
                media_type: "image/jpeg".to_owned(),
                size: content.len() as u64,
                added_by: li.id.clone(),
                added_seq: None,
            },
            content: content.to_vec(),
        },
    )
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_task_attachments(&mut self) {
        // T-2 (an inspection of D-T4) is open; T-1 was closed in the tasks chapter.
        let photo: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xd8]).collect();
        let seq = self
            .appended(attachment("T-2", "aa01", "集装箱 01.jpg", &photo))
            .await;
        self.appended(attachment("T-2", "aa02", "seal.jpg", b"\xff\xd8\xff"))
            .await;
        let listed = self.store.attachments("T-2").await.unwrap();
        let names: Vec<&str> = listed.iter().map(|a| a.file_name.as_str()).collect();
        assert_eq!(names, ["集装箱 01.jpg", "seal.jpg"]);
        assert_eq!(listed[0].added_seq, Some(seq));
        assert_eq!(listed[0].size, photo.len() as u64);
        let content = self.store.attachment_content("T-2", "aa01").await.unwrap();
        assert_eq!(content.as_deref(), Some(photo.as_slice()), "byte for byte");
        assert_eq!(
            self.store.attachment_content("T-1", "aa01").await.unwrap(),
            None,
            "an attachment belongs to its task"
        );
        assert!(self.store.attachments("T-9").await.unwrap().is_empty());

        match self
            .refused(attachment("T-2", "aa01", "again.jpg", b"x"))
            .await
        {
            StoreError::Conflict(what) => assert_eq!(what, "attachment aa01"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self
            .refused(attachment("T-1", "aa03", "late.jpg", b"x"))
            .await
        {
            StoreError::Conflict(what) => assert_eq!(what, "task T-1 is closed"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match self.refused(attachment("T-9", "aa03", "x.jpg", b"x")).await {
            StoreError::NotFound(what) => assert_eq!(what, "task T-9"),
            other => panic!("expected not found, got {other:?}"),
        }
        let mut wrong_size = attachment("T-2", "aa04", "x.jpg", b"xy");
        if let Projection::AddAttachment { attachment, .. } = &mut wrong_size.projection {
            attachment.size = 5;
        }
        assert!(matches!(
            self.refused(wrong_size).await,
            StoreError::Other(_)
        ));
        assert_eq!(self.store.attachments("T-2").await.unwrap().len(), 2);
    }
}
