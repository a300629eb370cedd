//! The declaration lifecycle. State is never stored as the truth: it is the fold of the events.
//!
//! ```text
//! lodging ──valid──▶ Accepted (numbered) ──release──▶ Released
//!    │                 │   ▲                               
//!    └─invalid─▶ rejected (answered with every error, nothing stored, no number used)
//!                      ├── amend (reason) ──┘
//!                      └── cancel (reason) ─▶ Cancelled
//! summary declaration: Accepted or Released ──full declaration accepted──▶ completed
//! ```
//! Assessment, targeting and checks (later issues) plug in between Accepted and Released.

use std::fmt;

use crate::declaration::Declaration;
use crate::numbering::DeclarationNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclarationStatus {
    Accepted,
    Released,
    Cancelled,
}

impl DeclarationStatus {
    pub const ALL: [DeclarationStatus; 3] = [
        DeclarationStatus::Accepted,
        DeclarationStatus::Released,
        DeclarationStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationStatus::Accepted => "accepted",
            DeclarationStatus::Released => "released",
            DeclarationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<DeclarationStatus> {
        DeclarationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What happened to a declaration. Each is appended, never edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationEvent {
    Accepted {
        number: DeclarationNumber,
        declaration: Box<Declaration>,
    },
    Amended {
        declaration: Box<Declaration>,
        reason: String,
    },
    Cancelled {
        reason: String,
    },
    Released {
        note: Option<String>,
    },
    /// On a summary declaration: the full declaration that completes it was accepted. `replaces`
    /// names the earlier full declaration when that one was cancelled and this one takes its place.
    Completed {
        full_number: DeclarationNumber,
        replaces: Option<DeclarationNumber>,
    },
}

impl DeclarationEvent {
    pub fn name(&self) -> &'static str {
        match self {
            DeclarationEvent::Accepted { .. } => "declaration.accepted",
            DeclarationEvent::Amended { .. } => "declaration.amended",
            DeclarationEvent::Cancelled { .. } => "declaration.cancelled",
            DeclarationEvent::Released { .. } => "declaration.released",
            DeclarationEvent::Completed { .. } => "declaration.completed",
        }
    }
}

/// The current state of one declaration, derived from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationState {
    pub number: DeclarationNumber,
    pub status: DeclarationStatus,
    pub declaration: Declaration,
    /// Number of events applied; the expected version for the next change.
    pub version: u32,
    pub n_amendments: u32,
    pub completed_by: Option<DeclarationNumber>,
}

/// Why a change is refused in the declaration's current state, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionError {
    pub code: &'static str,
    pub message_en: String,
    pub message_zh: String,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_en)
    }
}

fn refuse(action_en: &str, action_zh: &str, state: &DeclarationState) -> TransitionError {
    let (status_en, status_zh) = match (state.status, &state.completed_by) {
        (_, Some(_)) => ("completed by a full declaration", "已由完整申报补全"),
        (DeclarationStatus::Accepted, None) => ("accepted", "已接受申报"),
        (DeclarationStatus::Released, None) => ("released", "已放行"),
        (DeclarationStatus::Cancelled, None) => ("cancelled", "已撤销"),
    };
    TransitionError {
        code: "invalid_state",
        message_en: format!(
            "declaration {} cannot be {action_en}: it is {status_en}",
            state.number
        ),
        message_zh: format!(
            "报关单 {} 不能{action_zh}：当前状态为{status_zh}",
            state.number
        ),
    }
}

impl DeclarationState {
    /// Starts the fold. Only an `Accepted` event can start a declaration's history.
    pub fn start(event: &DeclarationEvent) -> Option<DeclarationState> {
        let DeclarationEvent::Accepted {
            number,
            declaration,
        } = event
        else {
            return None;
        };
        Some(DeclarationState {
            number: number.clone(),
            status: DeclarationStatus::Accepted,
            declaration: (**declaration).clone(),
            version: 1,
            n_amendments: 0,
            completed_by: None,
        })
    }

    /// Whether `event` may follow in the current state.
    pub fn check(&self, event: &DeclarationEvent) -> Result<(), TransitionError> {
        let open = self.status == DeclarationStatus::Accepted && self.completed_by.is_none();
        match event {
            DeclarationEvent::Accepted { .. } => Err(refuse("accepted again", "重复接受", self)),
            DeclarationEvent::Amended { .. } if !open => Err(refuse("amended", "修改", self)),
            DeclarationEvent::Cancelled { .. } if !open => Err(refuse("cancelled", "撤销", self)),
            DeclarationEvent::Released { .. } if self.status != DeclarationStatus::Accepted => {
                Err(refuse("released", "放行", self))
            }
            DeclarationEvent::Completed { replaces, .. }
                if self.status == DeclarationStatus::Cancelled
                    || *replaces != self.completed_by =>
            {
                Err(refuse("completed", "补全", self))
            }
            DeclarationEvent::Completed { .. }
                if !matches!(self.declaration.kind, crate::DeclarationKind::Summary) =>
            {
                Err(refuse(
                    "completed (it is not a summary declaration)",
                    "补全（非概要申报）",
                    self,
                ))
            }
            _ => Ok(()),
        }
    }

    /// Applies an event already checked with `check`; asserts it, since applying an unchecked
    /// event is a programmer error, not a user error.
    pub fn apply(&mut self, event: &DeclarationEvent) {
        assert!(
            self.check(event).is_ok(),
            "apply() of an event that check() refuses: {}",
            event.name()
        );
        match event {
            DeclarationEvent::Accepted { .. } => unreachable!("refused by check"),
            DeclarationEvent::Amended { declaration, .. } => {
                self.declaration = (**declaration).clone();
                self.n_amendments += 1;
            }
            DeclarationEvent::Cancelled { .. } => self.status = DeclarationStatus::Cancelled,
            DeclarationEvent::Released { .. } => self.status = DeclarationStatus::Released,
            DeclarationEvent::Completed { full_number, .. } => {
                self.completed_by = Some(full_number.clone())
            }
        }
        self.version += 1;
    }

    /// Folds a whole history. `None` if it does not start with `Accepted` or breaks a rule.
    pub fn fold<'a>(
        events: impl IntoIterator<Item = &'a DeclarationEvent>,
    ) -> Option<DeclarationState> {
        let mut events = events.into_iter();
        let mut state = DeclarationState::start(events.next()?)?;
        for event in events {
            state.check(event).ok()?;
            state.apply(event);
        }
        Some(state)
    }
}
