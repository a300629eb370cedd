//! Officers' duty (值班): an officer goes on duty at a customs office and off again, and the tasks
//! a lane creates at an office are assigned by a recorded draw among the officers on duty there
//! (双随机: the inspector is drawn, not chosen). Each change is an event in the audit chain.
//!
//! An office where nobody is on duty still gets its tasks done: they are drawn among every
//! officer, and the task's record says so (`"pool": "all_officers"`), so a platform with no duty
//! kept works from its first run and a supervisor sees which tasks fell outside the roster.

use serde_json::{Value, json};
use store::{Projection, Store};

use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::{Clearance, views};

/// The event of an officer going on duty at an office.
pub const ON_DUTY_ACTION: &str = "officer.on_duty";
/// The event of an officer going off duty.
pub const OFF_DUTY_ACTION: &str = "officer.off_duty";

/// Where a task's candidates came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// The officers on duty at the task's office.
    OnDuty,
    /// Nobody was on duty there: every officer.
    AllOfficers,
}

impl Pool {
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::OnDuty => "on_duty",
            Pool::AllOfficers => "all_officers",
        }
    }
}

impl<S: Store> Clearance<S> {
    /// The caller (an officer) goes on duty at `office`, leaving any other, or off duty with
    /// `None`. Returns `{officer, office, on_duty}`.
    pub async fn set_duty(
        &self,
        caller: &Caller,
        office: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::KeepDuty)?;
        let today = self.lodging_date(self.now());
        let reference = self.reference_on(today).await?;
        let ctx = domain::ParseContext {
            reference: &reference,
            on: today,
        };
        let office = office
            .map(|raw| {
                domain::codes::CustomsOfficeCode::parse("office", raw, &ctx)
                    .map(|code| code.as_str().to_owned())
            })
            .transpose()
            .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let officer = caller.user_id().to_owned();
        let view = json!({ "officer": officer, "office": office, "on_duty": office.is_some() });
        self.append_reference_event(
            caller,
            format!("officer:{officer}"),
            if office.is_some() {
                ON_DUTY_ACTION
            } else {
                OFF_DUTY_ACTION
            },
            view.clone(),
            Projection::SetDuty { officer, office },
            "office",
            |_| ClearanceError::NotFound,
        )
        .await?;
        Ok(view)
    }

    /// The officers on duty now, at `office` or at every office (customs roles): `{officer,
    /// office, since, seq}` ordered by office then officer.
    pub async fn duty_roster(
        &self,
        caller: &Caller,
        office: Option<&str>,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadTasks)?;
        Ok(self
            .store
            .officers_on_duty(office)
            .await?
            .iter()
            .map(|row| {
                json!({
                    "officer": row.officer, "office": row.office,
                    "since": views::rfc3339(row.since_ms), "seq": row.seq,
                })
            })
            .collect())
    }

    /// The officers a task at `office` may be assigned to, in a fixed order, and where they
    /// came from.
    pub(crate) async fn task_candidates(
        &self,
        office: &str,
    ) -> Result<(Vec<String>, Pool), ClearanceError> {
        let on_duty = self.store.officers_on_duty(Some(office)).await?;
        if !on_duty.is_empty() {
            return Ok((
                on_duty.into_iter().map(|r| r.officer).collect(),
                Pool::OnDuty,
            ));
        }
        let all = self
            .store
            .users_by_role(Role::Officer.as_str())
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        Ok((all, Pool::AllOfficers))
    }
}
