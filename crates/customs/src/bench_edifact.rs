//! The `http-edifact` stage: the bench's lodgings rendered as CUSDEC interchanges (before the
//! stage, not timed) and POSTed with `Content-Type: application/edifact` to the API served in
//! this process, as the `http` stage POSTs them as JSON: the two rows of the table compare the
//! formats on the same declarations through the same lodging path.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use reqwest::header::{self, HeaderValue};

use super::{
    ApiServer, Bench, StageReport, assessment_note, assessments_since, http_client, last_seq,
    lodging_report, post, run_clients,
};

const STAGE: &str = "http-edifact";

/// The lodgings as interchanges, with a new key each (so new declarations).
fn interchanges(bench: &Bench) -> anyhow::Result<Vec<Bytes>> {
    bench
        .lodgings
        .iter()
        .enumerate()
        .map(|(index, lodging)| {
            let dto: wire::DeclarationDto = serde_json::from_slice(&lodging.body)
                .context("a bench lodging is the JSON form")?;
            let envelope = edifact::Envelope {
                sender: "BENCH".into(),
                recipient: "CNCUSTOMS".into(),
                reference: format!("B{index}"),
                date: "20261107".into(),
                time: "0930".into(),
            };
            edifact::render(&dto, &envelope)
                .map(Bytes::from)
                .map_err(|e| anyhow::anyhow!("lodging {index} as CUSDEC: {e}"))
        })
        .collect()
}

pub(super) async fn http_edifact(bench: &Bench) -> anyhow::Result<StageReport> {
    let bodies: Arc<[Bytes]> = interchanges(bench)?.into();
    let bytes: usize = bodies.iter().map(Bytes::len).sum();
    let json_bytes: usize = bench.lodgings.iter().map(|l| l.body.len()).sum();
    let keys: Arc<[HeaderValue]> = (0..bodies.len())
        .map(|i| {
            HeaderValue::from_str(&bench.idempotency_key(STAGE, i))
                .context("a key is a header value")
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into();
    let database = bench.data.database();
    let before = last_seq(&database).await?;
    let server = ApiServer::start(bench).await?;
    let url: Arc<str> = server.url.clone().into();
    let mut https = (0..bench.clients)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter();
    let client = || {
        let http = https.next().expect("one HTTP client per bench client");
        let (url, bodies, keys, lodgers, lodgings) = (
            url.clone(),
            bodies.clone(),
            keys.clone(),
            bench.lodgers.clone(),
            bench.lodgings.clone(),
        );
        move |index: usize| {
            let request = http
                .post(&*url)
                .header(
                    header::AUTHORIZATION,
                    lodgers[lodgings[index].lodger].authorization.clone(),
                )
                .header("idempotency-key", keys[index].clone())
                .header(header::CONTENT_TYPE, edifact::MEDIA_TYPE)
                .body(bodies[index].clone());
            async move { post(request).await }
        }
    };
    let posted = run_clients(bench.clients, bodies.len(), client).await;
    server.stop().await?;
    let (wall, samples) = posted?;
    let accepted = samples.iter().filter(|s| s.outcome.is_ok()).count();
    let tally = assessments_since(&database, before).await?;
    let note = format!(
        "{STAGE}: the http stage's declarations as CUSDEC D.96B interchanges (rendered before the \
         stage, not timed; {bytes} bytes against {json_bytes} as JSON), each read, mapped and \
         answered with a CUSRES by the server\n{}",
        assessment_note(bench, STAGE, accepted, &tally),
    );
    Ok(lodging_report(
        bench,
        STAGE,
        wall,
        samples,
        Some(note),
        Some(tally),
    ))
}
