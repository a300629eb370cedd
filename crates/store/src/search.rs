//! The search keys of a declaration's document (issue 14's `declaration_search` table): its bill
//! of lading, containers, invoice number, trader's name and every item's commodity code.
//!
//! Read here, in the caller's task, rather than by the database's JSON functions inside the
//! write: a store's writer is its one serial section, and parsing each ~3 KB document five times
//! there cost about 40 % of lodging throughput (measured in stop 22). The migrations that
//! backfill the table (SQLite 0008, PostgreSQL 0004) still read the keys with SQL, and a test per
//! store holds the two to the same answer, so this reading must keep their meaning: a key is a
//! non-empty JSON string at its place; anything else there (absent, null, a number) is no key.
//! (Only the shapes `wire` writes are read alike: where SQL's `json_each` would walk an object
//! in place of an array, this reading finds nothing.)

use serde::Deserialize;

use crate::{Append, Projection};

/// One search key of a declaration: `kind` is one of [`SEARCH_KINDS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchKey {
    pub kind: &'static str,
    pub value: String,
}

/// The kinds of search key, as the `kind` column stores them.
pub const SEARCH_KINDS: [&str; 5] = [
    "bill_of_lading",
    "container",
    "invoice",
    "commodity_code",
    "trader_name",
];

/// The keys one append's declarations will have once it is recorded: for each declaration it
/// lodges or amends (its document replaced), the declaration's id and its document's keys.
/// Other projections have none. Computed before the write so the writer only inserts rows.
#[derive(Debug, Clone, Default)]
pub struct SearchKeys {
    by_declaration: Vec<(String, Vec<SearchKey>)>,
}

impl SearchKeys {
    pub fn of_append(append: &Append) -> Self {
        let mut by_declaration = Vec::new();
        let payloads = std::iter::once((&append.projection, append.payload.as_str())).chain(
            append
                .linked
                .iter()
                .map(|linked| (&linked.projection, linked.payload.as_str())),
        );
        for (projection, payload) in payloads {
            match projection {
                Projection::NewDeclaration(row) => {
                    by_declaration.push((row.id.clone(), search_keys(&row.document)));
                }
                Projection::UpdateDeclaration(update) if update.replaces_document => {
                    by_declaration.push((update.id.clone(), payload_search_keys(payload)));
                }
                _ => {}
            }
        }
        Self { by_declaration }
    }

    /// The keys of `declaration_id`'s document as this append leaves it; `None` when the append
    /// does not write that declaration's document (then a store reads the keys itself).
    pub fn of(&self, declaration_id: &str) -> Option<&[SearchKey]> {
        self.by_declaration
            .iter()
            .rev()
            .find(|(id, _)| id == declaration_id)
            .map(|(_, keys)| keys.as_slice())
    }
}

/// The search keys of a declaration document (the JSON `wire` writes), without duplicates, in
/// order. Members not read are skipped unparsed. A document whose members read here have another
/// shape than `wire` writes (never one a store holds) has no keys.
pub fn search_keys(document: &str) -> Vec<SearchKey> {
    serde_json::from_str::<Document>(document)
        .map(Document::keys)
        .unwrap_or_default()
}

/// The keys of the `declaration` member of an event payload (an amendment carries its document
/// there).
pub fn payload_search_keys(payload: &str) -> Vec<SearchKey> {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        declaration: Option<Document>,
    }
    serde_json::from_str::<Payload>(payload)
        .ok()
        .and_then(|p| p.declaration)
        .map(Document::keys)
        .unwrap_or_default()
}

/// A JSON value read only for a non-empty string, as SQL's `typeof(value) = 'text' AND value <> ''`.
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) if !s.is_empty() => Text(Some(s)),
            _ => Text(None),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Numbered {
    number: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    name: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Transport {
    document: Option<Numbered>,
    containers: Option<Vec<Text>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Item {
    commodity_code: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Document {
    transport: Option<Transport>,
    invoice: Option<Numbered>,
    trader: Option<Named>,
    items: Option<Vec<Item>>,
}

impl Document {
    fn keys(self) -> Vec<SearchKey> {
        let mut keys = Vec::new();
        let mut push = |kind: &'static str, text: Text| {
            if let Some(value) = text.0 {
                keys.push(SearchKey { kind, value });
            }
        };
        if let Some(transport) = self.transport {
            if let Some(document) = transport.document {
                push("bill_of_lading", document.number);
            }
            for container in transport.containers.unwrap_or_default() {
                push("container", container);
            }
        }
        if let Some(invoice) = self.invoice {
            push("invoice", invoice.number);
        }
        if let Some(trader) = self.trader {
            push("trader_name", trader.name);
        }
        for item in self.items.unwrap_or_default() {
            push("commodity_code", item.commodity_code);
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(document: &str) -> Vec<(&'static str, String)> {
        search_keys(document)
            .into_iter()
            .map(|k| (k.kind, k.value))
            .collect()
    }

    #[test]
    fn every_kind_is_read_and_duplicates_are_one_key() {
        let document = r#"{"transport":{"document":{"kind":"bill_of_lading","number":"COSU1"},
            "containers":["MSCU1234565","MSCU1234565"]},"invoice":{"number":"INV-1"},
            "trader":{"name":"Acme"},"items":[{"commodity_code":"8471300000"},
            {"commodity_code":"8471300000"},{"commodity_code":"6403990000"}],"other":[1,2]}"#;
        assert_eq!(
            pairs(document),
            vec![
                ("bill_of_lading", "COSU1".to_owned()),
                ("commodity_code", "6403990000".to_owned()),
                ("commodity_code", "8471300000".to_owned()),
                ("container", "MSCU1234565".to_owned()),
                ("invoice", "INV-1".to_owned()),
                ("trader_name", "Acme".to_owned()),
            ]
        );
    }

    #[test]
    fn only_non_empty_strings_are_keys() {
        let document = r#"{"transport":{"document":{"number":""},"containers":[1,null,"C"]},
            "invoice":{"number":7},"trader":null,"items":[{"commodity_code":null}]}"#;
        assert_eq!(pairs(document), vec![("container", "C".to_owned())]);
        assert!(pairs("not json").is_empty());
        assert!(pairs("[1]").is_empty());
    }

    #[test]
    fn an_amendment_payload_carries_its_document() {
        let payload = r#"{"reason":"x","declaration":{"invoice":{"number":"I-2"}}}"#;
        let keys = payload_search_keys(payload);
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].kind, keys[0].value.as_str()), ("invoice", "I-2"));
        assert!(payload_search_keys(r#"{"reason":"x"}"#).is_empty());
    }
}
