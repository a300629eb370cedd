//! Changes to accepted declarations (amendment, cancellation, release) and the read side.
//!
//! Every change follows one path: read the declaration's current state, decide the event, check
//! it against the lifecycle, and append it with the version it was decided on, so two concurrent
//! changes cannot both succeed on the same state.

use domain::limits::REASON_LENGTH_MAX;
use domain::numbers::parse_text;
use domain::{DeclarationEvent, DeclarationState, FieldError};
use store::{Append, AppendOutcome, DeclarationRow, DeclarationUpdate, Projection, Store};
use wire::{
    AmendmentRequest, CancellationRequest, DeclarationView, EventPage, EventsAnswer, ReleaseRequest,
};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::modifications::Modification;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest, views};

fn reason(path: &str, raw: &str) -> Result<String, ClearanceError> {
    parse_text(path, raw, REASON_LENGTH_MAX).map_err(|e| ClearanceError::Invalid(vec![e]))
}

impl<S: Store> Clearance<S> {
    /// A declaration by id or number, if the caller may see it.
    pub async fn declaration(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<DeclarationView, ClearanceError> {
        caller.require(Action::Read)?;
        views::declaration_view(&self.visible_row(caller, id_or_number).await?)
    }

    pub(crate) async fn visible_row(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<DeclarationRow, ClearanceError> {
        let row = match self.store.declaration(id_or_number).await? {
            Some(row) => Some(row),
            None => self.store.declaration_by_number(id_or_number).await?,
        };
        row.filter(|r| caller.sees(&r.trader_credit_code, &r.declarant_credit_code))
            .ok_or(ClearanceError::NotFound)
    }

    /// The declaration's history, oldest first: every event for customs roles; for the trade,
    /// where the declaration stands and its receipts, built from an allow-list
    /// (`trade_view`), never a customs event filtered.
    pub async fn events(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<EventsAnswer, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, id_or_number).await?;
        let events = self.store.events(&row.id).await?;
        if caller.role.is_trade() {
            return Ok(EventsAnswer::Trade(crate::trade_view::trade_page(
                &row.status,
                &events,
            )));
        }
        Ok(EventsAnswer::Customs(EventPage {
            events: events
                .iter()
                .map(views::event_view)
                .collect::<Result<_, _>>()?,
        }))
    }

    #[tracing::instrument(name = "amending a declaration", skip_all, fields(user = caller.user_id()))]
    pub async fn amend(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Modification, ClearanceError> {
        // Read before deciding, since deciding does no I/O: a full declaration must still agree
        // with its summary after the amendment, and the amended parties must still be the
        // register's (their credit codes cannot change).
        let (summary, registered) = match self.visible_row(caller, id_or_number).await {
            Ok(row) => {
                let summary = match &row.summary_number {
                    Some(number) => Some(
                        self.state_of(&self.visible_row(caller, number).await?)
                            .await?
                            .declaration,
                    ),
                    None => None,
                };
                let registered = self
                    .registered_parties(&row.trader_credit_code, &row.declarant_credit_code)
                    .await?;
                (summary, Some(registered))
            }
            Err(_) => (None, None), // `change` reports the missing declaration.
        };
        self.change(
            caller,
            Action::Amend,
            id_or_number,
            idempotency_key,
            body,
            |this, state| {
                let request: AmendmentRequest =
                    wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
                // The reason and the declaration are checked together: one answer, every error.
                let reason = parse_text("reason", &request.reason, REASON_LENGTH_MAX);
                let ctx = domain::ParseContext {
                    reference: &state.reference,
                    on: this.date_of_ms(state.lodged_at_ms),
                };
                let (reason, declaration) = match (reason, request.declaration.parse(&ctx)) {
                    (Ok(reason), Ok(declaration)) => (reason, declaration),
                    (reason, declaration) => {
                        let mut errors: Vec<FieldError> = reason.err().into_iter().collect();
                        errors.extend(prefixed(declaration.err().unwrap_or_default()));
                        return Err(ClearanceError::Invalid(errors));
                    }
                };
                let mut errors = amendment_errors(caller, &state.state, &declaration);
                if let Some(registered) = &registered {
                    errors.extend(registered.disagreements(&declaration, "declaration."));
                }
                if state.state.declaration.cbec_order.is_some() || declaration.cbec_order.is_some()
                {
                    errors.push(FieldError::not_allowed(
                        "declaration.cbec_order",
                        "a CBEC retail order is not amended: cancel it and declare it again",
                        "跨境电商零售订单不能修改：请撤单后重新申报",
                    ));
                }
                if let Some(summary) = &summary {
                    errors.extend(prefixed(domain::rules::check_full_against_summary(
                        &declaration,
                        summary,
                    )));
                }
                if !errors.is_empty() {
                    return Err(ClearanceError::Invalid(errors));
                }
                Ok(DeclarationEvent::Amended {
                    declaration: Box::new(declaration),
                    reason,
                })
            },
        )
        .await
    }

    #[tracing::instrument(name = "cancelling a declaration", skip_all, fields(user = caller.user_id()))]
    pub async fn cancel(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Modification, ClearanceError> {
        self.change(
            caller,
            Action::Cancel,
            id_or_number,
            idempotency_key,
            body,
            |_, current| {
                // Only the enterprise that declared, still authorised for the trader, withdraws it.
                let declaration = &current.state.declaration;
                let denied = caller.may_declare(
                    declaration.trader.credit_code.as_str(),
                    declaration.declarant.credit_code.as_str(),
                );
                if !denied.is_empty() {
                    return Err(ClearanceError::Forbidden {
                        message_en: "only the enterprise that declared may cancel this declaration"
                            .into(),
                        message_zh: "只有申报单位可以撤销此报关单".into(),
                        errors: denied,
                    });
                }
                let request: CancellationRequest =
                    wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
                Ok(DeclarationEvent::Cancelled {
                    reason: reason("reason", &request.reason)?,
                })
            },
        )
        .await
    }

    #[tracing::instrument(name = "releasing goods", skip_all, fields(user = caller.user_id()))]
    pub async fn release(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<DeclarationView, ClearanceError> {
        // Goods are not released while duty and taxes are outstanding (neither paid nor
        // guaranteed) or an officer's task on them is open. (Read before deciding, since deciding
        // does no I/O; a task created after this read belongs to a later change.)
        // A declaration no longer accepted (released, cancelled) is refused by its lifecycle
        // below, which says why; what it owes is then beside the point.
        if caller.require(Action::Release).is_ok()
            && let Ok(row) = self.visible_row(caller, id_or_number).await
            && row.status == domain::DeclarationStatus::Accepted.as_str()
        {
            let settlement = self.settlement(&row.id).await?;
            // Fail closed: goods that should have been assessed and were not (no tariff line, no
            // release or rate in force) owe nothing only on paper. An officer assesses them by
            // hand first (`assess_manually`).
            if settlement.payable.is_none()
                && crate::assessing::needs_assessment(&self.state_of(&row).await?.declaration)
            {
                return Err(ClearanceError::Transition(domain::TransitionError {
                    code: "not_assessed",
                    message_en: format!(
                        "declaration {} cannot be released: its duty and taxes are not assessed (an officer assesses them by hand)",
                        row.number
                    ),
                    message_zh: format!(
                        "报关单 {} 不能放行：税款尚未审核计征（需关员人工审核）",
                        row.number
                    ),
                }));
            }
            let outstanding = settlement.outstanding();
            if outstanding > rust_decimal::Decimal::ZERO {
                let amount = tariff::money::fen_text(outstanding);
                return Err(ClearanceError::Transition(domain::TransitionError {
                    code: "unpaid",
                    message_en: format!(
                        "declaration {} cannot be released: {amount} CNY of duty and taxes is neither paid nor guaranteed",
                        row.number
                    ),
                    message_zh: format!(
                        "报关单 {} 不能放行：尚有 {amount} 元税款未缴纳且未担保",
                        row.number
                    ),
                }));
            }
            let open = self.open_tasks(&row.id).await?;
            if !open.is_empty() {
                let kinds: Vec<&str> = open.iter().map(|t| t.kind.as_str()).collect();
                return Err(ClearanceError::Transition(domain::TransitionError {
                    code: "open_tasks",
                    message_en: format!(
                        "declaration {} cannot be released: its tasks are open ({})",
                        row.number,
                        kinds.join(", ")
                    ),
                    message_zh: format!(
                        "报关单 {} 不能放行：尚有未完成的任务（{}）",
                        row.number,
                        kinds.join("、")
                    ),
                }));
            }
        }
        self.change(
            caller,
            Action::Release,
            id_or_number,
            idempotency_key,
            body,
            |_, _| {
                let body = if body.iter().all(u8::is_ascii_whitespace) {
                    b"{}".as_slice()
                } else {
                    body
                };
                let request: ReleaseRequest =
                    wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
                let note = request
                    .note
                    .as_deref()
                    .map(|n| reason("note", n))
                    .transpose()?;
                Ok(DeclarationEvent::Released { note })
            },
        )
        .await
        .map(Modification::applied)
    }

    async fn change(
        &self,
        caller: &Caller,
        action: Action,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
        decide: impl FnOnce(&Self, &Current) -> Result<DeclarationEvent, ClearanceError>,
    ) -> Result<Modification, ClearanceError> {
        caller.require(action)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("{action:?}:{id_or_number}"), body);
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return self.replay_change(caller, &first, &digest).await;
        }
        let row = self.visible_row(caller, id_or_number).await?;
        let current = Current {
            state: self.state_of(&row).await?,
            lodged_at_ms: row.lodged_at_ms,
            reference: self.reference_on(self.date_of_ms(row.lodged_at_ms)).await?,
        };
        let event = decide(self, &current)?;
        current
            .state
            .check(&event)
            .map_err(ClearanceError::Transition)?;
        // Once customs has acted on it, the trade's change is a request for an officer (修撤单).
        let trade_reason = match &event {
            DeclarationEvent::Amended { reason, .. } | DeclarationEvent::Cancelled { reason } => {
                Some(reason.clone())
            }
            _ => None,
        };
        // The declaration's history, read once for both: whether it is under control, and what
        // an amendment's consequences depend on.
        let events = match &trade_reason {
            Some(_) => self.store.events(&row.id).await?,
            None => Vec::new(),
        };
        if let Some(reason) = trade_reason
            && let Some(requested) = self
                .modification_request(caller, (&row, &events), &event, &reason, &key, &digest)
                .await?
        {
            return Ok(requested);
        }
        let mut next = current.state.clone();
        next.apply(&event);
        // An amendment is reassessed and targeted again in the same transaction, on the original
        // acceptance date.
        let now = self.now();
        let consequences = match &event {
            DeclarationEvent::Amended { declaration, .. } => {
                self.amendment_consequences(
                    &actor(caller),
                    &row,
                    declaration,
                    &events,
                    now.timestamp_millis(),
                )
                .await?
            }
            _ => Vec::new(),
        };
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now.timestamp_millis(),
            subject: row.id.clone(),
            action: event.name().to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.clone(),
            payload: wire::encode_event(&event),
            expected_version: Some(row.version),
            projection: Projection::UpdateDeclaration(DeclarationUpdate {
                id: row.id.clone(),
                status: next.status.as_str().to_owned(),
                version: next.version,
                updated_at_ms: now.timestamp_millis(),
                completed_by: row.completed_by.clone(),
                // An amendment carries the new document; the projection then points at it.
                replaces_document: matches!(event, DeclarationEvent::Amended { .. }),
            }),
            linked: consequences,
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { first, .. } => {
                return self.replay_change(caller, &first, &digest).await;
            }
            other => return Err(crate::refusal(other)),
        }
        crate::modifications::applied(&self.visible_row(caller, &row.id).await?)
    }

    async fn replay_change(
        &self,
        caller: &Caller,
        first: &store::EventRow,
        digest: &str,
    ) -> Result<Modification, ClearanceError> {
        if first.action == crate::modifications::REQUESTED_ACTION {
            return self.replayed_request(first, digest).await;
        }
        if first.request_digest != digest {
            return Err(ClearanceError::IdempotencyKeyReused);
        }
        crate::modifications::applied(&self.visible_row(caller, &first.subject).await?)
    }
}

/// A declaration's current state and when it was lodged (its code lists are those of that day).
pub(crate) struct Current {
    pub state: DeclarationState,
    pub lodged_at_ms: i64,
    /// The code lists in force on the lodging date, which an amended declaration must use.
    pub reference: std::sync::Arc<reference::ReferenceData>,
}

/// Errors inside an amendment's declaration are reported under `declaration.`.
fn prefixed(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.path = if e.path.is_empty() {
                "declaration".into()
            } else {
                format!("declaration.{}", e.path)
            };
            e
        })
        .collect()
}

/// An amendment corrects a declaration; it cannot turn it into another one. What the number
/// was made from, the kind, and who declares for whom stay as they were.
fn amendment_errors(
    caller: &Caller,
    state: &DeclarationState,
    amended: &domain::Declaration,
) -> Vec<FieldError> {
    let original = &state.declaration;
    let mut errors = Vec::new();
    let mut unchanged = |path: &str, before: &str, after: &str| {
        if before != after {
            errors.push(FieldError::not_allowed(
                format!("declaration.{path}"),
                &format!(
                    "an amendment cannot change it from '{}' (lodge a new declaration instead)",
                    domain::echoed(before)
                ),
                &format!(
                    "修改申报不能将其由“{}”改变（请重新申报）",
                    domain::echoed(before)
                ),
            ));
        }
    };
    unchanged(
        "direction",
        views::direction_name(original),
        views::direction_name(amended),
    );
    unchanged("kind", original.kind.name(), amended.kind.name());
    unchanged(
        "office_of_lodging",
        original.office_of_lodging.as_str(),
        amended.office_of_lodging.as_str(),
    );
    unchanged(
        "trader.credit_code",
        original.trader.credit_code.as_str(),
        amended.trader.credit_code.as_str(),
    );
    unchanged(
        "declarant.credit_code",
        original.declarant.credit_code.as_str(),
        amended.declarant.credit_code.as_str(),
    );
    if let (
        domain::DeclarationKind::Full { summary_number: a },
        domain::DeclarationKind::Full { summary_number: b },
    ) = (&original.kind, &amended.kind)
    {
        unchanged("summary_number", a.as_str(), b.as_str());
    }
    errors.extend(prefixed(caller.may_declare(
        amended.trader.credit_code.as_str(),
        amended.declarant.credit_code.as_str(),
    )));
    errors
}

/// The linked event of a lifecycle change decided on `row`'s version (an amendment by a finding or
/// an approved request, a cancellation approved), with its projection; `next` is the state after
/// it. The caller of the change is its actor.
pub(crate) fn lifecycle_linked(
    row: &DeclarationRow,
    event: &DeclarationEvent,
    next: &DeclarationState,
    now_ms: i64,
) -> store::LinkedEvent {
    store::LinkedEvent {
        actor: None,
        subject: row.id.clone(),
        action: event.name().to_owned(),
        payload: wire::encode_event(event),
        expected_version: Some(row.version),
        projection: Projection::UpdateDeclaration(DeclarationUpdate {
            id: row.id.clone(),
            status: next.status.as_str().to_owned(),
            version: next.version,
            updated_at_ms: now_ms,
            completed_by: row.completed_by.clone(),
            replaces_document: matches!(event, DeclarationEvent::Amended { .. }),
        }),
    }
}
