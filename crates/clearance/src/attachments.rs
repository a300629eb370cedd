//! Photos and documents an officer attaches to a task (查验照片、单证): the evidence of a finding.
//! Each is named by the SHA-256 of its content, which the attaching event records in the audit
//! chain, so the record says exactly which file was the evidence. Only the officer the task is
//! assigned to attaches, and only while the task is open; customs roles read them.
//!
//! The kind of file is read from its first bytes (JPEG, PNG, PDF), not taken from the caller's
//! word: a declared media type that disagrees with the content is refused.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{Append, AppendOutcome, AttachmentRow, Projection, Store};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest};
use domain::FieldError;

/// The largest attachment, in bytes (a phone photo or a scanned certificate).
pub const ATTACHMENT_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Attachments on one task, at most.
pub const ATTACHMENTS_PER_TASK_MAX: usize = 20;
/// The longest file name, in characters.
pub const ATTACHMENT_NAME_LENGTH_MAX: usize = 200;

/// The event that attaches a file to a task.
pub const ATTACHMENT_ADDED_ACTION: &str = "task.attachment_added";

/// The kinds of file accepted, with the first bytes that identify them.
const MEDIA_TYPES: [(&str, &[u8]); 3] = [
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("application/pdf", b"%PDF-"),
];

/// The media type of `content`, read from its first bytes.
pub fn sniff_media_type(content: &[u8]) -> Option<&'static str> {
    MEDIA_TYPES
        .iter()
        .find(|(_, magic)| content.starts_with(magic))
        .map(|(media_type, _)| *media_type)
}

/// A file's name as kept: plain text of at most `length_max` characters, without a folder; or
/// `None` with the problem added to `errors`.
pub(crate) fn checked_file_name(
    file_name: &str,
    length_max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    domain::numbers::parse_text("file_name", file_name, length_max)
        .map_err(|e| errors.push(e))
        .ok()
        .filter(|name| {
            let plain = !name.contains(['/', '\\']) && !name.trim().is_empty();
            if !plain {
                errors.push(FieldError::invalid_format(
                    "file_name",
                    "a file name without a folder",
                    "不含目录的文件名",
                ));
            }
            plain
        })
}

/// Adds the problem of a file's content longer than `bytes_max` to `errors`.
pub(crate) fn check_size(content: &[u8], bytes_max: usize, errors: &mut Vec<FieldError>) {
    if content.len() > bytes_max {
        errors.push(FieldError::out_of_range(
            "content",
            &format!("at most {bytes_max} bytes"),
            &format!("不超过 {bytes_max} 字节"),
        ));
    }
}

/// The request checked: every problem at once, each naming its field.
fn check(
    file_name: &str,
    declared: Option<&str>,
    content: &[u8],
) -> Result<(String, &'static str), ClearanceError> {
    let mut errors = Vec::new();
    let name = checked_file_name(file_name, ATTACHMENT_NAME_LENGTH_MAX, &mut errors);
    check_size(content, ATTACHMENT_BYTES_MAX, &mut errors);
    let sniffed = sniff_media_type(content);
    if sniffed.is_none() {
        errors.push(FieldError::invalid_format(
            "content",
            "a JPEG or PNG photo or a PDF document",
            "JPEG、PNG 照片或 PDF 文件",
        ));
    }
    let declared = declared.map(|d| {
        d.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if let (Some(declared), Some(sniffed)) = (&declared, sniffed)
        && declared != sniffed
    {
        errors.push(FieldError::not_allowed(
            "Content-Type",
            &format!("the content is {sniffed}, not {declared}"),
            &format!("文件内容为 {sniffed}，不是 {declared}"),
        ));
    }
    match (name, sniffed, errors.is_empty()) {
        (Some(name), Some(sniffed), true) => Ok((name, sniffed)),
        _ => Err(ClearanceError::Invalid(errors)),
    }
}

pub fn attachment_view(row: &AttachmentRow) -> Value {
    json!({
        "task": row.task_id, "digest": row.digest, "file_name": row.file_name,
        "media_type": row.media_type, "size": row.size, "added_by": row.added_by,
        "added_seq": row.added_seq,
    })
}

impl<S: Store> Clearance<S> {
    /// Attaches a photo or document to the caller's open task. Returns the attachment.
    pub async fn add_attachment(
        &self,
        caller: &Caller,
        task_id: &str,
        file_name: &str,
        media_type: Option<&str>,
        content: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::RecordFindings)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let (file_name, media_type) = check(file_name, media_type, content)?;
        let digest = hex::encode(Sha256::digest(content));
        let request = request_digest(&format!("attach:{task_id}:{file_name}"), digest.as_bytes());
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return first_attachment(&first, &request);
        }
        let task = self.assigned_task(caller, task_id).await?;
        let closed = || {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "task",
                "the task is closed",
                "任务已关闭",
            )])
        };
        if task.status != "open" {
            return Err(closed());
        }
        let attached = self.store.attachments(task_id).await?;
        if attached.len() >= ATTACHMENTS_PER_TASK_MAX {
            return Err(ClearanceError::Invalid(vec![FieldError::too_many(
                "attachments",
                ATTACHMENTS_PER_TASK_MAX,
            )]));
        }
        if attached.iter().any(|a| a.digest == digest) {
            return Err(ClearanceError::Invalid(vec![FieldError::duplicate(
                "content",
                "the same file on this task",
                "本任务已有相同文件",
            )]));
        }
        let row = AttachmentRow {
            task_id: task.id.clone(),
            digest,
            file_name,
            media_type: media_type.to_owned(),
            size: content.len() as u64,
            added_by: caller.user_id().to_owned(),
            added_seq: None,
        };
        let view = attachment_view(&row);
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: task.declaration_id.clone(),
            action: ATTACHMENT_ADDED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: request.clone(),
            payload: view.to_string(),
            expected_version: None,
            projection: Projection::AddAttachment {
                attachment: row,
                content: content.to_vec(),
            },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { seq }) => {
                let mut view = view;
                view["added_seq"] = json!(seq);
                Ok(view)
            }
            Ok(AppendOutcome::Duplicate { first, .. }) => first_attachment(&first, &request),
            Ok(other) => Err(crate::refusal(other)),
            Err(store::StoreError::Conflict(what)) if what.starts_with("task") => Err(closed()),
            Err(store::StoreError::Conflict(_)) => {
                Err(ClearanceError::Invalid(vec![FieldError::duplicate(
                    "content",
                    "the same file on this task",
                    "本任务已有相同文件",
                )]))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A task's attachments (customs roles), in the order added.
    pub async fn attachments(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadTasks)?;
        Ok(self
            .store
            .attachments(task_id)
            .await?
            .iter()
            .map(attachment_view)
            .collect())
    }

    /// One attachment's media type and content (customs roles).
    pub async fn attachment_content(
        &self,
        caller: &Caller,
        task_id: &str,
        digest: &str,
    ) -> Result<(String, Vec<u8>), ClearanceError> {
        caller.require(Action::ReadTasks)?;
        let listed = self.store.attachments(task_id).await?;
        let row = listed
            .iter()
            .find(|a| a.digest == digest)
            .ok_or(ClearanceError::NotFound)?;
        let content = self
            .store
            .attachment_content(task_id, digest)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        Ok((row.media_type.clone(), content))
    }
}

/// The attachment first added with an Idempotency-Key, if it was this request.
fn first_attachment(first: &store::EventRow, request: &str) -> Result<Value, ClearanceError> {
    if first.request_digest != request || first.action != ATTACHMENT_ADDED_ACTION {
        return Err(ClearanceError::IdempotencyKeyReused);
    }
    let mut view: Value = serde_json::from_str(&first.payload)
        .map_err(|e| anyhow::anyhow!("stored attachment {} is not readable: {e}", first.seq))?;
    view["added_seq"] = json!(first.seq);
    Ok(view)
}
