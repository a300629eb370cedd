//! Assessing declarations in the service: at acceptance (in the lodging's transaction), after an
//! amendment, on an officer's request, and under a candidate release for a dry run.
//!
//! A declaration is assessed with the tariff release and exchange-rate tables in force on its
//! acceptance date (申报之日), whenever the assessment is made; the record names them.

use chrono::NaiveDate;
use domain::{Declaration, DeclarationKind, FieldError};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::{
    Actor, Append, AppendOutcome, CbecBooking, DeclarationQuery, LinkedEvent, Projection, Store,
};
use tariff::TariffRelease;

use crate::access::{Action, Caller};
use crate::assessment::{
    self, ASSESSED_ACTION, Basis, EXPLANATIONS_MEMBER, EXPLANATIONS_ON_READ, NotAssessable,
    OriginContext, PROOFS_USED_ELSEWHERE_MEMBER, ReportJson, Sources, Words,
};
use crate::cbec::BuyerLedger;
use crate::error::ClearanceError;
use crate::regime::{self, PostalRefused, REGIME_MEMBER, Regime};
use crate::releases::{DRY_RUN_SAMPLE_MAX, InForce, Parsed, ReleaseKind, parse_files};
use crate::{Clearance, ClearanceConfig, actor, idempotency_key_or_new, request_digest};

/// Summary declarations carry the goods' description for release, not what duty is computed
/// on: the full declaration that completes them is assessed.
fn assessed_kind(declaration: &Declaration) -> bool {
    !matches!(declaration.kind, DeclarationKind::Summary)
}

/// Whether a declaration cannot be released before an assessment of its duty and taxes: every
/// import that is not a summary declaration (exports owe no import duty; the engine assesses
/// none, and a summary is assessed through its full declaration).
pub(crate) fn needs_assessment(declaration: &Declaration) -> bool {
    assessed_kind(declaration) && matches!(declaration.direction, domain::Direction::Import)
}

/// The task kind of an assessment an officer makes by hand where the engine could not.
pub const MANUAL_ASSESSMENT_TASK: &str = "manual_assessment";

/// An officer's assessment by hand: each tax in CNY, and why.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualAssessmentRequest {
    pub customs_duty: String,
    #[serde(default)]
    pub consumption_tax: Option<String>,
    pub import_vat: String,
    pub reason: String,
}

/// An assessment's report and the proofs of origin whose preference it granted.
type Assessed = (ReportJson, Vec<String>);

/// The engine's result for a declaration under `tariff` and the rates, as a report or the
/// reasons it cannot be assessed; `None` for an export. `used_elsewhere` holds the keys of the
/// declaration's proofs of origin that other declarations already used.
fn run(
    declaration: &Declaration,
    day: NaiveDate,
    tariff: Option<&TariffRelease>,
    in_force: &InForce,
    config: &ClearanceConfig,
    used_elsewhere: &[String],
    words: Words,
) -> Option<Result<Assessed, Vec<NotAssessable>>> {
    let Some(release) = tariff else {
        return Some(Err(vec![NotAssessable::new(
            "",
            format!("no tariff release is in force on {day}"),
            format!("{day} 无生效的税则版本"),
        )]));
    };
    let used = |key: &str| used_elsewhere.iter().any(|k| k == key);
    let origin = OriginContext {
        agreements: &config.agreements,
        used_elsewhere: &used,
    };
    let outcome = assessment::assess_with_release_in(
        declaration,
        day,
        release,
        &in_force.rates,
        &config.assessment,
        &origin,
        words,
    )?;
    Some(outcome.map(|(input, assessed)| {
        (
            assessment::report_json(
                &input,
                &assessed,
                &assessment::document_types(declaration),
                None,
                words,
            ),
            assessment::granted_proofs(declaration, &input),
        )
    }))
}

/// An officer's reassessment: the record, and whether this request made it (`false` answers a
/// repeated Idempotency-Key with the first record).
#[derive(Debug, Clone)]
pub struct Reassessment {
    pub record: Value,
    pub created: bool,
}

fn replayed(payload: &str) -> Result<Reassessment, ClearanceError> {
    Ok(Reassessment {
        record: serde_json::from_str(payload)
            .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?,
        created: false,
    })
}

/// What every assessment event records besides its outcome, whatever the regime.
pub(crate) struct Recording<'a> {
    pub declaration_id: &'a str,
    pub basis: Basis,
    pub day: NaiveDate,
    pub in_force: &'a InForce,
    pub previous: Option<&'a Value>,
    pub note: Option<&'a str>,
}

impl Recording<'_> {
    /// The `declaration.assessed` event: numbered after the previous assessment, naming the
    /// releases in force, with `extra` members and the proofs of origin it used up.
    pub fn event(
        &self,
        outcome: Result<ReportJson, Vec<NotAssessable>>,
        mut extra: Vec<(&str, Value)>,
        proof_keys: Vec<String>,
    ) -> LinkedEvent {
        let number = self
            .previous
            .and_then(|p| p["assessment"].as_u64())
            .map_or(1, |n| n as u32 + 1);
        let sources = Sources {
            tariff_release: self.in_force.tariff.as_ref().map(|(id, _)| id.clone()),
            exchange_rate_tables: self.in_force.rate_tables.clone(),
        };
        if let Some(note) = self.note {
            extra.push(("note", json!(note)));
        }
        let payload = assessment::record(
            number,
            self.basis,
            self.day,
            &sources,
            outcome,
            self.previous,
            extra,
        );
        LinkedEvent {
            // The engine assesses (with the releases named in the payload). An officer's request
            // to reassess is the officer's main event, where this actor is not used.
            actor: Some(crate::system_actor()),
            subject: self.declaration_id.to_owned(),
            action: ASSESSED_ACTION.to_owned(),
            payload,
            // An assessment does not change the declaration's lifecycle state or version.
            expected_version: None,
            projection: Projection::OriginProofUses {
                declaration_id: self.declaration_id.to_owned(),
                proof_keys,
            },
        }
    }
}

/// An assessment to append with the change that calls for it, and for a CBEC order at
/// acceptance, the purchase to book in the same transaction.
pub(crate) struct AssessmentChange {
    pub event: LinkedEvent,
    pub cbec_purchase: Option<CbecBooking>,
    /// What targeting reads of the assessment: `None` exactly when the engine could not assess
    /// (the event records why), which calls for an assessment by hand.
    pub figures: Option<AssessedFigures>,
}

/// The figures of an assessment that targeting reads (customs values, the total payable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessedFigures {
    pub item_customs_values: Vec<rust_decimal::Decimal>,
    pub total_payable: rust_decimal::Decimal,
}

impl AssessedFigures {
    pub(crate) fn of(report: &ReportJson) -> AssessedFigures {
        AssessedFigures {
            item_customs_values: report.item_customs_values.clone(),
            total_payable: report.total_payable,
        }
    }

    /// The figures of a recorded assessment (a `declaration.assessed` payload), if it assessed
    /// the declaration: its total payable and each item's customs value in CNY.
    pub(crate) fn of_record(record: &Value) -> Option<AssessedFigures> {
        if record["outcome"] != "assessed" {
            return None;
        }
        let amount = |v: &Value| v.as_str()?.parse::<rust_decimal::Decimal>().ok();
        let item_customs_values = record["report"]["items"]
            .as_array()?
            .iter()
            .map(|item| amount(&item["customs_value"]["cny"]))
            .collect::<Option<Vec<_>>>()?;
        Some(AssessedFigures {
            item_customs_values,
            total_payable: amount(&record["total_payable"])?,
        })
    }
}

impl<S: Store> Clearance<S> {
    /// The assessment of a declaration, to append with the change that calls for it; `None` for
    /// what is not assessed (exports, summary declarations).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn assessment_event(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
        day: NaiveDate,
        basis: Basis,
        note: Option<&str>,
        actor: &Actor,
        now_ms: i64,
    ) -> Result<Option<AssessmentChange>, ClearanceError> {
        if !assessed_kind(declaration) {
            return Ok(None);
        }
        let regime = Regime::of(declaration);
        if regime == Regime::Postal {
            return self
                .postal_assessment(declaration_id, declaration, day, basis, note)
                .await
                .map(Some);
        }
        if regime == Regime::Cbec {
            return self
                .cbec_assessment(
                    declaration_id,
                    declaration,
                    day,
                    basis,
                    note,
                    actor,
                    now_ms,
                    BuyerLedger::Read,
                )
                .await
                .map(Some);
        }
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let tariff = in_force
            .tariff
            .as_ref()
            .map(|(_, release)| release.as_ref());
        let used = self
            .proofs_used_elsewhere(declaration_id, declaration)
            .await?;
        let Some(outcome) = run(
            declaration,
            day,
            tariff,
            &in_force,
            &self.config,
            &used,
            Words::FiguresOnly,
        ) else {
            return Ok(None);
        };
        let granted = outcome
            .as_ref()
            .map(|(_, granted)| granted.clone())
            .unwrap_or_default();
        let outcome = outcome.map(|(report, _)| report);
        let figures = outcome.as_ref().ok().map(AssessedFigures::of);
        let previous = self.previous_assessment(declaration_id, basis).await?;
        let mut extra = vec![(REGIME_MEMBER, json!(Regime::GeneralTrade.code()))];
        // A fact of the moment the engine's result depends on, kept to assess alike on read.
        if !used.is_empty() {
            extra.push((PROOFS_USED_ELSEWHERE_MEMBER, json!(used)));
        }
        // The product-specific rules the proofs of origin were checked against, with the
        // outcome: a fact that decides the rate, so in the audit chain, for officers.
        if let Some(release) = tariff {
            let is_used = |key: &str| used.iter().any(|k| k == key);
            let origin = OriginContext {
                agreements: &self.config.agreements,
                used_elsewhere: &is_used,
            };
            let checked = assessment::origin_rules_checked(declaration, day, release, &origin);
            if !checked.is_empty() {
                extra.push((assessment::ORIGIN_RULES_CHECKED_MEMBER, json!(checked)));
            }
        }
        let recording = Recording {
            declaration_id,
            basis,
            day,
            in_force: &in_force,
            previous: previous.as_ref(),
            note,
        };
        Ok(Some(AssessmentChange {
            // The proofs whose preference was granted are used up: another declaration claiming
            // them is refused ("already used").
            event: recording.event(outcome, extra, granted),
            cbec_purchase: None,
            figures,
        }))
    }

    /// The assessment of a parcel of personal articles (digest §2.8). At acceptance a parcel
    /// above its value limit (and not one indivisible article) is refused, naming
    /// `postal_parcel.articles`; a later reassessment records why instead. The rates are the
    /// configuration's, by date: no tariff release is read.
    async fn postal_assessment(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
        day: NaiveDate,
        basis: Basis,
        note: Option<&str>,
    ) -> Result<AssessmentChange, ClearanceError> {
        let outcome = match regime::assess_postal(declaration, day, &self.config.assessment) {
            Ok(report) => Ok(report),
            Err(PostalRefused::OverValueLimit(problem)) if basis == Basis::Acceptance => {
                return Err(ClearanceError::Invalid(vec![
                    FieldError::not_allowed(
                        &problem.path,
                        &problem.message_en,
                        &problem.message_zh,
                    )
                    .bounded(),
                ]));
            }
            Err(refused) => Err(vec![refused.problem().clone()]),
        };
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let previous = self.previous_assessment(declaration_id, basis).await?;
        let recording = Recording {
            declaration_id,
            basis,
            day,
            in_force: &in_force,
            previous: previous.as_ref(),
            note,
        };
        let figures = outcome.as_ref().ok().map(AssessedFigures::of);
        let extra = vec![(REGIME_MEMBER, json!(Regime::Postal.code()))];
        Ok(AssessmentChange {
            event: recording.event(outcome, extra, Vec::new()),
            cbec_purchase: None,
            figures,
        })
    }

    /// The assessment a new one is compared with: none at acceptance, else the latest.
    pub(crate) async fn previous_assessment(
        &self,
        declaration_id: &str,
        basis: Basis,
    ) -> Result<Option<Value>, ClearanceError> {
        Ok(match basis {
            Basis::Acceptance => None,
            _ => self.assessment_records(declaration_id).await?.pop(),
        })
    }

    /// The keys of the declaration's proofs of origin that another declaration used first.
    async fn proofs_used_elsewhere(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
    ) -> Result<Vec<String>, ClearanceError> {
        let mut used = Vec::new();
        for proof in &declaration.origin_proofs {
            let key = assessment::proof_key(proof);
            if let Some(user) = self.store.origin_proof_user(&key).await?
                && user != declaration_id
            {
                used.push(key);
            }
        }
        Ok(used)
    }

    /// The payloads of a declaration's assessments, oldest first.
    pub(crate) async fn assessment_records(
        &self,
        declaration_id: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        self.store
            .events(declaration_id)
            .await?
            .iter()
            .filter(|e| e.action == ASSESSED_ACTION)
            .map(|e| {
                serde_json::from_str(&e.payload).map_err(|err| {
                    ClearanceError::Internal(anyhow::anyhow!(
                        "stored assessment {} is not readable: {err}",
                        e.seq
                    ))
                })
            })
            .collect()
    }

    /// The payloads of a declaration's assessments, oldest first, each with its words: a record
    /// that keeps its figures only ([`EXPLANATIONS_ON_READ`]) is explained by running the engine
    /// again on what it was assessed from: the declaration as it stood then (its latest accepted
    /// or amended document before the assessment), the release and rate tables the record names
    /// and the proofs of origin it records as used elsewhere.
    pub(crate) async fn explained_assessment_records(
        &self,
        declaration_id: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        let events = self.store.events(declaration_id).await?;
        let mut document = None;
        let mut records = Vec::new();
        for event in &events {
            match event.action.as_str() {
                "declaration.accepted" | "declaration.amended" => document = Some(event),
                ASSESSED_ACTION => {
                    let mut record: Value =
                        serde_json::from_str(&event.payload).map_err(|err| {
                            ClearanceError::Internal(anyhow::anyhow!(
                                "stored assessment {} is not readable: {err}",
                                event.seq
                            ))
                        })?;
                    if record[EXPLANATIONS_MEMBER] == EXPLANATIONS_ON_READ {
                        self.explain(&mut record, document, event.seq).await;
                    }
                    records.push(record);
                }
                _ => {}
            }
        }
        Ok(records)
    }

    /// The answer to an assessment just appended: its record with its words, like every
    /// assessment shown (it is the declaration's latest).
    async fn appended_reassessment(
        &self,
        declaration_id: &str,
        payload: &str,
    ) -> Result<Reassessment, ClearanceError> {
        let recorded: Value = serde_json::from_str(payload)
            .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?;
        let record = self
            .explained_assessment_records(declaration_id)
            .await?
            .pop()
            .filter(|latest| latest["assessment"] == recorded["assessment"])
            .unwrap_or(recorded);
        Ok(Reassessment {
            record,
            created: true,
        })
    }

    /// Puts the words back into a figures-only record. Should the engine no longer give the
    /// recorded figures (a changed engine, a store restored without a release), the record keeps
    /// its figures, which stand, and says its explanation is unavailable.
    async fn explain(&self, record: &mut Value, document: Option<&store::EventRow>, seq: u64) {
        match self.explained_report(record, document).await {
            Ok(report) => {
                record["report"] = report;
                if let Some(members) = record.as_object_mut() {
                    members.remove(EXPLANATIONS_MEMBER);
                }
            }
            Err(why) => {
                tracing::warn!(
                    seq,
                    why,
                    "a recorded assessment could not be explained again"
                );
                record["explanation_unavailable"] = json!({
                    "en": format!("the explanation could not be rendered again: {why}"),
                    "zh": format!("无法重新生成计税说明：{why}"),
                });
            }
        }
    }

    async fn explained_report(
        &self,
        record: &Value,
        document: Option<&store::EventRow>,
    ) -> Result<Value, String> {
        let day = record["acceptance_date"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or("the record has no acceptance date")?;
        let document = document.ok_or("no declaration precedes the assessment")?;
        // Read back with every code a reference release ever held, as stored declarations are
        // (it was checked against the lists in force when accepted).
        let reference = self
            .recorded_reference()
            .await
            .map_err(|e| format!("the code lists cannot be read: {e}"))?;
        let declaration = match wire::decode_event(
            &document.action,
            &document.payload,
            &domain::ParseContext {
                reference: &reference,
                on: day,
            },
        )
        .map_err(|e| format!("the declaration no longer parses: {e}"))?
        {
            domain::DeclarationEvent::Accepted { declaration, .. }
            | domain::DeclarationEvent::Amended { declaration, .. } => declaration,
            _ => return Err("no declaration precedes the assessment".to_owned()),
        };
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let in_force = self
            .releases_cache
            .recorded(
                &self.store,
                record["tariff_release"].as_str(),
                &strings(&record["exchange_rate_tables"]),
            )
            .await
            .map_err(|e| format!("the recorded releases are not readable: {e}"))?;
        let used = strings(&record[PROOFS_USED_ELSEWHERE_MEMBER]);
        let tariff = in_force.tariff.as_ref().map(|(_, r)| r.as_ref());
        let (report, _) = run(
            &declaration,
            day,
            tariff,
            &in_force,
            &self.config,
            &used,
            Words::Explained,
        )
        .ok_or("the declaration is no longer assessed")?
        .map_err(|problems| format!("the engine no longer assesses it: {}", problems[0]))?;
        let report = report.to_value();
        if assessment::figures_of(&report) != record["report"] {
            return Err("the engine now gives other figures than recorded".to_owned());
        }
        Ok(report)
    }

    /// A duty estimate for a declaration that is not lodged: parsed and checked like a lodging,
    /// assessed with the releases in force on `date` (by default today). Nothing is written.
    pub async fn estimate(
        &self,
        caller: &Caller,
        body: &[u8],
        date: Option<NaiveDate>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Read)?;
        let day = date.unwrap_or_else(|| self.lodging_date(self.now()));
        let dto: wire::DeclarationDto =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let reference = self.reference_on(day).await?;
        let mut declaration = dto
            .parse(&domain::ParseContext {
                reference: &reference,
                on: day,
            })
            .map_err(ClearanceError::Invalid)?;
        let regime = Regime::of(&declaration);
        if regime == Regime::Postal {
            // As at lodging: the same refusal above the parcel's value limit.
            let report = regime::assess_postal(&declaration, day, &self.config.assessment)
                .map_err(|refused| {
                    let p = refused.problem();
                    ClearanceError::Invalid(vec![
                        FieldError::not_allowed(&p.path, &p.message_en, &p.message_zh).bounded(),
                    ])
                })?;
            let mut report = report.to_value();
            report["estimate"] = json!(true);
            return Ok(report);
        }
        if regime == Regime::Cbec {
            // As at lodging but without the buyer's purchases so far, whoever asks: an estimate
            // must not tell anyone holding an ID number what that person bought this year (nor,
            // by trying amounts, whether an order would still fit). Nothing is booked.
            self.protect_buyer(&mut declaration)?;
            let change = self
                .cbec_assessment(
                    "",
                    &declaration,
                    day,
                    Basis::Acceptance,
                    None,
                    &actor(caller),
                    0,
                    BuyerLedger::NotRead,
                )
                .await?;
            let record: Value = serde_json::from_str(&change.event.payload)
                .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?;
            let mut report = record["report"].clone();
            report["estimate"] = json!(true);
            report["cbec"] = record["cbec"].clone();
            report["tariff_release"] = record["tariff_release"].clone();
            report["exchange_rate_tables"] = record["exchange_rate_tables"].clone();
            return Ok(report);
        }
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let tariff = in_force
            .tariff
            .as_ref()
            .map(|(_, release)| release.as_ref());
        let used = self.proofs_used_elsewhere("", &declaration).await?;
        let outcome = run(
            &declaration,
            day,
            tariff,
            &in_force,
            &self.config,
            &used,
            Words::Explained,
        )
        .ok_or_else(|| {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "direction",
                "an export declaration has no import duty or taxes",
                "出口报关单不征收进口税款",
            )])
        })?;
        let (report, _) = outcome.map_err(|problems| {
            ClearanceError::Invalid(
                problems
                    .into_iter()
                    .map(|p| FieldError {
                        path: p.path,
                        code: domain::ErrorCode::NotAllowed,
                        message_en: format!("cannot be assessed: {}", p.message_en),
                        message_zh: format!("无法计税：{}", p.message_zh),
                    })
                    .map(FieldError::bounded)
                    .collect(),
            )
        })?;
        let mut report = report.to_value();
        report["estimate"] = json!(true);
        report["tariff_release"] = json!(in_force.tariff.as_ref().map(|(id, _)| id));
        report["exchange_rate_tables"] = json!(in_force.rate_tables);
        Ok(report)
    }

    /// A declaration's assessments, oldest first (the last one is in force).
    pub async fn assessments(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, id_or_number).await?;
        let records = self.explained_assessment_records(&row.id).await?;
        if caller.role.is_trade() {
            return Ok(records
                .iter()
                .map(crate::trade_view::trade_assessment)
                .collect());
        }
        Ok(records)
    }

    /// An officer's reassessment: the declaration as it stands, with the releases in force on its
    /// acceptance date now (e.g. after a roll-back); the difference to the last assessment is
    /// recorded.
    pub async fn reassess(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        reason: &str,
    ) -> Result<Reassessment, ClearanceError> {
        caller.require(Action::Reassess)?;
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("reassess:{id_or_number}"), reason.as_bytes());
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            if first.request_digest != digest {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            return replayed(&first.payload);
        }
        let row = self.visible_row(caller, id_or_number).await?;
        let state = self.state_of(&row).await?;
        let day = self.date_of_ms(row.lodged_at_ms);
        let now_ms = self.now().timestamp_millis();
        let change = self
            .assessment_event(
                &row.id,
                &state.declaration,
                day,
                Basis::Officer,
                Some(&reason),
                &actor(caller),
                now_ms,
            )
            .await?
            .ok_or_else(|| {
                ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "declaration",
                    "exports and summary declarations are not assessed",
                    "出口报关单和概要申报不计征税款",
                )])
            })?;
        let event = change.event;
        let payload = event.payload.clone();
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now_ms,
            subject: event.subject,
            action: event.action,
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest,
            payload: event.payload,
            expected_version: None,
            projection: event.projection,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { first, .. } => return replayed(&first.payload),
            other => return Err(crate::refusal(other)),
        }
        self.appended_reassessment(&row.id, &payload).await
    }

    /// Re-assesses the most recent import declarations (at most `sample`) under the tariff
    /// release or exchange-rate table `id` as if it were in force on their acceptance dates
    /// (a rate table laid over the tables in force), next to what is in force, and reports what
    /// would change. For a reference release (a code list), the codes it adds,
    /// removes, renames and re-dates against the list in force today, and which recent
    /// declarations it would refuse (`Clearance::reference_dry_run`). Nothing is written.
    pub async fn dry_run(
        &self,
        caller: &Caller,
        id: &str,
        sample: usize,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageReleases)?;
        if !(1..=DRY_RUN_SAMPLE_MAX).contains(&sample) {
            return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                "sample",
                &format!("from 1 to {DRY_RUN_SAMPLE_MAX}"),
                &format!("在 1 到 {DRY_RUN_SAMPLE_MAX} 之间"),
            )]));
        }
        let not_found = || {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "release",
                &format!("no tariff release or exchange-rate table {id}"),
                &format!("不存在税则版本或汇率表 {id}"),
            )])
        };
        let row = self.store.release(id).await?.ok_or_else(not_found)?;
        if let Some(ReleaseKind::Reference(list)) = ReleaseKind::parse(&row.kind) {
            return self.reference_dry_run(id, list, sample).await;
        }
        let kind = match ReleaseKind::parse(&row.kind) {
            Some(kind @ (ReleaseKind::Tariff | ReleaseKind::ExchangeRates)) => kind,
            _ => return Err(not_found()),
        };
        let files = self.store.release_files(id).await?.ok_or_else(not_found)?;
        // A tariff release is tried in place of the tariff in force; a rate table is laid over
        // the tables in force, as activating it would (a later table's rates win, the others'
        // stay).
        let candidate = parse_files(kind, &files)
            .map_err(|e| anyhow::anyhow!("stored release {id} no longer parses: {}", e[0]))?;
        let (candidate_tariff, candidate_rates) = match candidate {
            Parsed::Tariff(tariff) => (Some(tariff), None),
            Parsed::ExchangeRates(rates) => (None, Some(rates)),
            _ => return Err(not_found()),
        };
        let listed = self
            .store
            .list_declarations(&DeclarationQuery {
                direction: Some("import".into()),
                limit: sample,
                ..DeclarationQuery::default()
            })
            .await?;
        let mut outcome = DryRunTally::default();
        for listed in &listed {
            let row = &listed.row;
            let state = self.state_of(row).await?;
            // CBEC orders are assessed under their own regime against the buyer's ledger; a
            // dry run compares general-trade assessments only.
            if !assessed_kind(&state.declaration)
                || row.status == "cancelled"
                || Regime::of(&state.declaration) != Regime::GeneralTrade
            {
                continue;
            }
            let day = self.date_of_ms(row.lodged_at_ms);
            let in_force = self.releases_cache.in_force(&self.store, day).await?;
            let current = in_force.tariff.as_ref().map(|(_, r)| r.as_ref());
            let tried_tariff = candidate_tariff.as_deref().or(current);
            let tried = InForce {
                tariff: in_force.tariff.clone(),
                rate_tables: in_force.rate_tables.clone(),
                rates: candidate_rates.as_ref().map_or_else(
                    || in_force.rates.clone(),
                    |candidate| std::sync::Arc::new(in_force.rates.overlaid_with(candidate)),
                ),
            };
            let (config, used) = (&self.config, &[]);
            let (Some(before), Some(after)) = (
                run(
                    &state.declaration,
                    day,
                    current,
                    &in_force,
                    config,
                    used,
                    Words::Explained,
                ),
                run(
                    &state.declaration,
                    day,
                    tried_tariff,
                    &tried,
                    config,
                    used,
                    Words::Explained,
                ),
            ) else {
                continue;
            };
            let (before, after) = (
                before.map(|(r, _)| r.to_value()),
                after.map(|(r, _)| r.to_value()),
            );
            outcome.add(
                &row.number,
                &before,
                &after,
                in_force.tariff.as_ref().map(|(i, _)| i.as_str()),
            );
        }
        Ok(outcome.view(id, &row.status))
    }
}

/// What a dry run found, declaration by declaration.
#[derive(Default)]
struct DryRunTally {
    compared: usize,
    unchanged: usize,
    changed: Vec<Value>,
    newly_not_assessable: Vec<Value>,
    no_longer_blocked: usize,
    still_not_assessable: usize,
    total_difference: rust_decimal::Decimal,
}

fn payable(report: &Value) -> rust_decimal::Decimal {
    report["total_payable"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

fn rates_of(report: &Value) -> Vec<Value> {
    report["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            json!({
                "index": item["index"], "commodity_code": item["commodity_code"],
                "column": item["duty_rate"]["column"]["en"], "rate": item["duty_rate"]["rate"],
            })
        })
        .collect()
}

impl DryRunTally {
    fn add(
        &mut self,
        number: &str,
        before: &Result<Value, Vec<NotAssessable>>,
        after: &Result<Value, Vec<NotAssessable>>,
        current_release: Option<&str>,
    ) {
        self.compared += 1;
        let problems = |p: &[NotAssessable]| -> Vec<Value> {
            p.iter()
                .map(|p| json!({ "path": p.path, "en": p.message_en, "zh": p.message_zh }))
                .collect()
        };
        match (before, after) {
            (Ok(before), Ok(after)) => {
                let difference = payable(after) - payable(before);
                let (rates_before, rates_after) = (rates_of(before), rates_of(after));
                if difference.is_zero() && rates_before == rates_after {
                    self.unchanged += 1;
                    return;
                }
                self.total_difference += difference;
                self.changed.push(json!({
                    "number": number,
                    "current_release": current_release,
                    "total_payable_now": before["total_payable"],
                    "total_payable_candidate": after["total_payable"],
                    "difference": tariff::money::fen_text(difference),
                    "rates_now": rates_before,
                    "rates_candidate": rates_after,
                }));
            }
            (Ok(_), Err(p)) => self.newly_not_assessable.push(json!({
                "number": number, "problems": problems(p),
            })),
            (Err(_), Ok(_)) => self.no_longer_blocked += 1,
            (Err(_), Err(_)) => self.still_not_assessable += 1,
        }
    }

    fn view(self, id: &str, status: &str) -> Value {
        json!({
            "release": id,
            "release_status": status,
            "declarations_compared": self.compared,
            "unchanged": self.unchanged,
            "changed": self.changed.len(),
            "total_difference": tariff::money::fen_text(self.total_difference),
            "not_assessable_under_candidate": self.newly_not_assessable.len(),
            "assessable_only_under_candidate": self.no_longer_blocked,
            "not_assessable_under_either": self.still_not_assessable,
            "changes": self.changed,
            "newly_not_assessable": self.newly_not_assessable,
        })
    }
}

impl<S: Store> Clearance<S> {
    /// The task that asks an officer to assess a declaration by hand, drawn among the officers
    /// of its office like a check.
    pub(crate) async fn manual_assessment_task(
        &self,
        declaration_id: &str,
        office: &str,
        now_ms: i64,
    ) -> Result<LinkedEvent, ClearanceError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.task_drawn_now(
            declaration_id,
            office,
            MANUAL_ASSESSMENT_TASK,
            &id,
            now_ms,
            Value::Null,
        )
        .await
    }

    /// An officer's assessment by hand, where the engine could not assess (an item without a
    /// tariff line, no release or rate in force): each tax's amount, recorded as a
    /// `declaration.assessed` of basis `manual`; it closes the open manual-assessment tasks.
    pub async fn assess_manually(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Reassessment, ClearanceError> {
        caller.require(Action::Reassess)?;
        let request: ManualAssessmentRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        let mut amount = |path: &str, raw: Option<&str>| -> Decimal {
            let Some(raw) = raw else {
                return Decimal::ZERO;
            };
            crate::payments::parse_amount(path, raw, true).unwrap_or_else(|e| {
                errors.push(e);
                Decimal::ZERO
            })
        };
        let taxes = [
            (
                "customs_duty",
                amount("customs_duty", Some(&request.customs_duty)),
            ),
            (
                "consumption_tax",
                amount("consumption_tax", request.consumption_tax.as_deref()),
            ),
            (
                "import_vat",
                amount("import_vat", Some(&request.import_vat)),
            ),
        ];
        let reason = domain::numbers::parse_text(
            "reason",
            &request.reason,
            domain::limits::REASON_LENGTH_MAX,
        );
        if let Err(e) = &reason {
            errors.push(e.clone());
        }
        let (Ok(reason), true) = (reason, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("manual-assessment:{id_or_number}"), body);
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            if first.request_digest != digest {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            return replayed(&first.payload);
        }
        let row = self.visible_row(caller, id_or_number).await?;
        let state = self.state_of(&row).await?;
        if !needs_assessment(&state.declaration) || row.status != "accepted" {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "declaration",
                "only an accepted import declaration that is not a summary is assessed",
                "只有已受理的非概要进口报关单计征税款",
            )]));
        }
        let total = taxes
            .iter()
            .try_fold(Decimal::ZERO, |sum, (_, a)| sum.checked_add(*a))
            .ok_or_else(|| anyhow::anyhow!("a manual assessment's taxes overflow their sum"))?;
        let report = assessment::ReportJson {
            json: json!({
                "manual": true,
                "totals": taxes.iter().map(|(kind, a)| json!({
                    "kind": kind, "payable": tariff::money::fen_text(*a),
                })).collect::<Vec<_>>(),
                "total_payable": tariff::money::fen_text(total),
            })
            .to_string(),
            // An officer's figures are the whole record: there is no engine run to render.
            words: Words::Explained,
            total_payable: total,
            payable_by_kind: taxes.iter().map(|(k, a)| ((*k).to_owned(), *a)).collect(),
            item_customs_values: Vec::new(),
        };
        let day = self.date_of_ms(row.lodged_at_ms);
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let previous = self.assessment_records(&row.id).await?.pop();
        let recording = Recording {
            declaration_id: &row.id,
            basis: Basis::Manual,
            day,
            in_force: &in_force,
            previous: previous.as_ref(),
            note: Some(&reason),
        };
        let event = recording.event(Ok(report), Vec::new(), Vec::new());
        let payload = event.payload.clone();
        let now_ms = self.now().timestamp_millis();
        let closing: Vec<LinkedEvent> = self
            .open_tasks(&row.id)
            .await?
            .iter()
            .filter(|t| t.kind == MANUAL_ASSESSMENT_TASK)
            .map(|t| {
                crate::tasks::closing_event(
                    &row.id,
                    &t.id,
                    MANUAL_ASSESSMENT_TASK,
                    json!({ "assessed_by": caller.user_id(), "total_payable": tariff::money::fen_text(total) }),
                )
            })
            .collect();
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now_ms,
            subject: row.id.clone(),
            action: ASSESSED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest,
            payload: event.payload,
            expected_version: None,
            projection: Projection::Nothing,
            linked: closing,
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => {}
            Ok(AppendOutcome::Duplicate { first, .. }) => return replayed(&first.payload),
            Ok(other) => return Err(crate::refusal(other)),
            Err(store::StoreError::Conflict(_)) => return Err(ClearanceError::Conflict),
            Err(other) => return Err(other.into()),
        }
        self.appended_reassessment(&row.id, &payload).await
    }
}

/// An engine assessment re-performed for an auditor: what was recorded, and what the engine
/// computes again from the same declaration with the releases in force on its acceptance date.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reperformed {
    /// The recorded assessment's basis (acceptance, amendment, officer).
    pub basis: String,
    /// The recorded total payable in CNY, `None` when the engine recorded it could not assess.
    pub recorded_total: Option<String>,
    /// The total the engine computes now, `None` when it cannot assess.
    pub recomputed_total: Option<String>,
    /// The tariff release the record names, and the one in force on that date now (they differ
    /// after a roll-back, which explains a difference without any fault).
    pub recorded_release: Option<String>,
    pub release_now: Option<String>,
    /// Both assessed with the same total, or both not assessable.
    pub agrees: bool,
}

impl<S: Store> Clearance<S> {
    /// Re-performs the declaration's last assessment if the engine made it: `Ok(None)` when there
    /// is none, when an officer made it by hand, or for a CBEC order (its tax depends on the
    /// buyer's ledger as it stood then). Nothing is written.
    pub(crate) async fn reperform_last_assessment(
        &self,
        row: &store::DeclarationRow,
    ) -> Result<Option<Reperformed>, ClearanceError> {
        let Some(record) = self.assessment_records(&row.id).await?.pop() else {
            return Ok(None);
        };
        let basis = record["basis"].as_str().unwrap_or_default().to_owned();
        if basis == Basis::Manual.as_str() {
            return Ok(None);
        }
        let state = self.state_of(row).await?;
        let regime = Regime::of(&state.declaration);
        if !assessed_kind(&state.declaration) || regime == Regime::Cbec {
            return Ok(None);
        }
        let day = self.date_of_ms(row.lodged_at_ms);
        let recorded_total = (record["outcome"] == "assessed")
            .then(|| record["total_payable"].as_str().map(str::to_owned))
            .flatten();
        if regime == Regime::Postal {
            // The rates are the configuration's by date: no release is involved.
            let recomputed_total =
                regime::assess_postal(&state.declaration, day, &self.config.assessment)
                    .ok()
                    .map(|report| tariff::money::fen_text(report.total_payable));
            return Ok(Some(Reperformed {
                basis,
                agrees: recorded_total == recomputed_total,
                recorded_total,
                recomputed_total,
                recorded_release: record["tariff_release"].as_str().map(str::to_owned),
                release_now: record["tariff_release"].as_str().map(str::to_owned),
            }));
        }
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let tariff = in_force.tariff.as_ref().map(|(_, r)| r.as_ref());
        let used = self
            .proofs_used_elsewhere(&row.id, &state.declaration)
            .await?;
        let Some(outcome) = run(
            &state.declaration,
            day,
            tariff,
            &in_force,
            &self.config,
            &used,
            Words::FiguresOnly,
        ) else {
            return Ok(None);
        };
        let recomputed_total = outcome
            .ok()
            .map(|(report, _)| tariff::money::fen_text(report.total_payable));
        Ok(Some(Reperformed {
            basis,
            agrees: recorded_total == recomputed_total,
            recorded_total,
            recomputed_total,
            recorded_release: record["tariff_release"].as_str().map(str::to_owned),
            release_now: in_force.tariff.as_ref().map(|(id, _)| id.clone()),
        }))
    }
}
