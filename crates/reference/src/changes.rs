//! What a new release of a code list changes against the one in force: the administrator's dry
//! run reads it before activating.

use crate::{CodeEntry, CodeList};

/// The differences between two releases of one code list, each in code order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeListChanges {
    /// Codes only the new release has.
    pub added: Vec<CodeEntry>,
    /// Codes only the release in force has: declarations using them are refused once the new
    /// release is in force.
    pub removed: Vec<CodeEntry>,
    /// Codes in both whose English or Chinese name differs: (in force, new).
    pub renamed: Vec<(CodeEntry, CodeEntry)>,
    /// Codes in both, same names, whose own validity dates differ: (in force, new).
    pub redated: Vec<(CodeEntry, CodeEntry)>,
}

impl CodeListChanges {
    /// Compares `new` with `current` (the release in force; `None` when there is none, so every
    /// code is added).
    pub fn between(current: Option<&CodeList>, new: &CodeList) -> CodeListChanges {
        let mut changes = CodeListChanges::default();
        for entry in new.entries() {
            match current.and_then(|list| list.get(&entry.code)) {
                None => changes.added.push(entry.clone()),
                Some(old) if old.name_en != entry.name_en || old.name_zh != entry.name_zh => {
                    changes.renamed.push((old.clone(), entry.clone()))
                }
                Some(old)
                    if old.valid_from != entry.valid_from || old.valid_to != entry.valid_to =>
                {
                    changes.redated.push((old.clone(), entry.clone()))
                }
                Some(_) => {}
            }
        }
        if let Some(current) = current {
            changes.removed = current
                .entries()
                .filter(|entry| new.get(&entry.code).is_none())
                .cloned()
                .collect();
        }
        changes
    }

    /// Whether the new release changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.renamed.is_empty()
            && self.redated.is_empty()
    }
}
