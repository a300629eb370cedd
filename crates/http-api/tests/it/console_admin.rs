//! The administrator's console pages through HTTP as a browser sees them: every action through
//! its form (releases imported with their validation report, tried, activated and rolled back;
//! users, passwords, tokens, enterprises, credit levels, broker authorisations), CSRF on every
//! form, and the not-found page for anybody who is not an administrator.

use reqwest::StatusCode;
use store::Store;

pub(crate) use crate::browser::{PASSWORD, Page, Visitor, with_passwords};
use crate::helpers::{BROKER, OTHER_TRADER, TRADER, TestApp, example, sample_file, spawn_app_at};

pub(crate) const NOW: &str = "2026-11-27T02:00:00Z";

impl Visitor {
    /// A release's files uploaded (`files`, each with its file name) with kind and label.
    async fn upload_release(&mut self, kind: &str, label: &str, files: &[(&str, String)]) -> Page {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", self.csrf())
            .text("kind", kind.to_owned())
            .text("label", label.to_owned());
        for (name, text) in files {
            form = form.part(
                "files",
                reqwest::multipart::Part::text(text.clone()).file_name(name.to_string()),
            );
        }
        let request = self
            .http
            .post(format!("{}/console/admin/releases", self.base))
            .multipart(form);
        self.send(request).await
    }

    /// Signs in as `name` (whose password is [`PASSWORD`]), in English.
    pub(crate) async fn sign_in_in_english(&mut self, name: &str) -> Page {
        self.get("/console/login?lang=en").await;
        let page = self.sign_in(name, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name} signs in");
        page
    }
}

async fn admin_of(app: &TestApp) -> Visitor {
    with_passwords(app, &["admin"]).await;
    let mut admin = Visitor::new(app);
    admin.sign_in_in_english("admin").await;
    admin
}

const PAGES: [&str; 7] = [
    "/console/admin/releases",
    "/console/admin/releases/TR-0001",
    "/console/admin/releases/TR-0001/dry-run?sample=1",
    "/console/admin/users",
    "/console/admin/tokens",
    "/console/admin/enterprises",
    "/console/admin",
];

const FORMS: [(&str, &[(&str, &str)]); 9] = [
    (
        "/console/admin/users",
        &[("name", "intruder"), ("role", "admin")],
    ),
    (
        "/console/admin/users/disablement",
        &[("user", "officer"), ("reason", "x")],
    ),
    (
        "/console/admin/users/password",
        &[("user", "officer"), ("password", "a long enough one")],
    ),
    (
        "/console/admin/tokens",
        &[("user", "officer"), ("days", "5")],
    ),
    ("/console/admin/tokens/revocation", &[("id", "T-0")]),
    (
        "/console/admin/enterprises",
        &[
            ("credit_code", TRADER),
            ("customs_code", "3115960002"),
            ("name", "x"),
        ],
    ),
    (
        "/console/admin/credit",
        &[
            ("credit_code", TRADER),
            ("level", "untrustworthy"),
            ("reason", "x"),
        ],
    ),
    (
        "/console/admin/brokers",
        &[
            ("principal", TRADER),
            ("broker", BROKER),
            ("action", "grant"),
        ],
    ),
    (
        "/console/admin/releases/rollback",
        &[("kind", "tariff"), ("reason", "x")],
    ),
];

#[tokio::test]
async fn only_administrators_reach_the_administration_pages_and_forms() {
    let app = spawn_app_at(NOW).await;
    let users = ["officer", "broker", "auditor", "risk_analyst", "declarant"];
    with_passwords(&app, &users).await;
    for user in users {
        let mut visitor = Visitor::new(&app);
        let home = visitor.sign_in_in_english(user).await;
        assert_eq!(home.status, StatusCode::SEE_OTHER);
        let list = visitor.get("/console/declarations").await;
        assert!(
            !list.body.contains("/console/admin"),
            "{user}: no link to administration"
        );
        for path in PAGES {
            let page = visitor.get(path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{user} {path}");
            assert!(page.body.contains("Page not found"), "{user} {path}");
        }
        for (path, form) in FORMS {
            let page = visitor.submit(path, form).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{user} posts {path}");
        }
    }
    // Nothing was done by any of them.
    let officer = app.clearance.store().user_by_name("officer").await.unwrap();
    assert_eq!(officer.unwrap().disabled_seq, None);
    assert_eq!(
        app.clearance.store().credit_level(TRADER).await.unwrap(),
        None
    );
    assert!(
        app.clearance
            .store()
            .user_by_name("intruder")
            .await
            .unwrap()
            .is_none()
    );
    // Without a session: the log-in page.
    let mut anonymous = Visitor::new(&app);
    let page = anonymous.get("/console/admin/users").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    let mut admin = admin_of(&app).await;
    let list = admin.get("/console/declarations").await;
    assert!(
        list.body
            .contains(r#"<a href="/console/admin">Administration</a>"#)
    );
    for path in PAGES {
        let page = admin.get(path).await;
        assert!(
            [StatusCode::OK, StatusCode::SEE_OTHER, StatusCode::NOT_FOUND].contains(&page.status),
            "{path}"
        );
        assert!(!page.body.contains("style="), "{path}: no inline style");
    }
    let chinese = admin.get("/console/admin/users?lang=zh").await;
    assert!(chinese.body.contains("系统管理"));
    assert!(chinese.body.contains("新建用户"));
}

#[tokio::test]
async fn every_administration_form_needs_its_csrf_token() {
    let app = spawn_app_at(NOW).await;
    let mut admin = admin_of(&app).await;
    for (path, form) in FORMS {
        let forged = admin.post(path, form).await;
        assert_eq!(
            forged.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        let mut wrong = form.to_vec();
        wrong.push((
            "csrf",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ));
        let forged = admin.post(path, &wrong).await;
        assert_eq!(
            forged.status,
            StatusCode::FORBIDDEN,
            "{path} with another token"
        );
    }
    assert!(
        app.clearance
            .store()
            .user_by_name("intruder")
            .await
            .unwrap()
            .is_none()
    );
    // The release upload too.
    let mut form = reqwest::multipart::Form::new().text("kind", "exchange_rates");
    form = form.part(
        "files",
        reqwest::multipart::Part::text(sample_file("exchange_rates.csv"))
            .file_name("exchange_rates.csv"),
    );
    let request = admin
        .http
        .post(format!("{}/console/admin/releases", admin.base))
        .multipart(form);
    let forged = admin.send(request).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let releases = app.get("/v1/releases?kind=exchange_rates", "admin").await;
    assert_eq!(releases.body["releases"].as_array().unwrap().len(), 0);
}

fn tariff_files(change: Option<(&str, &str)>) -> Vec<(&'static str, String)> {
    crate::helpers::TARIFF_FILES
        .iter()
        .map(|name| {
            let mut text = sample_file(name);
            if let Some((from, to)) = change
                && *name == "duty_rates.csv"
            {
                assert!(text.contains(from));
                text = text.replace(from, to);
            }
            (*name, text)
        })
        .collect()
}

const PHONES_MFN: &str = "85171300,mfn,,ad_valorem,0,,,,2026-01-01,";

#[tokio::test]
async fn an_administrator_imports_a_tariff_reads_its_report_and_dry_run_then_activates_and_rolls_it_back()
 {
    let app = spawn_app_at(NOW).await;
    let (tariff, _) = app.activate_sample_releases("2026-01-01").await;
    assert_eq!(tariff, "TR-0001");
    app.lodged_id("broker", &example()).await;
    let mut admin = admin_of(&app).await;

    // A broken file: every problem, by file, line and field, beside the files field.
    let broken = tariff_files(Some((
        PHONES_MFN,
        "85171300,mfn,,ad_valorem,ten,,,,2026-01-01,",
    )));
    let refused = admin
        .upload_release("tariff", "phones at ten", &broken)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Validation report"));
    assert!(
        refused.body.contains("<code>duty_rates.csv:"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r##"<a href="#release-files">"##));
    assert!(refused.body.contains(r#"id="release-files-error""#));
    // The kind's own files only.
    let stray = admin
        .upload_release(
            "exchange_rates",
            "x",
            &[("lines.csv", sample_file("lines.csv"))],
        )
        .await;
    assert_eq!(stray.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stray.body.contains("files[lines.csv]"), "{}", stray.body);
    let none = admin.upload_release("tariff", "x", &[]).await;
    assert!(none.body.contains("Choose the files of the release"));
    let listed = app.get("/v1/releases?kind=tariff", "admin").await;
    assert_eq!(
        listed.body["releases"].as_array().unwrap().len(),
        1,
        "nothing imported"
    );

    // Phones at 10 %: imported, its report says so, inert until activated.
    let candidate = tariff_files(Some((
        PHONES_MFN,
        "85171300,mfn,,ad_valorem,10,,,,2026-01-01,",
    )));
    let imported = admin
        .upload_release("tariff", "phones at ten", &candidate)
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert!(
        imported.body.contains("Release TR-0002 imported"),
        "{}",
        imported.body
    );
    assert!(imported.body.contains("no problem found"));
    let page = admin.get("/console/admin/releases/TR-0002").await;
    assert!(page.body.contains("Imported, not in force"));

    // The dry run: the phones of the declaration lodged would pay more.
    let diff = admin
        .get("/console/admin/releases/TR-0002/dry-run?sample=200")
        .await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
    assert!(diff.body.contains("Differences (dry run)"));
    let report = app
        .get("/v1/releases/TR-0002/dry-run?sample=200", "admin")
        .await;
    assert_eq!(report.body["changed"], 1, "{}", report.text);
    let difference = report.body["total_difference"].as_str().unwrap();
    assert!(
        diff.body.contains(&format!("<dd>{difference}</dd>")),
        "{}",
        diff.body
    );
    let number = report.body["changes"][0]["number"].as_str().unwrap();
    assert!(diff.body.contains(&format!("<td>{number}</td>")));
    // Its sample is bounded: 500 at most.
    let max = clearance::releases::DRY_RUN_SAMPLE_MAX;
    let at_max = admin
        .get(&format!(
            "/console/admin/releases/TR-0002/dry-run?sample={max}"
        ))
        .await;
    assert_eq!(at_max.status, StatusCode::OK);
    let over = admin
        .get(&format!(
            "/console/admin/releases/TR-0002/dry-run?sample={}",
            max + 1
        ))
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(over.body.contains(r#"id="sample-error""#));
    let words = admin
        .get("/console/admin/releases/TR-0002/dry-run?sample=many")
        .await;
    assert!(words.body.contains("Enter a whole number of declarations"));

    // Activation: a date is needed, then it is in force.
    let no_date = admin
        .submit(
            "/console/admin/releases/TR-0002/activation",
            &[("effective_from", "soon")],
        )
        .await;
    assert_eq!(no_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_date.body.contains(r##"<a href="#effective-from">"##),
        "{}",
        no_date.body
    );
    let activated = admin
        .submit(
            "/console/admin/releases/TR-0002/activation",
            &[("effective_from", "2026-11-01")],
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
    assert!(activated.body.contains("Release TR-0002 activated"));
    let listed = app.get("/v1/releases?kind=tariff", "admin").await;
    assert_eq!(listed.body["releases"][1]["status"], "active");

    // Roll-back: a reason is needed, then the earlier release is in force again.
    let no_reason = admin
        .submit(
            "/console/admin/releases/rollback",
            &[("kind", "tariff"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains(r##"<a href="#rollback-reason">"##),
        "{}",
        no_reason.body
    );
    let rolled = admin
        .submit(
            "/console/admin/releases/rollback",
            &[("kind", "tariff"), ("reason", "wrong rate")],
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.body);
    assert!(rolled.body.contains("Release TR-0002 rolled back"));
    let listed = app.get("/v1/releases?kind=tariff", "admin").await;
    assert_eq!(listed.body["releases"][1]["status"], "rolled_back");
    let absent = admin.get("/console/admin/releases/TR-0099").await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_release_upload_is_taken_up_to_its_limit_and_refused_above_it() {
    let app = spawn_app_at(NOW).await;
    let mut admin = admin_of(&app).await;
    let max = http_api::CONSOLE_RELEASE_UPLOAD_BYTES_MAX;
    let header = "currency,month,rate\n";
    // At the limit the files are read and checked (and this one has problems).
    let at_limit = format!("{header}{}", "#".repeat(max - header.len()));
    assert_eq!(at_limit.len(), max);
    let page = admin
        .upload_release("exchange_rates", "big", &[("exchange_rates.csv", at_limit)])
        .await;
    assert!(
        !page.body.contains("larger than the console takes"),
        "{}",
        page.body
    );
    let over = format!("{header}{}", "#".repeat(max + 1 - header.len()));
    let page = admin
        .upload_release("exchange_rates", "big", &[("exchange_rates.csv", over)])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("larger than the console takes"),
        "{}",
        page.body
    );
    // A small valid table is imported.
    let page = admin
        .upload_release(
            "exchange_rates",
            "rates",
            &[("exchange_rates.csv", sample_file("exchange_rates.csv"))],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Release XR-0001 imported"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn users_are_created_given_passwords_and_disabled_from_the_page() {
    let app = spawn_app_at(NOW).await;
    let mut admin = admin_of(&app).await;

    // A declarant belongs to an enterprise: the error stands beside that field.
    let refused = admin
        .submit(
            "/console/admin/users",
            &[
                ("name", "new_declarant"),
                ("role", "declarant"),
                ("enterprise", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r##"<a href="#user-enterprise">"##),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"id="user-enterprise-error""#));
    // The form comes back as it was filled in.
    assert!(
        refused
            .body
            .contains(r#"name="name" type="text" value="new_declarant""#),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(r#"<option value="declarant" selected>"#)
    );
    let no_role = admin
        .submit("/console/admin/users", &[("name", "x"), ("role", "")])
        .await;
    assert!(
        no_role
            .body
            .contains(r##"<a href="#user-role">Choose a role</a>"##),
        "{}",
        no_role.body
    );

    let created = admin
        .submit(
            "/console/admin/users",
            &[
                ("name", "new_declarant"),
                ("role", "declarant"),
                ("enterprise", TRADER),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("User new_declarant created"));
    assert!(created.body.contains(&format!(
        "<td>new_declarant</td><td>Declarant</td><td>{TRADER}</td>"
    )));

    // A short password is refused beside its field; a good one lets the user sign in.
    let short = admin
        .submit(
            "/console/admin/users/password",
            &[("user", "new_declarant"), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains(r#"id="password-new-error""#),
        "{}",
        short.body
    );
    let set = admin
        .submit(
            "/console/admin/users/password",
            &[("user", "new_declarant"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        set.body.contains("Password of new_declarant set"),
        "{}",
        set.body
    );
    let mut declarant = Visitor::new(&app);
    declarant.sign_in_in_english("new_declarant").await;
    assert_eq!(
        declarant.get("/console/declarations").await.status,
        StatusCode::OK
    );

    // Disabled: a reason is needed; then the session ends at once.
    let no_reason = admin
        .submit(
            "/console/admin/users/disablement",
            &[("user", "new_declarant"), ("reason", " ")],
        )
        .await;
    assert!(
        no_reason.body.contains(r#"id="disable-reason-error""#),
        "{}",
        no_reason.body
    );
    let oneself = admin
        .submit(
            "/console/admin/users/disablement",
            &[("user", "admin"), ("reason", "tired")],
        )
        .await;
    assert_eq!(oneself.status, StatusCode::UNPROCESSABLE_ENTITY);
    let disabled = admin
        .submit(
            "/console/admin/users/disablement",
            &[("user", "new_declarant"), ("reason", "left the company")],
        )
        .await;
    assert!(
        disabled.body.contains("User new_declarant disabled"),
        "{}",
        disabled.body
    );
    assert!(
        disabled
            .body
            .contains("<td>new_declarant</td><td>Declarant</td>")
    );
    assert!(disabled.body.contains("<td>Disabled</td>"));
    let ended = declarant.get("/console/declarations").await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "the session ended");
}

#[tokio::test]
async fn a_token_is_shown_once_works_and_is_revoked_from_the_page() {
    let app = spawn_app_at(NOW).await;
    let mut admin = admin_of(&app).await;
    let max = clearance::TOKEN_LIFETIME_MAX_DAYS.to_string();
    let over = (clearance::TOKEN_LIFETIME_MAX_DAYS + 1).to_string();
    for days in ["0", over.as_str(), "soon"] {
        let refused = admin
            .submit(
                "/console/admin/tokens",
                &[("user", "auditor"), ("days", days)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        assert!(
            refused.body.contains(r#"id="token-days-error""#),
            "{days}: {}",
            refused.body
        );
    }
    let issued = admin
        .submit(
            "/console/admin/tokens",
            &[("user", "auditor"), ("days", &max)],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let secret = issued
        .body
        .split(r#"<code id="token-secret">"#)
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with(clearance::TOKEN_PREFIX), "{secret}");
    let works = crate::helpers::send(
        reqwest::Client::new()
            .get(app.url("/v1/declarations"))
            .bearer_auth(&secret),
    )
    .await;
    assert_eq!(works.status, StatusCode::OK);
    // Shown once: the list never shows it again.
    let list = admin.get("/console/admin/tokens").await;
    assert!(!list.body.contains(&secret));
    let id = clearance::token_id(&clearance::token_hash(&secret));
    assert!(list.body.contains(&id));

    let revoked = admin
        .submit("/console/admin/tokens/revocation", &[("id", &id)])
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body.contains(&format!("Token {id} revoked")));
    let refused = crate::helpers::send(
        reqwest::Client::new()
            .get(app.url("/v1/declarations"))
            .bearer_auth(&secret),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let unknown = admin
        .submit(
            "/console/admin/tokens/revocation",
            &[("id", "T-0000000000000000")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn enterprises_credit_levels_and_broker_authorisations_are_managed_from_the_page() {
    let app = spawn_app_at(NOW).await;
    let mut admin = admin_of(&app).await;
    // The broker's webhook, registered through the API, is listed without its secret.
    let hook = app
        .post(
            "/v1/webhook",
            "broker",
            None,
            &serde_json::json!({ "url": "https://hooks.example.com/customs" }),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.text);
    let page = admin.get("/console/admin/enterprises").await;
    assert!(page.body.contains(&format!("<td>{OTHER_TRADER}</td>")));
    assert!(
        page.body.contains("https://hooks.example.com/customs ("),
        "{}",
        page.body
    );
    assert!(!page.body.contains(hook.body["secret"].as_str().unwrap()));
    assert!(
        page.body.contains("General credit enterprise"),
        "never rated: general"
    );

    let bad = admin
        .submit(
            "/console/admin/enterprises",
            &[
                ("credit_code", "123"),
                ("customs_code", "3115960009"),
                ("name", "Bad Co"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains(r#"id="enterprise-credit-code-error""#),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("<code>credit_code</code>"));
    let code = "91110000MA00000017";
    let registered = admin
        .submit(
            "/console/admin/enterprises",
            &[
                ("credit_code", code),
                ("customs_code", "1105960001"),
                ("name", "北京测试 Beijing Test Co."),
            ],
        )
        .await;
    // The check character of a made-up code may be wrong: then the page says so.
    if registered.status == StatusCode::OK {
        assert!(
            registered
                .body
                .contains(&format!("Enterprise {code} registered"))
        );
        assert!(registered.body.contains(&format!("<td>{code}</td>")));
    } else {
        assert!(
            registered.body.contains("enterprise-credit-code-error"),
            "{}",
            registered.body
        );
    }

    let no_reason = admin
        .submit(
            "/console/admin/credit",
            &[
                ("credit_code", OTHER_TRADER),
                ("level", "untrustworthy"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains(r#"id="credit-reason-error""#),
        "{}",
        no_reason.body
    );
    let set = admin
        .submit(
            "/console/admin/credit",
            &[
                ("credit_code", OTHER_TRADER),
                ("level", "untrustworthy"),
                ("reason", "decision 2026-17"),
            ],
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(set.body.contains("Credit level set."));
    assert!(set.body.contains("<td>Untrustworthy enterprise</td>"));

    // The broker declares for OTHER_TRADER once granted, no longer once withdrawn.
    let granted = admin
        .submit(
            "/console/admin/brokers",
            &[
                ("principal", OTHER_TRADER),
                ("broker", BROKER),
                ("reason", ""),
                ("action", "grant"),
            ],
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let broker = app
        .clearance
        .store()
        .enterprise_by_credit_code(BROKER)
        .await
        .unwrap()
        .unwrap();
    let principals = app
        .clearance
        .store()
        .broker_principals(&broker.id)
        .await
        .unwrap();
    assert!(
        principals.contains(&OTHER_TRADER.to_owned()),
        "{principals:?}"
    );
    let no_reason = admin
        .submit(
            "/console/admin/brokers",
            &[
                ("principal", OTHER_TRADER),
                ("broker", BROKER),
                ("reason", ""),
                ("action", "withdraw"),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains(r#"id="broker-reason-error""#),
        "{}",
        no_reason.body
    );
    let withdrawn = admin
        .submit(
            "/console/admin/brokers",
            &[
                ("principal", OTHER_TRADER),
                ("broker", BROKER),
                ("reason", "contract ended"),
                ("action", "withdraw"),
            ],
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.body);
    let principals = app
        .clearance
        .store()
        .broker_principals(&broker.id)
        .await
        .unwrap();
    assert!(
        !principals.contains(&OTHER_TRADER.to_owned()),
        "{principals:?}"
    );
}
