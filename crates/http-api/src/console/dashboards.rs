//! The supervisors' dashboards (`/console/dashboards`): declarations lodged per hour (per day over
//! a week or a month), the lane mix, the time from lodging to release, revenue assessed and
//! collected, open and overdue tasks per office, and targeting rules' hit rates, over a window of
//! the last 24 hours, 7 days or 30 days.
//!
//! Every chart is server-rendered SVG (no script, no inline style: fill attributes only) with a
//! `<title>`, and its numbers in a table beside it; the same numbers download as CSV
//! (`/console/dashboards/<chart>.csv?window=...`). The figures are the service's
//! (`Clearance::dashboard`, counted by the store with aggregate queries). Customs roles only
//! (`clearance::dashboards::may_see_dashboards`); anybody else gets the not-found page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clearance::Caller;
use clearance::dashboards::{
    DASHBOARD_WINDOW_DAYS_MAX, Dashboard, DashboardWindow, TASK_OVERDUE_HOURS, may_see_dashboards,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use store::Store;

use super::*;
use crate::AppState;
use crate::admission::HeavyJob;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/dashboards", get(dashboards_page::<S>))
        .route("/console/dashboards/{file}", get(chart_csv::<S>))
}

/// The charts, by the name of their CSV file.
pub const CHARTS: [&str; 7] = [
    "lodged",
    "lanes",
    "release-times",
    "revenue",
    "tasks",
    "rules",
    "continuity",
];

/// Width of a chart's drawing, in SVG units.
const CHART_WIDTH: i64 = 640;
/// Room left of horizontal bars for their labels.
const LABEL_WIDTH: i64 = 200;
/// Height of one horizontal bar and its gap.
const ROW_HEIGHT: i64 = 28;
/// Height of the drawing of vertical bars.
const COLUMNS_HEIGHT: i64 = 200;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DashboardQuery {
    lang: Option<String>,
    window: Option<String>,
}

/// One mark of a chart: a bar (`rect`) with its own `<title>`, and the label and value drawn
/// beside it.
pub(crate) struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub fill: &'static str,
    pub title: String,
    pub label: String,
    pub label_x: i64,
    pub label_y: i64,
    pub value: String,
    pub value_x: i64,
    pub value_y: i64,
}

pub(crate) struct Chart {
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    /// Vertical bars: their labels are too many to draw, the table names them.
    pub columns: bool,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub(crate) struct WindowLink {
    pub code: &'static str,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "console/dashboards.html")]
struct DashboardsPage {
    page: Page,
    windows: Vec<WindowLink>,
    window: &'static str,
    period: String,
    charts: Vec<Chart>,
    error: Option<String>,
}

/// A value's share of `max` in whole SVG units of `length` (exact arithmetic, no float).
fn scaled(value: Decimal, max: Decimal, length: i64) -> i64 {
    if max <= Decimal::ZERO || value <= Decimal::ZERO {
        return 0;
    }
    let share = value * Decimal::from(length) / max;
    share.round().try_into().unwrap_or(0).max(1)
}

/// Horizontal bars, one row per (label, value, shown value, colour).
fn horizontal(rows: &[(String, Decimal, String, &'static str)]) -> (Vec<Bar>, i64) {
    let max = rows.iter().map(|r| r.1).max().unwrap_or_default();
    let room = CHART_WIDTH - LABEL_WIDTH - 120;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, value, shown, fill))| {
            let y = i as i64 * ROW_HEIGHT + 4;
            let width = scaled(*value, max, room);
            Bar {
                x: LABEL_WIDTH,
                y,
                width,
                height: ROW_HEIGHT - 8,
                fill,
                title: format!("{label}: {shown}"),
                label: label.clone(),
                label_x: LABEL_WIDTH - 8,
                label_y: y + ROW_HEIGHT / 2 + 1,
                value: shown.clone(),
                value_x: LABEL_WIDTH + width + 6,
                value_y: y + ROW_HEIGHT / 2 + 1,
            }
        })
        .collect();
    (bars, (rows.len() as i64).max(1) * ROW_HEIGHT + 8)
}

/// Vertical bars over time, one per bucket.
fn vertical(rows: &[(String, u64)]) -> (Vec<Bar>, i64) {
    let max = Decimal::from(rows.iter().map(|r| r.1).max().unwrap_or(0));
    let n = (rows.len() as i64).max(1);
    let step = (CHART_WIDTH - 40) / n;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let height = scaled(Decimal::from(*value), max, COLUMNS_HEIGHT - 30);
            let x = 20 + i as i64 * step;
            Bar {
                x,
                y: COLUMNS_HEIGHT - 10 - height,
                width: (step - 2).max(1),
                height,
                fill: "#1d70b8",
                title: format!("{label}: {value}"),
                label: String::new(),
                label_x: 0,
                label_y: 0,
                value: String::new(),
                value_x: 0,
                value_y: 0,
            }
        })
        .collect();
    (bars, COLUMNS_HEIGHT)
}

fn lane_fill(lane: &str) -> &'static str {
    match lane {
        "green" => "#00703c",
        "yellow" => "#b58800",
        "red" => "#d4351c",
        _ => "#505a5f",
    }
}

/// `hits / checks` in percent to one decimal, exactly rounded; empty with no check.
fn percent(hits: u64, checks: u64) -> String {
    if checks == 0 {
        return String::new();
    }
    let rate = Decimal::from(hits) * Decimal::from(100) / Decimal::from(checks);
    let mut rate =
        rate.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rate.rescale(1);
    rate.to_string()
}

fn money(amount: Decimal) -> String {
    let mut amount = amount;
    amount.rescale(2);
    amount.to_string()
}

/// Every chart of a dashboard, in the page's language.
fn charts(tr: &Tr, dashboard: &Dashboard) -> Vec<Chart> {
    let mut charts = Vec::new();

    // Declarations lodged per bucket.
    let hourly = dashboard.window.bucket_hours() == 1;
    let format = if hourly { "%Y-%m-%d %H:%M" } else { "%Y-%m-%d" };
    let lodged: Vec<(String, u64)> = dashboard
        .lodged
        .iter()
        .map(|(start, n)| (start.format(format).to_string(), *n))
        .collect();
    let total: u64 = lodged.iter().map(|r| r.1).sum();
    let (bars, height) = vertical(&lodged);
    charts.push(Chart {
        id: "lodged",
        title: tr.t(if hourly {
            "dashboard-lodged-hourly"
        } else {
            "dashboard-lodged-daily"
        }),
        description: tr.with("dashboard-lodged-total", "count", &total.to_string()),
        width: CHART_WIDTH,
        height,
        bars,
        columns: true,
        headers: vec![
            tr.t(if hourly {
                "dashboard-col-hour"
            } else {
                "dashboard-col-day"
            }),
            tr.t("dashboard-col-declarations"),
        ],
        rows: lodged
            .iter()
            .map(|(label, n)| vec![label.clone(), n.to_string()])
            .collect(),
    });

    // The lane mix.
    let lanes: Vec<(String, Decimal, String, &'static str)> = dashboard
        .lanes
        .iter()
        .map(|(lane, n)| {
            (
                tr.of("dashboard-lane", lane),
                Decimal::from(*n),
                n.to_string(),
                lane_fill(lane),
            )
        })
        .collect();
    let (bars, height) = horizontal(&lanes);
    charts.push(Chart {
        id: "lanes",
        title: tr.t("dashboard-lanes"),
        description: tr.t("dashboard-lanes-hint"),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![
            tr.t("dashboard-col-lane"),
            tr.t("dashboard-col-declarations"),
        ],
        rows: dashboard
            .lanes
            .iter()
            .zip(&lanes)
            .map(|((_, n), (label, ..))| vec![label.clone(), n.to_string()])
            .collect(),
    });

    // Time from lodging to release.
    let classes: Vec<(String, Decimal, String, &'static str)> = dashboard
        .release_times
        .iter()
        .map(|(lower, upper, n)| {
            let label = match upper {
                Some(upper) if *lower == 0 => format!("< {upper} h"),
                Some(upper) => format!("{lower}–{upper} h"),
                None => format!("≥ {lower} h"),
            };
            (label, Decimal::from(*n), n.to_string(), "#1d70b8")
        })
        .collect();
    let (bars, height) = horizontal(&classes);
    charts.push(Chart {
        id: "release-times",
        title: tr.t("dashboard-release-times"),
        description: tr.t("dashboard-release-times-hint"),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![
            tr.t("dashboard-col-release-time"),
            tr.t("dashboard-col-declarations"),
        ],
        rows: classes
            .iter()
            .map(|(label, _, n, _)| vec![label.clone(), n.clone()])
            .collect(),
    });

    // Revenue.
    let revenue = [
        ("dashboard-revenue-assessed", dashboard.assessed, "#1d70b8"),
        (
            "dashboard-revenue-collected",
            dashboard.collected,
            "#00703c",
        ),
        (
            "dashboard-revenue-guaranteed",
            dashboard.guaranteed,
            "#505a5f",
        ),
    ];
    let rows: Vec<(String, Decimal, String, &'static str)> = revenue
        .iter()
        .map(|(id, amount, fill)| (tr.t(id), *amount, money(*amount), *fill))
        .collect();
    let (bars, height) = horizontal(&rows);
    charts.push(Chart {
        id: "revenue",
        title: tr.t("dashboard-revenue"),
        description: tr.with(
            "dashboard-revenue-hint",
            "count",
            &dashboard.assessed_declarations.to_string(),
        ),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![tr.t("dashboard-col-figure"), tr.t("dashboard-col-cny")],
        rows: rows
            .iter()
            .map(|(label, _, shown, _)| vec![label.clone(), shown.clone()])
            .collect(),
    });

    // Open and overdue tasks per office.
    let mut task_rows = Vec::new();
    for office in &dashboard.tasks {
        task_rows.push((
            tr.with("dashboard-office-open", "office", &office.office),
            Decimal::from(office.open),
            office.open.to_string(),
            "#1d70b8",
        ));
        task_rows.push((
            tr.with("dashboard-office-overdue", "office", &office.office),
            Decimal::from(office.overdue),
            office.overdue.to_string(),
            "#d4351c",
        ));
    }
    let (bars, height) = horizontal(&task_rows);
    charts.push(Chart {
        id: "tasks",
        title: tr.t("dashboard-tasks"),
        description: tr.with(
            "dashboard-tasks-hint",
            "hours",
            &TASK_OVERDUE_HOURS.to_string(),
        ),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![
            tr.t("col-office"),
            tr.t("dashboard-col-open"),
            tr.t("dashboard-col-overdue"),
        ],
        rows: dashboard
            .tasks
            .iter()
            .map(|t| vec![t.office.clone(), t.open.to_string(), t.overdue.to_string()])
            .collect(),
    });

    // Rules' hit rates.
    let rule_rows: Vec<(String, Decimal, String, &'static str)> = dashboard
        .rules
        .iter()
        .map(|r| {
            let rate = percent(r.hits, r.checks_closed);
            let value = rate.parse::<Decimal>().unwrap_or_default();
            let shown = if rate.is_empty() {
                "–".to_owned()
            } else {
                format!("{rate} %")
            };
            (r.rule.clone(), value, shown, "#4c2c92")
        })
        .collect();
    let (bars, height) = horizontal(&rule_rows);
    charts.push(Chart {
        id: "rules",
        title: tr.t("dashboard-rules"),
        description: tr.t("dashboard-rules-hint"),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![
            tr.t("dashboard-col-rule"),
            tr.t("dashboard-col-matches"),
            tr.t("dashboard-col-selections"),
            tr.t("dashboard-col-checks"),
            tr.t("dashboard-col-hits"),
            tr.t("dashboard-col-hit-rate"),
        ],
        rows: dashboard
            .rules
            .iter()
            .map(|r| {
                vec![
                    r.rule.clone(),
                    r.matches.to_string(),
                    r.selections.to_string(),
                    r.checks_closed.to_string(),
                    r.hits.to_string(),
                    percent(r.hits, r.checks_closed),
                ]
            })
            .collect(),
    });

    // Declarations received in continuity, per office.
    let continuity_rows: Vec<(String, Decimal, String, &'static str)> = dashboard
        .continuity
        .iter()
        .map(|(office, count)| {
            (
                office.clone(),
                Decimal::from(*count),
                count.to_string(),
                "#f47738",
            )
        })
        .collect();
    let (bars, height) = horizontal(&continuity_rows);
    charts.push(Chart {
        id: "continuity",
        title: tr.t("dashboard-continuity"),
        description: tr.t("dashboard-continuity-hint"),
        width: CHART_WIDTH,
        height,
        bars,
        columns: false,
        headers: vec![tr.t("col-office"), tr.t("dashboard-col-continuity")],
        rows: dashboard
            .continuity
            .iter()
            .map(|(office, count)| vec![office.clone(), count.to_string()])
            .collect(),
    });
    charts
}

/// A dashboard visitor: a customs role, or the answer instead (the log-in page, not found).
async fn dashboard_visit<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    query: &DashboardQuery,
    path: &str,
) -> Result<(Visit, Caller), Response> {
    let language = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(headers, &language, path);
    let caller = signed_in(state, headers).await?;
    if !may_see_dashboards(caller.role) {
        return Err(not_found(&visit, Some(user_bar(&caller))));
    }
    Ok((visit, caller))
}

/// The window asked for (default: the last 24 hours), or `Err` for one that is not offered.
fn window_of(query: &DashboardQuery) -> Result<DashboardWindow, String> {
    match query.window.as_deref() {
        None | Some("") => Ok(DashboardWindow::Day),
        Some(raw) => DashboardWindow::parse(raw).ok_or_else(|| raw.to_owned()),
    }
}

async fn figures<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    window: DashboardWindow,
) -> Result<Dashboard, Response> {
    let _permit = state
        .jobs
        .admit(HeavyJob::Statistics, caller.user_id())
        .map_err(IntoResponse::into_response)?;
    state
        .clearance
        .dashboard(caller, window)
        .await
        .map_err(|e| crate::problem::ApiError::from(e).into_response())
}

fn window_links(tr: &Tr, current: Option<DashboardWindow>) -> Vec<WindowLink> {
    DashboardWindow::ALL
        .iter()
        .map(|w| WindowLink {
            code: w.as_str(),
            label: tr.of("dashboard-window", w.as_str()),
            current: Some(*w) == current,
        })
        .collect()
}

pub(crate) async fn dashboards_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<DashboardQuery>,
) -> Response {
    let (visit, caller) =
        match dashboard_visit(&state, &headers, &query, "/console/dashboards").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let window = match window_of(&query) {
        Ok(window) => window,
        Err(_) => {
            let page = DashboardsPage {
                page: visit.page(Some(user_bar(&caller))),
                windows: window_links(&tr, None),
                window: "",
                period: String::new(),
                charts: Vec::new(),
                error: Some(tr.with(
                    "dashboard-window-unknown",
                    "days",
                    &DASHBOARD_WINDOW_DAYS_MAX.to_string(),
                )),
            };
            return respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.render(),
                visit.cookies.clone(),
            );
        }
    };
    let dashboard = match figures(&state, &caller, window).await {
        Ok(dashboard) => dashboard,
        Err(response) => return response,
    };
    let mut args = FluentArgs::new();
    args.set("from", dashboard.from.format("%Y-%m-%d %H:%M").to_string());
    args.set("to", dashboard.to.format("%Y-%m-%d %H:%M %:z").to_string());
    let page = DashboardsPage {
        page: visit.page(Some(user_bar(&caller))),
        windows: window_links(&tr, Some(window)),
        window: window.as_str(),
        period: tr.format("dashboard-period", Some(&args)),
        charts: charts(&tr, &dashboard),
        error: None,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// A CSV field, quoted when it must be (RFC 4180); a leading formula character is defused.
fn csv_field(text: &str) -> String {
    let defused = match text.chars().next() {
        Some('=' | '+' | '@') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// A chart's table as CSV: the header row, then its rows, CRLF-terminated.
pub(crate) fn csv_of(chart: &Chart) -> String {
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    let mut out = line(&chart.headers);
    for row in &chart.rows {
        out.push_str(&line(row));
    }
    out
}

/// `/console/dashboards/<chart>.csv?window=...`: the numbers of one chart, as its table shows
/// them.
pub(crate) async fn chart_csv<S: Store>(
    State(state): State<AppState<S>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    Query(query): Query<DashboardQuery>,
) -> Response {
    let path = format!("/console/dashboards/{file}");
    let (visit, caller) = match dashboard_visit(&state, &headers, &query, &path).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let Some(name) = file
        .strip_suffix(".csv")
        .filter(|name| CHARTS.contains(name))
    else {
        return not_found(&visit, Some(user_bar(&caller)));
    };
    let Ok(window) = window_of(&query) else {
        return not_found(&visit, Some(user_bar(&caller)));
    };
    let dashboard = match figures(&state, &caller, window).await {
        Ok(dashboard) => dashboard,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let Some(chart) = charts(&tr, &dashboard).into_iter().find(|c| c.id == name) else {
        return not_found(&visit, Some(user_bar(&caller)));
    };
    let mut response = csv_of(&chart).into_response();
    let response_headers = response.headers_mut();
    secure(response_headers);
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"dashboard-{name}-{}.csv\"",
        window.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response_headers.insert(header::CONTENT_DISPOSITION, value);
    }
    for cookie in visit.cookies {
        response_headers.append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(
            csv_field("-1.50"),
            "-1.50",
            "a negative amount stays a number"
        );
    }

    #[test]
    fn bars_scale_exactly_and_a_non_zero_value_is_never_invisible() {
        let max = Decimal::from(1000);
        assert_eq!(scaled(Decimal::from(1000), max, 300), 300);
        assert_eq!(scaled(Decimal::from(500), max, 300), 150);
        assert_eq!(scaled(Decimal::from(1), max, 300), 1);
        assert_eq!(scaled(Decimal::ZERO, max, 300), 0);
        assert_eq!(scaled(Decimal::ONE, Decimal::ZERO, 300), 0);
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(2, 3), "66.7");
        assert_eq!(percent(0, 0), "");
        assert_eq!(percent(1, 1), "100.0");
        assert_eq!(percent(0, 4), "0.0");
        assert_eq!(money(Decimal::new(12345, 2)), "123.45");
        assert_eq!(money(Decimal::from(7)), "7.00");
    }
}
