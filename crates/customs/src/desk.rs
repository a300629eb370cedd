//! Where a desk command works: on the data folder's store, or on a running server over its API
//! (`--server`, a profile). A [`Desk`] makes the same calls either way and answers the same types
//! (the service's views and values, which the API serialises as they are), so each command has
//! one way of printing its answer, table or `--json`, whichever side answered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use clearance::{Caller, Clearance, ClearanceConfig, ClearanceError};
use serde_json::{Value, json};
use store_sqlite::SqliteStore;
use wire::{DeclarationPage, DeclarationView, EventsAnswer, LodgementView};

use crate::datadir::DataDir;
use crate::remote::{Remote, refused_status};

/// Where the commands work, from the configuration.
pub enum Place {
    /// The data folder's SQLite store (it must exist).
    Folder(DataDir),
    /// A running server.
    Server {
        server: String,
        ca_file: Option<PathBuf>,
    },
}

/// Where the commands work and the token file the configuration names, if any.
pub struct Site {
    pub place: Place,
    pub token_file: Option<PathBuf>,
}

impl Site {
    /// The desk of the caller whose token is `explicit` or in the token file.
    pub async fn desk(
        &self,
        config: ClearanceConfig,
        explicit: Option<String>,
        access: Access,
    ) -> anyhow::Result<Desk> {
        let token = token(explicit, self.token_file.as_ref())?;
        Desk::open(&self.place, config, token, access).await
    }
}

/// Whether a command writes: on the folder, a writer (with its lock) or a read-only store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The token of the caller: `--token` / `CUSTOMS_TOKEN` first, else the token file
/// (`client.token_file`, or a profile's `token_file`).
pub fn token(explicit: Option<String>, token_file: Option<&PathBuf>) -> anyhow::Result<String> {
    if let Some(token) = explicit.filter(|t| !t.trim().is_empty()) {
        return Ok(token);
    }
    match token_file {
        Some(path) => crate::remote::read_token_file(path),
        None => anyhow::bail!(
            "this command needs a token: --token, CUSTOMS_TOKEN, --token-file or a profile's \
             token_file / 此命令需要令牌：--token、CUSTOMS_TOKEN、--token-file 或配置档的 token_file"
        ),
    }
}

/// The same calls on the folder's store (as the token's user) or on a server.
#[derive(Clone)]
pub enum Desk {
    Local {
        clearance: Arc<Clearance<SqliteStore>>,
        caller: Box<Caller>,
    },
    Remote(Remote),
}

impl Desk {
    /// The desk of the token's user: on the folder, the store opened for `access`, the user
    /// authenticated like over HTTP.
    pub async fn open(
        place: &Place,
        config: ClearanceConfig,
        token: String,
        access: Access,
    ) -> anyhow::Result<Desk> {
        match place {
            Place::Server { server, ca_file } => Ok(Desk::Remote(Remote::new(
                server,
                ca_file.as_deref(),
                token,
            )?)),
            Place::Folder(data) => {
                let clearance = match access {
                    Access::Write => {
                        data.open_clearance(store_sqlite::SqliteOptions::production(), config)?
                    }
                    Access::Read => data.open_clearance_read_only(config)?,
                };
                match clearance.authenticate(&token).await {
                    Ok(caller) => Ok(Desk::Local {
                        clearance,
                        caller: Box::new(caller),
                    }),
                    Err(error) => {
                        clearance.store().close().await;
                        Err(crate::show::explain(error))
                    }
                }
            }
        }
    }

    /// The folder's reader with an administrator's view and no token (`customs show` on the
    /// folder).
    pub fn local_reader(data: &DataDir, config: ClearanceConfig) -> anyhow::Result<Desk> {
        Ok(Desk::Local {
            clearance: data.open_clearance_read_only(config)?,
            caller: Box::new(crate::show::operator()),
        })
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Desk::Remote(_))
    }

    /// Closes the folder's store (its writer flushes and signs its checkpoint).
    pub async fn close(&self) {
        if let Desk::Local { clearance, .. } = self {
            clearance.store().close().await;
        }
    }

    pub async fn lodge(&self, key: &str, body: &[u8]) -> anyhow::Result<LodgementView> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.lodge(caller, Some(key), body).await?)
            }
            Desk::Remote(r) => r.post("/v1/declarations", Some(key), body.to_vec()).await,
        }
    }

    pub async fn declaration(&self, number: &str) -> anyhow::Result<DeclarationView> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.declaration(caller, number).await?),
            Desk::Remote(r) => r.get(&declaration_path(number, ""), &[]).await,
        }
    }

    pub async fn events(&self, number: &str) -> anyhow::Result<EventsAnswer> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.events(caller, number).await?),
            Desk::Remote(r) => r.get(&declaration_path(number, "/events"), &[]).await,
        }
    }

    pub async fn assessments(&self, number: &str) -> anyhow::Result<Vec<Value>> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.assessments(caller, number).await?),
            Desk::Remote(r) => {
                let mut list: Value = r
                    .get(&declaration_path(number, "/assessments"), &[])
                    .await?;
                Ok(member(&mut list, "assessments"))
            }
        }
    }

    /// The selection at acceptance; `None` for a declaration accepted before targeting existed.
    pub async fn selection(&self, number: &str) -> anyhow::Result<Option<Value>> {
        let found = match self {
            Desk::Local { clearance, caller } => match clearance.selection(caller, number).await {
                Err(ClearanceError::NotFound) => return Ok(None),
                other => other.map_err(anyhow::Error::from),
            },
            Desk::Remote(r) => r.get(&declaration_path(number, "/selection"), &[]).await,
        };
        match found {
            Ok(selection) => Ok(Some(selection)),
            Err(error) if refused_status(&error) == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn scores(&self, number: &str) -> anyhow::Result<Option<Value>> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.scores(caller, number).await?),
            Desk::Remote(r) => {
                let scores: Value = r.get(&declaration_path(number, "/scores"), &[]).await?;
                Ok((!scores.is_null()).then_some(scores))
            }
        }
    }

    /// Users' names by id, for people to read; an id the directory does not know (or a caller
    /// who may not look) is shown as it is, on the folder and over the API alike.
    pub async fn names(&self, ids: &[String]) -> HashMap<String, String> {
        match self {
            Desk::Local { clearance, caller } => {
                crate::show::names_of(clearance, caller, ids).await
            }
            Desk::Remote(r) => {
                // The ids the folder's lookup would consider: the first ones, each once.
                let mut distinct: Vec<&String> = ids
                    .iter()
                    .take(clearance::directory::ACTOR_NAMES_MAX)
                    .filter(|id| !id.is_empty())
                    .collect();
                distinct.sort();
                distinct.dedup();
                if distinct.is_empty() {
                    return HashMap::new();
                }
                let query: Vec<(&str, String)> =
                    distinct.into_iter().map(|id| ("id", id.clone())).collect();
                match r.get::<Value>("/v1/directory/names", &query).await {
                    Ok(answer) => answer["names"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|(id, name)| Some((id.clone(), name.as_str()?.to_owned())))
                        .collect(),
                    Err(_) => HashMap::new(),
                }
            }
        }
    }

    pub async fn payments(&self, number: &str) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.payments(caller, number).await?),
            Desk::Remote(r) => r.get(&declaration_path(number, "/payments"), &[]).await,
        }
    }

    pub async fn record_payment(
        &self,
        number: &str,
        key: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.record_payment(caller, number, key, &body).await?)
            }
            Desk::Remote(r) => {
                r.post(&declaration_path(number, "/payments"), key, body)
                    .await
            }
        }
    }

    pub async fn release(
        &self,
        number: &str,
        key: Option<&str>,
        body: Value,
    ) -> anyhow::Result<DeclarationView> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.release(caller, number, key, &body).await?)
            }
            Desk::Remote(r) => {
                r.post(&declaration_path(number, "/release"), key, body)
                    .await
            }
        }
    }

    pub async fn place_hold(
        &self,
        number: &str,
        key: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.place_hold(caller, number, key, &body).await?)
            }
            Desk::Remote(r) => r.post(&declaration_path(number, "/hold"), key, body).await,
        }
    }

    pub async fn tasks(
        &self,
        mine: bool,
        office: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<Value>> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.tasks(caller, mine, office, status, limit).await?)
            }
            Desk::Remote(r) => {
                let mut query = vec![("mine", mine.to_string()), ("limit", limit.to_string())];
                query.extend(office.map(|o| ("office", o.to_owned())));
                query.extend(status.map(|s| ("status", s.to_owned())));
                let mut list: Value = r.get("/v1/tasks", &query).await?;
                Ok(member(&mut list, "tasks"))
            }
        }
    }

    pub async fn record_finding(
        &self,
        task: &str,
        key: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.record_finding(caller, task, key, body).await?)
            }
            Desk::Remote(r) => {
                let path = format!("/v1/tasks/{}/finding", Remote::segment(task));
                r.post(&path, key, body.to_vec()).await
            }
        }
    }

    pub async fn decide_modification(
        &self,
        number: &str,
        request: &str,
        key: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => Ok(clearance
                .decide_modification(caller, number, request, key, &body)
                .await?),
            Desk::Remote(r) => {
                let path = declaration_path(
                    number,
                    &format!(
                        "/modification-requests/{}/decision",
                        Remote::segment(request)
                    ),
                );
                r.post(&path, key, body).await
            }
        }
    }

    /// The manual assessment's record.
    pub async fn assess_manually(
        &self,
        number: &str,
        key: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => Ok(clearance
                .assess_manually(caller, number, key, &body)
                .await?
                .record),
            Desk::Remote(r) => {
                r.post(&declaration_path(number, "/assessments/manual"), key, body)
                    .await
            }
        }
    }

    pub async fn add_attachment(
        &self,
        task: &str,
        file_name: &str,
        content: Vec<u8>,
        key: Option<&str>,
    ) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance
                .add_attachment(caller, task, file_name, None, &content, key)
                .await?),
            Desk::Remote(r) => {
                let path = format!("/v1/tasks/{}/attachments", Remote::segment(task));
                r.send_body(
                    reqwest::Method::POST,
                    &path,
                    &[("file_name", file_name.to_owned())],
                    key,
                    content,
                    // None: the server reads the kind from the content, as the folder's store
                    // does (a type given that the content disagrees with is refused).
                    None,
                )
                .await
            }
        }
    }

    pub async fn set_duty(&self, office: Option<&str>) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.set_duty(caller, office).await?),
            Desk::Remote(r) => match office {
                Some(office) => {
                    let body = json!({ "office": office }).to_string().into_bytes();
                    r.send_body(
                        reqwest::Method::PUT,
                        "/v1/duty",
                        &[],
                        None,
                        body,
                        Some("application/json"),
                    )
                    .await
                }
                None => r.delete("/v1/duty").await,
            },
        }
    }

    pub async fn duty_roster(&self, office: Option<&str>) -> anyhow::Result<Vec<Value>> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.duty_roster(caller, office).await?),
            Desk::Remote(r) => {
                let query: Vec<_> = office
                    .map(|o| ("office", o.to_owned()))
                    .into_iter()
                    .collect();
                let mut roster: Value = r.get("/v1/duty", &query).await?;
                Ok(member(&mut roster, "on_duty"))
            }
        }
    }

    pub async fn propose_rule(&self, body: &[u8]) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.propose_rule(caller, body).await?),
            Desk::Remote(r) => r.post("/v1/rules", None, body.to_vec()).await,
        }
    }

    pub async fn test_rule(&self, body: &[u8], sample: usize) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.test_rule(caller, body, sample).await?)
            }
            Desk::Remote(r) => {
                r.send_body(
                    reqwest::Method::POST,
                    "/v1/rules/test",
                    &[("sample", sample.to_string())],
                    None,
                    body.to_vec(),
                    Some("application/json"),
                )
                .await
            }
        }
    }

    pub async fn backtest_rule(
        &self,
        body: &[u8],
        from: &str,
        to: &str,
        source: &str,
    ) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance
                .backtest_rule(caller, body, from, to, Some(source))
                .await?),
            Desk::Remote(r) => {
                r.send_body(
                    reqwest::Method::POST,
                    "/v1/rules/backtest",
                    &[
                        ("from", from.to_owned()),
                        ("to", to.to_owned()),
                        ("source", source.to_owned()),
                    ],
                    None,
                    body.to_vec(),
                    Some("application/json"),
                )
                .await
            }
        }
    }

    pub async fn approve_rule(&self, id: &str, version: u32) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.approve_rule(caller, id, version).await?)
            }
            Desk::Remote(r) => {
                let path = format!(
                    "/v1/rules/{}/versions/{version}/approval",
                    Remote::segment(id)
                );
                r.post(&path, None, Vec::new()).await
            }
        }
    }

    pub async fn retire_rule(&self, id: &str, version: u32, reason: &str) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.retire_rule(caller, id, version, reason).await?)
            }
            Desk::Remote(r) => {
                let path = format!(
                    "/v1/rules/{}/versions/{version}/retirement",
                    Remote::segment(id)
                );
                let body = json!({ "reason": reason }).to_string().into_bytes();
                r.post(&path, None, body).await
            }
        }
    }

    pub async fn rules(&self, status: Option<&str>) -> anyhow::Result<Vec<Value>> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.rules(caller, status).await?),
            Desk::Remote(r) => {
                let query: Vec<_> = status
                    .map(|s| ("status", s.to_owned()))
                    .into_iter()
                    .collect();
                let mut list: Value = r.get("/v1/rules", &query).await?;
                Ok(member(&mut list, "rules"))
            }
        }
    }

    pub async fn add_watch_entry(&self, body: Value) -> anyhow::Result<Value> {
        let body = body.to_string().into_bytes();
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.add_watch_entry(caller, &body).await?)
            }
            Desk::Remote(r) => r.post("/v1/watch-list", None, body).await,
        }
    }

    pub async fn approve_watch_entry(&self, id: &str) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.approve_watch_entry(caller, id).await?)
            }
            Desk::Remote(r) => {
                let path = format!("/v1/watch-list/{}/approval", Remote::segment(id));
                r.post(&path, None, Vec::new()).await
            }
        }
    }

    pub async fn remove_watch_entry(&self, id: &str, reason: &str) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.remove_watch_entry(caller, id, reason).await?)
            }
            Desk::Remote(r) => {
                let path = format!("/v1/watch-list/{}/removal", Remote::segment(id));
                let body = json!({ "reason": reason }).to_string().into_bytes();
                r.post(&path, None, body).await
            }
        }
    }

    pub async fn watch_entries(&self) -> anyhow::Result<Vec<Value>> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.watch_entries(caller).await?),
            Desk::Remote(r) => {
                let mut list: Value = r.get("/v1/watch-list", &[]).await?;
                Ok(member(&mut list, "entries"))
            }
        }
    }

    pub async fn release_times(
        &self,
        from: &str,
        to: &str,
        office: Option<&str>,
    ) -> anyhow::Result<Value> {
        match self {
            Desk::Local { clearance, caller } => {
                Ok(clearance.release_times(caller, from, to, office).await?)
            }
            Desk::Remote(r) => {
                let mut query = vec![("from", from.to_owned()), ("to", to.to_owned())];
                query.extend(office.map(|o| ("office", o.to_owned())));
                r.get("/v1/statistics/release-times", &query).await
            }
        }
    }

    /// Declarations visible to the caller that match the filter (`customs search`).
    pub async fn list(&self, filter: &clearance::ListFilter) -> anyhow::Result<DeclarationPage> {
        match self {
            Desk::Local { clearance, caller } => Ok(clearance.list(caller, filter).await?),
            Desk::Remote(r) => r.get("/v1/declarations", &list_query(filter)).await,
        }
    }
}

/// The listing's query parameters, by the names `GET /v1/declarations` reads.
fn list_query(filter: &clearance::ListFilter) -> Vec<(&'static str, String)> {
    let texts = [
        ("status", &filter.status),
        ("kind", &filter.kind),
        ("direction", &filter.direction),
        ("office_of_lodging", &filter.office_of_lodging),
        ("trader_credit_code", &filter.trader_credit_code),
        ("lodged_from", &filter.lodged_from),
        ("lodged_to", &filter.lodged_to),
        ("cursor", &filter.cursor),
        ("bill_of_lading", &filter.bill_of_lading),
        ("container", &filter.container),
        ("invoice", &filter.invoice),
        ("commodity_code", &filter.commodity_code),
        ("trader_name", &filter.trader_name),
    ];
    let mut query: Vec<(&'static str, String)> = texts
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.clone()?)))
        .collect();
    query.extend(filter.limit.map(|limit| ("limit", limit.to_string())));
    query
}

fn declaration_path(number: &str, rest: &str) -> String {
    format!("/v1/declarations/{}{rest}", Remote::segment(number))
}

/// A list the API wraps in an object (`{"tasks": [...]}`), as the service answers it.
fn member(envelope: &mut Value, name: &str) -> Vec<Value> {
    match envelope.get_mut(name).map(Value::take) {
        Some(Value::Array(values)) => values,
        _ => Vec::new(),
    }
}

/// A refusal told in both languages: the service's (every field error named), "not found" as
/// `not_found` says when given; a server's problem as it came.
pub fn told(error: anyhow::Error, not_found: Option<String>) -> anyhow::Error {
    match error.downcast::<ClearanceError>() {
        Ok(ClearanceError::NotFound) if not_found.is_some() => {
            anyhow::anyhow!(not_found.expect("checked"))
        }
        Ok(ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        }) if errors.is_empty() => anyhow::anyhow!("{message_en} / {message_zh}"),
        Ok(other) => crate::show::explain(other),
        Err(error) => error,
    }
}
