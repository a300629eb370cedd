//! Officers' duty: tasks go to the officers on duty at the office, drawn among them and recorded
//! with the pool they came from; with nobody on duty, to every officer. Holds placed by hand keep
//! the goods until the officer lifts them.

use serde_json::{Value, json};
use store::{Actor, Store};

use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

async fn user(f: &Fixture, name: &str, role: Role) -> Caller {
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .create_user(&admin, name, role, None)
        .await
        .unwrap();
    f.caller(name).await
}

/// Lodges the example (a document check for its seller is on the watch list) and returns the
/// record of the one task it created.
async fn task_of_a_lodging(f: &Fixture, key: &str) -> Value {
    let broker = f.caller("broker").await;
    let body = EXAMPLE.replace("Smartphones", &format!("Smartphones {key}"));
    let lodged = f
        .clearance
        .lodge(&broker, Some(key), body.as_bytes())
        .await
        .unwrap();
    let created: Vec<Value> = f
        .clearance
        .store()
        .events(&lodged.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "task.created")
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap())
        // No tariff release in these tests: each import also waits for a manual assessment.
        .filter(|t| t["kind"] != crate::MANUAL_ASSESSMENT_TASK)
        .collect();
    assert_eq!(created.len(), 1, "{created:#?}");
    created[0].clone()
}

#[tokio::test]
async fn tasks_go_to_the_officers_on_duty_at_the_office() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let analyst = user(&f, "analyst-wang", Role::RiskAnalyst).await;
    let wu = user(&f, "officer-wu", Role::Officer).await;
    let ma = user(&f, "officer-ma", Role::Officer).await;
    let broker = f.caller("broker").await;
    let entry = json!({
        "kind": "seller", "value": "Pacific Electronics Inc.", "action": "document_check",
        "reason_en": "invoices to check", "reason_zh": "核查发票",
    });
    let proposed = f
        .clearance
        .add_watch_entry(&analyst, entry.to_string().as_bytes())
        .await
        .unwrap();
    let second = user(&f, "analyst-zhao", Role::RiskAnalyst).await;
    f.clearance
        .approve_watch_entry(&second, proposed["id"].as_str().unwrap())
        .await
        .unwrap();

    // Nobody on duty at 2200: every officer is a candidate, and the record says so.
    let task = task_of_a_lodging(&f, "d1").await;
    assert_eq!(task["pool"], "all_officers", "{task:#}");
    assert_eq!(task["candidates"].as_array().unwrap().len(), 3, "{task:#}");

    // Only officers keep duty; the office is checked like a declaration's.
    assert!(matches!(
        f.clearance.set_duty(&broker, Some("2200")).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    match f.clearance.set_duty(&wu, Some("22")).await {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "office"),
        other => panic!("{other:?}"),
    }

    let on = f.clearance.set_duty(&wu, Some("2200")).await.unwrap();
    assert_eq!(on["on_duty"], true);
    f.clearance.set_duty(&ma, Some("5300")).await.unwrap();
    for key in ["d2", "d3", "d4"] {
        let task = task_of_a_lodging(&f, key).await;
        assert_eq!(task["pool"], "on_duty", "{task:#}");
        assert_eq!(task["candidates"], json!([wu.user_id()]), "{task:#}");
        assert_eq!(task["assigned_to"], wu.user_id());
    }
    let roster = f.clearance.duty_roster(&analyst, None).await.unwrap();
    let offices: Vec<(&str, &str)> = roster
        .iter()
        .map(|r| {
            (
                r["office"].as_str().unwrap(),
                r["officer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(offices, [("2200", wu.user_id()), ("5300", ma.user_id())]);
    assert!(matches!(
        f.clearance.duty_roster(&broker, None).await,
        Err(ClearanceError::Forbidden { .. })
    ));

    // Moving to 2200, Ma joins the draw; Wu going off duty leaves Ma alone there.
    f.clearance.set_duty(&ma, Some("2200")).await.unwrap();
    let task = task_of_a_lodging(&f, "d5").await;
    let mut both = vec![ma.user_id().to_owned(), wu.user_id().to_owned()];
    both.sort();
    assert_eq!(task["candidates"], json!(both), "{task:#}");
    let off = f.clearance.set_duty(&wu, None).await.unwrap();
    assert_eq!(off["on_duty"], false);
    let task = task_of_a_lodging(&f, "d6").await;
    assert_eq!(task["assigned_to"], ma.user_id(), "{task:#}");
    let on_duty = f.clearance.duty_roster(&wu, Some("2200")).await.unwrap();
    assert_eq!(on_duty.len(), 1);

    // Each change is in the audit chain.
    let changes: Vec<String> = f
        .clearance
        .store()
        .events(&format!("officer:{}", wu.user_id()))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(changes, ["officer.on_duty", "officer.off_duty"]);
}

#[tokio::test]
async fn an_officer_holds_the_goods_until_lifting_the_hold() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("h1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    // Assessed by hand (no tariff release here) and paid: only the hold keeps the goods.
    crate::story::assess_by_hand(&f, &officer, &lodged.number).await;
    crate::story::register_bank(&f).await;
    crate::story::pay_in_full(&f, &broker, &lodged.number, "TB-H1").await;
    let hold = br#"{"reason":"intelligence: possible IPR infringement"}"#;

    assert!(matches!(
        f.clearance
            .place_hold(&broker, &lodged.number, None, hold)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    match f
        .clearance
        .place_hold(&officer, &lodged.number, None, br#"{"reason":" "}"#)
        .await
    {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "reason"),
        other => panic!("{other:?}"),
    }
    let held = f
        .clearance
        .place_hold(&officer, &lodged.number, Some("hold-1"), hold)
        .await
        .unwrap();
    assert_eq!(held["kind"], "hold");
    assert_eq!(held["assigned_to"], officer.user_id());
    // A retry with the same key places nothing new; the key on another request is refused.
    let again = f
        .clearance
        .place_hold(&officer, &lodged.number, Some("hold-1"), hold)
        .await
        .unwrap();
    assert_eq!(again["id"], held["id"]);
    assert!(matches!(
        f.clearance
            .place_hold(
                &officer,
                &lodged.number,
                Some("hold-1"),
                br#"{"reason":"x"}"#
            )
            .await,
        Err(ClearanceError::IdempotencyKeyReused)
    ));
    let open = f
        .clearance
        .tasks(&officer, true, None, Some("open"), 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");

    let release = f
        .clearance
        .release(&officer, &lodged.number, Some("r1"), b"{}")
        .await;
    match release {
        Err(ClearanceError::Transition(t)) => assert_eq!(t.code, "open_tasks"),
        other => panic!("{other:?}"),
    }
    // Lifting the hold is the officer's finding on it.
    let task = held["id"].as_str().unwrap();
    f.clearance
        .record_finding(
            &officer,
            task,
            Some("lift-1"),
            br#"{"discrepancy":false,"note":"rights holder confirmed the goods are genuine"}"#,
        )
        .await
        .unwrap();
    let released = f
        .clearance
        .release(&officer, &lodged.number, Some("r2"), b"{}")
        .await
        .unwrap();
    assert_eq!(released.status, "released");
    // Released goods are not held any more.
    match f
        .clearance
        .place_hold(&officer, &lodged.number, Some("hold-2"), hold)
        .await
    {
        Err(ClearanceError::Transition(t)) => assert_eq!(t.code, "not_holdable"),
        other => panic!("{other:?}"),
    }
}

/// A JPEG of `n` (distinct content per n).
fn photo(n: usize) -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0".to_vec();
    bytes.extend(n.to_le_bytes());
    bytes
}

#[tokio::test]
async fn the_officer_attaches_photos_and_documents_as_evidence_of_the_finding() {
    use crate::attachments::{ATTACHMENT_BYTES_MAX, ATTACHMENTS_PER_TASK_MAX};
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let wu = user(&f, "officer-wu", Role::Officer).await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("a1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let held = f
        .clearance
        .place_hold(&officer, &lodged.number, None, br#"{"reason":"seal"}"#)
        .await
        .unwrap();
    let task = held["id"].as_str().unwrap().to_owned();
    let attach = |caller: &'static str,
                  name: &'static str,
                  media: Option<&'static str>,
                  content: Vec<u8>| {
        let (f, task) = (&f, task.clone());
        async move {
            let who = f.caller(caller).await;
            f.clearance
                .add_attachment(&who, &task, name, media, &content, None)
                .await
        }
    };
    let paths = |result: Result<Value, ClearanceError>| match result {
        Err(ClearanceError::Invalid(errors)) => {
            errors.into_iter().map(|e| e.path).collect::<Vec<String>>()
        }
        other => panic!("{other:?}"),
    };

    let first = attach("officer", "封条.jpg", Some("image/jpeg"), photo(0))
        .await
        .unwrap();
    assert_eq!(first["media_type"], "image/jpeg");
    assert_eq!(first["digest"].as_str().unwrap().len(), 64);
    let pdf = attach("officer", "report.pdf", None, b"%PDF-1.7 report".to_vec())
        .await
        .unwrap();
    assert_eq!(
        pdf["media_type"], "application/pdf",
        "read from the content"
    );

    // Every problem named: not a photo or PDF, a folder in the name, a type that is not the content's.
    assert_eq!(
        paths(attach("officer", "a/b.exe", None, b"MZ\x90".to_vec()).await),
        ["file_name", "content"]
    );
    assert_eq!(
        paths(attach("officer", "x.png", Some("image/png"), photo(1)).await),
        ["Content-Type"]
    );
    assert_eq!(
        paths(attach("officer", "again.jpg", None, photo(0)).await),
        ["content"]
    );
    // Only the officer the task is assigned to attaches; others do not even see it as theirs.
    assert!(matches!(
        attach("officer-wu", "x.jpg", None, photo(2)).await,
        Err(ClearanceError::NotFound)
    ));
    assert!(matches!(
        attach("broker", "x.jpg", None, photo(2)).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    // The size limit at its edge.
    let mut largest = photo(3);
    largest.resize(ATTACHMENT_BYTES_MAX, 0);
    attach("officer", "largest.jpg", None, largest.clone())
        .await
        .unwrap();
    largest.push(0);
    assert_eq!(
        paths(attach("officer", "too large.jpg", None, largest).await),
        ["content"]
    );
    // The count limit at its edge: three so far.
    for n in 3..ATTACHMENTS_PER_TASK_MAX {
        attach("officer", "more.jpg", None, photo(100 + n))
            .await
            .unwrap();
    }
    assert_eq!(
        paths(attach("officer", "one too many.jpg", None, photo(999)).await),
        ["attachments"]
    );

    let listed = f.clearance.attachments(&wu, &task).await.unwrap();
    assert_eq!(listed.len(), ATTACHMENTS_PER_TASK_MAX);
    assert_eq!(listed[0]["file_name"], "封条.jpg");
    let (media, content) = f
        .clearance
        .attachment_content(&wu, &task, first["digest"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!((media.as_str(), content), ("image/jpeg", photo(0)));

    // The finding names its evidence; a closed task takes no more.
    let closed = f
        .clearance
        .record_finding(&officer, &task, None, br#"{"discrepancy":false}"#)
        .await
        .unwrap();
    let evidence = closed["outcome"]["attachments"].as_array().unwrap();
    assert_eq!(evidence.len(), ATTACHMENTS_PER_TASK_MAX);
    assert_eq!(evidence[1]["file_name"], "report.pdf");
    assert_eq!(
        paths(attach("officer", "late.jpg", None, photo(5)).await),
        ["task"]
    );
}

/// An officer with more tasks than a page of the queue still closes the newest of them: a task
/// is found by its id, not among the officer's first page.
#[tokio::test]
async fn an_officer_closes_a_task_beyond_the_first_page_of_the_queue() {
    use crate::tasks::TASK_PAGE_MAX;
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("p1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut newest = String::new();
    for n in 0..=TASK_PAGE_MAX {
        let held = f
            .clearance
            .place_hold(
                &officer,
                &lodged.number,
                Some(&format!("hold-{n}")),
                br#"{"reason":"seal check"}"#,
            )
            .await
            .unwrap();
        newest = held["id"].as_str().unwrap().to_owned();
    }
    let attached = f
        .clearance
        .add_attachment(&officer, &newest, "seal.jpg", None, &photo(1), None)
        .await
        .unwrap();
    assert_eq!(attached["media_type"], "image/jpeg");
    let closed = f
        .clearance
        .record_finding(&officer, &newest, Some("f1"), br#"{"discrepancy":false}"#)
        .await
        .unwrap();
    assert_eq!(closed["task"], newest.as_str());
    assert_eq!(closed["outcome"]["attachments"][0]["file_name"], "seal.jpg");
}

/// Only the officer a task is assigned to records its finding: another officer, however senior,
/// meets it as if it did not exist, and the trade may not record findings at all.
#[tokio::test]
async fn only_the_assigned_officer_records_a_finding() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let wu = user(&f, "officer-wu", Role::Officer).await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("o1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let held = f
        .clearance
        .place_hold(&officer, &lodged.number, None, br#"{"reason":"seal"}"#)
        .await
        .unwrap();
    let task = held["id"].as_str().unwrap();
    let finding = br#"{"discrepancy":false,"note":"nothing found"}"#;
    assert!(matches!(
        f.clearance
            .record_finding(&wu, task, Some("wu-1"), finding)
            .await,
        Err(ClearanceError::NotFound)
    ));
    assert!(matches!(
        f.clearance
            .record_finding(&broker, task, Some("b-1"), finding)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let open = f
        .clearance
        .tasks(&officer, true, None, Some("open"), 10)
        .await
        .unwrap();
    assert!(
        open.iter().any(|t| t["id"] == task),
        "the task is still open: {open:#?}"
    );
    f.clearance
        .record_finding(&officer, task, Some("o-1"), finding)
        .await
        .unwrap();
}
