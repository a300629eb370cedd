//! What the trade's declaration form needs beyond lodging: validating a declaration without
//! lodging it, drafts (暂存) kept for the user's enterprise, and supporting documents (随附单证)
//! lodged with a declaration.
//!
//! A draft is the form as the user left it, not checked (it is checked when lodged); only the
//! users of the enterprise that saved it see it (another enterprise's draft is not found). A
//! document is named by the SHA-256 of its content, which the adding event records in the audit
//! chain; its kind of file is read from its first bytes (PDF, JPEG, PNG), not taken on trust.
//! Every change is an event with an idempotency key, so a double click saves or adds once.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{Append, AppendOutcome, DocumentRow, DraftRow, EventRow, Projection, Store};

use crate::access::{Action, Caller};
use crate::attachments::sniff_media_type;
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, refusal, request_digest};
use domain::FieldError;
use wire::DeclarationDto;

/// Drafts an enterprise keeps at most: one more is refused until one is lodged or discarded.
pub const DRAFTS_PER_ENTERPRISE_MAX: usize = 50;
/// The largest draft, in bytes of its text.
pub const DRAFT_BYTES_MAX: usize = 128 * 1024;
/// The longest draft title, in characters.
pub const DRAFT_TITLE_LENGTH_MAX: usize = 200;
/// The largest supporting document, in bytes.
pub const DOCUMENT_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Supporting documents one declaration carries at most.
pub const DOCUMENTS_PER_DECLARATION_MAX: usize = 20;
/// The longest document file name, in characters.
pub const DOCUMENT_NAME_LENGTH_MAX: usize = 200;

/// The kinds of supporting document (随附单证).
pub const DOCUMENT_KINDS: [&str; 6] = [
    "invoice",
    "packing_list",
    "contract",
    "certificate_of_origin",
    "licence",
    "other",
];

pub const DRAFT_SAVED_ACTION: &str = "draft.saved";
pub const DRAFT_DISCARDED_ACTION: &str = "draft.discarded";
pub const DOCUMENT_ADDED_ACTION: &str = "document.added";

/// Choices a code search answers at most (a picker shows a short list; typing narrows it).
pub const CODE_CHOICES_MAX: usize = 20;

/// The code lists a picker searches, by the name the form gives them.
pub const CODE_LISTS: [&str; 12] = [
    "commodity",
    "country",
    "currency",
    "unit",
    "package_type",
    "customs_office",
    "customs_procedure",
    "levy_nature",
    "levy_mode",
    "transport_mode",
    "document_type",
    "incoterm",
];

/// One code of a list, with its names in both languages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodeChoice {
    pub code: String,
    pub name_en: String,
    pub name_zh: String,
}

fn list_kind(list: &str) -> Option<reference::CodeListKind> {
    use reference::CodeListKind as K;
    Some(match list {
        "country" => K::Country,
        "currency" => K::Currency,
        "unit" => K::Unit,
        "package_type" => K::PackageType,
        "commodity" => K::HsSubheading,
        "customs_office" => K::CustomsOffice,
        "customs_procedure" => K::CustomsProcedure,
        "levy_nature" => K::LevyNature,
        "levy_mode" => K::LevyMode,
        "transport_mode" => K::TransportMode,
        "document_type" => K::DocumentType,
        "incoterm" => K::Incoterm,
        _ => return None,
    })
}

/// How well `choice` answers `query` (lower is better), or `None`: a code beginning with the
/// query first, then a name containing it (either language, case ignored).
fn rank(choice: &CodeChoice, query: &str) -> Option<u8> {
    if query.is_empty() {
        return Some(2);
    }
    let upper = query.to_uppercase();
    if choice.code.to_uppercase().starts_with(&upper) {
        return Some(0);
    }
    let lower = query.to_lowercase();
    (choice.name_en.to_lowercase().contains(&lower) || choice.name_zh.contains(query)).then_some(1)
}

fn invalid(error: FieldError) -> ClearanceError {
    ClearanceError::Invalid(vec![error])
}

fn draft_view(row: &DraftRow) -> Value {
    json!({
        "id": row.id, "title": row.title, "body": row.body, "saved_by": row.saved_by,
        "saved_seq": row.saved_seq,
    })
}

pub fn document_view(row: &DocumentRow) -> Value {
    json!({
        "declaration": row.declaration_id, "digest": row.digest, "kind": row.kind,
        "file_name": row.file_name, "media_type": row.media_type, "size": row.size,
        "added_by": row.added_by, "added_seq": row.added_seq,
    })
}

impl<S: Store> Clearance<S> {
    /// The codes of `list` in force today matching `query` (a code's beginning, or a word of its
    /// English or Chinese name), at most `limit` (and [`CODE_CHOICES_MAX`]). Commodity codes are
    /// the lines of the tariff release in force, then the HS subheadings. An unknown list is
    /// refused by field.
    pub async fn search_codes(
        &self,
        list: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<CodeChoice>, ClearanceError> {
        let kind = list_kind(list).ok_or_else(|| {
            invalid(FieldError::invalid_format(
                "list",
                &CODE_LISTS.join(", "),
                &CODE_LISTS.join("、"),
            ))
        })?;
        let limit = limit.min(CODE_CHOICES_MAX);
        let query = query.trim();
        let day = self.lodging_date(self.now());
        let mut found: Vec<(u8, CodeChoice)> = Vec::new();
        if list == "commodity" {
            let in_force = self.releases_cache.in_force(&self.store, day).await?;
            if let Some((_, release)) = &in_force.tariff {
                for line in &release.lines {
                    let choice = CodeChoice {
                        code: line.code.clone(),
                        name_en: line.description.clone(),
                        name_zh: line.description.clone(),
                    };
                    if let Some(r) = rank(&choice, query)
                        && !found.iter().any(|(_, c)| c.code == choice.code)
                    {
                        found.push((r, choice));
                    }
                }
            }
        }
        let reference = self.reference_on(day).await?;
        if let Some(codes) = reference.list_in_force(kind, day) {
            for entry in codes.entries().filter(|e| e.is_in_force(day)) {
                let choice = CodeChoice {
                    code: entry.code.clone(),
                    name_en: entry.name_en.clone(),
                    name_zh: entry
                        .name_zh
                        .clone()
                        .unwrap_or_else(|| entry.name_en.clone()),
                };
                if let Some(r) = rank(&choice, query) {
                    // A tariff line goes before the subheading it belongs to.
                    found.push((r + if list == "commodity" { 1 } else { 0 }, choice));
                }
            }
        }
        // Stable: each list's own order within a rank.
        found.sort_by_key(|(r, _)| *r);
        Ok(found.into_iter().take(limit).map(|(_, c)| c).collect())
    }

    /// Checks a declaration as lodging would (the parser, the cross-field rules, whether the
    /// caller may declare for its trader, the parties as registered, a full declaration's
    /// summary) and writes nothing. Every problem is an error with its field path.
    pub async fn validate(&self, caller: &Caller, body: &[u8]) -> Result<(), ClearanceError> {
        caller.require(Action::Lodge)?;
        let dto: DeclarationDto =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let day = self.lodging_date(self.now());
        let reference = self.reference_on(day).await?;
        let declaration = crate::declared_by(caller, &dto, &reference, day)?;
        self.check_parties(&declaration).await?;
        self.open_summary(caller, &declaration).await?;
        Ok(())
    }

    /// The caller's enterprise id: drafts belong to an enterprise.
    fn draft_owner(caller: &Caller) -> Result<String, ClearanceError> {
        caller.require(Action::Lodge)?;
        caller
            .principal
            .user
            .enterprise_id
            .clone()
            .ok_or(ClearanceError::NotFound)
    }

    /// The drafts of the caller's enterprise, the latest saved first.
    pub async fn drafts(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        let owner = Self::draft_owner(caller)?;
        let mut views = Vec::new();
        for row in self.store.drafts(&owner).await? {
            let mut view = draft_view(&row);
            // The user's name, for people to read (their id is what the record keeps).
            if let Some(user) = self.store.user(&row.saved_by).await? {
                view["saved_by_name"] = json!(user.name);
            }
            views.push(view);
        }
        Ok(views)
    }

    /// One draft of the caller's enterprise; another enterprise's is not found.
    pub async fn draft(&self, caller: &Caller, id: &str) -> Result<Value, ClearanceError> {
        let owner = Self::draft_owner(caller)?;
        let row = self
            .store
            .draft(id)
            .await?
            .filter(|d| d.enterprise_id == owner)
            .ok_or(ClearanceError::NotFound)?;
        Ok(draft_view(&row))
    }

    /// Saves a draft (`id`: a new text for one of the caller's enterprise; `None`: a new draft).
    /// Returns the draft's id.
    pub async fn save_draft(
        &self,
        caller: &Caller,
        id: Option<&str>,
        title: &str,
        body: &str,
        idempotency_key: Option<&str>,
    ) -> Result<String, ClearanceError> {
        let owner = Self::draft_owner(caller)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let mut errors = Vec::new();
        let title = domain::numbers::parse_text("title", title, DRAFT_TITLE_LENGTH_MAX)
            .map_err(|e| errors.push(e))
            .ok();
        if body.len() > DRAFT_BYTES_MAX {
            errors.push(FieldError::out_of_range(
                "draft",
                &format!("at most {DRAFT_BYTES_MAX} bytes"),
                &format!("不超过 {DRAFT_BYTES_MAX} 字节"),
            ));
        }
        let (Some(title), true) = (title, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let request = request_digest(
            &format!("draft:{}:{title}", id.unwrap_or("")),
            body.as_bytes(),
        );
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return first_subject(&first, DRAFT_SAVED_ACTION, &request);
        }
        let id = match id {
            Some(id) => {
                self.store
                    .draft(id)
                    .await?
                    .filter(|d| d.enterprise_id == owner)
                    .ok_or(ClearanceError::NotFound)?
                    .id
            }
            None => {
                if self.store.drafts(&owner).await?.len() >= DRAFTS_PER_ENTERPRISE_MAX {
                    return Err(invalid(FieldError::too_many(
                        "drafts",
                        DRAFTS_PER_ENTERPRISE_MAX,
                    )));
                }
                uuid::Uuid::now_v7().to_string()
            }
        };
        let row = DraftRow {
            id: id.clone(),
            enterprise_id: owner,
            title,
            body: body.to_owned(),
            saved_by: caller.user_id().to_owned(),
            saved_seq: None,
        };
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: id.clone(),
            action: DRAFT_SAVED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: request.clone(),
            payload: json!({ "draft": id, "title": row.title, "bytes": body.len() }).to_string(),
            expected_version: None,
            projection: Projection::SaveDraft(row),
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(id),
            Ok(AppendOutcome::Duplicate { first, .. }) => {
                first_subject(&first, DRAFT_SAVED_ACTION, &request)
            }
            Ok(other) => Err(refusal(other)),
            Err(store::StoreError::Conflict(_)) => Err(ClearanceError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    /// Discards a draft of the caller's enterprise.
    pub async fn discard_draft(&self, caller: &Caller, id: &str) -> Result<(), ClearanceError> {
        let owner = Self::draft_owner(caller)?;
        self.store
            .draft(id)
            .await?
            .filter(|d| d.enterprise_id == owner)
            .ok_or(ClearanceError::NotFound)?;
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: id.to_owned(),
            action: DRAFT_DISCARDED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            request_digest: request_digest("draft.discard", id.as_bytes()),
            payload: json!({ "draft": id }).to_string(),
            expected_version: None,
            projection: Projection::DiscardDraft { id: id.to_owned() },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(()),
            Ok(other) => Err(refusal(other)),
            // Discarded meanwhile (a second click): it is gone either way.
            Err(store::StoreError::NotFound(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Adds a supporting document to a declaration the caller (trade) lodged or may see.
    /// Returns the document.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_document(
        &self,
        caller: &Caller,
        declaration: &str,
        kind: &str,
        file_name: &str,
        content: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Lodge)?;
        let row = self.visible_row(caller, declaration).await?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let mut errors = Vec::new();
        if !DOCUMENT_KINDS.contains(&kind) {
            errors.push(FieldError::invalid_format(
                "kind",
                "invoice, packing_list, contract, certificate_of_origin, licence or other",
                "发票、装箱单、合同、原产地证明、许可证或其他",
            ));
        }
        let name =
            crate::attachments::checked_file_name(file_name, DOCUMENT_NAME_LENGTH_MAX, &mut errors);
        crate::attachments::check_size(content, DOCUMENT_BYTES_MAX, &mut errors);
        let media_type = sniff_media_type(content);
        if media_type.is_none() {
            errors.push(FieldError::invalid_format(
                "content",
                "a PDF document or a JPEG or PNG image",
                "PDF 文件或 JPEG、PNG 图片",
            ));
        }
        let (Some(name), Some(media_type), true) = (name, media_type, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let digest = hex::encode(Sha256::digest(content));
        let request = request_digest(
            &format!("document:{}:{kind}:{name}", row.id),
            digest.as_bytes(),
        );
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            first_subject(&first, DOCUMENT_ADDED_ACTION, &request)?;
            return Ok(serde_json::from_str(&first.payload).unwrap_or(Value::Null));
        }
        let listed = self.store.documents(&row.id).await?;
        if listed.len() >= DOCUMENTS_PER_DECLARATION_MAX {
            return Err(invalid(FieldError::too_many(
                "documents",
                DOCUMENTS_PER_DECLARATION_MAX,
            )));
        }
        let duplicate = || {
            invalid(FieldError::duplicate(
                "content",
                "the same file on this declaration",
                "本报关单已有相同文件",
            ))
        };
        if listed.iter().any(|d| d.digest == digest) {
            return Err(duplicate());
        }
        let document = DocumentRow {
            declaration_id: row.id.clone(),
            digest,
            kind: kind.to_owned(),
            file_name: name,
            media_type: media_type.to_owned(),
            size: content.len() as u64,
            added_by: caller.user_id().to_owned(),
            added_seq: None,
        };
        let view = document_view(&document);
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: row.id.clone(),
            action: DOCUMENT_ADDED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: request.clone(),
            payload: view.to_string(),
            expected_version: None,
            projection: Projection::AddDocument {
                document,
                content: content.to_vec(),
            },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(view),
            Ok(AppendOutcome::Duplicate { first, .. }) => {
                first_subject(&first, DOCUMENT_ADDED_ACTION, &request)?;
                Ok(serde_json::from_str(&first.payload).unwrap_or(Value::Null))
            }
            Ok(other) => Err(refusal(other)),
            Err(store::StoreError::Conflict(_)) => Err(duplicate()),
            Err(other) => Err(other.into()),
        }
    }

    /// A declaration's supporting documents, for whoever may see the declaration.
    pub async fn documents(
        &self,
        caller: &Caller,
        declaration: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, declaration).await?;
        Ok(self
            .store
            .documents(&row.id)
            .await?
            .iter()
            .map(document_view)
            .collect())
    }

    /// One document's file name, media type and content, for whoever may see the declaration.
    pub async fn document_content(
        &self,
        caller: &Caller,
        declaration: &str,
        digest: &str,
    ) -> Result<(String, String, Vec<u8>), ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, declaration).await?;
        let listed = self.store.documents(&row.id).await?;
        let document = listed
            .iter()
            .find(|d| d.digest == digest)
            .ok_or(ClearanceError::NotFound)?;
        let content = self
            .store
            .document_content(&row.id, digest)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        Ok((
            document.file_name.clone(),
            document.media_type.clone(),
            content,
        ))
    }
}

/// The subject of the first event of an idempotency key, if it was the same request.
fn first_subject(first: &EventRow, action: &str, request: &str) -> Result<String, ClearanceError> {
    if first.request_digest != request || first.action != action {
        return Err(ClearanceError::IdempotencyKeyReused);
    }
    Ok(first.subject.clone())
}
