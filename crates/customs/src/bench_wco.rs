//! The `http-wco` stage: the bench's declarations lodged over HTTP as WCO Data Model 3.6 XML
//! (rendered by the `wco` crate before the clock starts), through the same route and lodging path
//! as the `http` stage's JSON, by the same clients. Run both to read the two side by side:
//! `customs bench --stages http,http-wco`. The note says what the XML costs on the way in: the
//! mapping to the JSON form, then everything JSON lodging does.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use wire::DeclarationDto;

use super::{ApiServer, Bench, StageReport, http_client, lodging_report, post, run_clients};

/// The stage's name in `--stages`.
pub(super) const STAGE: &str = "http-wco";

pub(super) async fn http_wco(bench: &Bench) -> anyhow::Result<StageReport> {
    // The XML is made before the clock starts, as the JSON bodies were.
    let bodies: Vec<(Bytes, HeaderValue)> = bench
        .lodgings
        .iter()
        .enumerate()
        .map(|(index, lodging)| {
            let dto: DeclarationDto =
                serde_json::from_slice(&lodging.body).context("a bench body is a declaration")?;
            let key = bench.idempotency_key(STAGE, index);
            let xml = wco::render_declaration(&dto, Some(&key));
            Ok((Bytes::from(xml), HeaderValue::from_str(&key)?))
        })
        .collect::<anyhow::Result<_>>()?;
    let json_bytes: usize = bench.lodgings.iter().map(|l| l.body.len()).sum();
    let xml_bytes: usize = bodies.iter().map(|(b, _)| b.len()).sum();
    let bodies: Arc<[(Bytes, HeaderValue)]> = bodies.into();
    let server = ApiServer::start(bench).await?;
    let url = server.url.clone();
    let mut https = (0..bench.clients)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter();
    let client = || {
        let http = https.next().expect("one HTTP client per bench client");
        let (bodies, lodgings, lodgers, url) = (
            bodies.clone(),
            bench.lodgings.clone(),
            bench.lodgers.clone(),
            url.clone(),
        );
        move |index: usize| {
            let (body, key) = &bodies[index];
            let request = http
                .post(&url)
                .header(
                    header::AUTHORIZATION,
                    lodgers[lodgings[index].lodger].authorization.clone(),
                )
                .header("idempotency-key", key.clone())
                .header(header::CONTENT_TYPE, "application/xml")
                .body(body.clone());
            async move { post(request).await }
        }
    };
    let posted = run_clients(bench.clients, bench.lodgings.len(), client).await;
    server.stop().await?;
    let (wall, samples): (Duration, _) = posted?;
    let note = format!(
        "{STAGE}: the same declarations as WCO DM 3.6 XML (HMRC DMS schema, China profile), {:.1}x \
         the JSON bytes ({xml_bytes} against {json_bytes}); mapped by the wco crate to the JSON form, \
         then lodged as the http stage lodges (compare its row); answered with a DMSACC",
        xml_bytes as f64 / json_bytes.max(1) as f64,
    );
    Ok(lodging_report(
        bench,
        STAGE,
        wall,
        samples,
        Some(note),
        None,
    ))
}
