//! A supervisor gives an open task to another officer the draw could have chosen; the officer who
//! had it no longer does, the new one does, and the event records who, to whom and why.

use serde_json::{Value, json};
use store::Store;

use crate::tests::{EXAMPLE, beijing, fixture};
use crate::{ClearanceError, Role};

fn paths(error: ClearanceError) -> Vec<String> {
    match error {
        ClearanceError::Invalid(errors) => errors.into_iter().map(|e| e.path).collect(),
        other => panic!("not a refusal naming fields: {other:?}"),
    }
}

#[tokio::test]
async fn a_supervisor_reassigns_an_open_task_to_an_officer_the_draw_could_choose() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let wu = f.caller_with_role("officer-wu", Role::Officer).await;
    let ma = f.caller_with_role("officer-ma", Role::Officer).await;
    let supervisor = f.caller_with_role("supervisor-li", Role::Supervisor).await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("r1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let held = f
        .clearance
        .place_hold(&wu, &lodged.number, None, br#"{"reason":"seal to check"}"#)
        .await
        .unwrap();
    let task = held["id"].as_str().unwrap().to_owned();
    let to_ma = json!({"officer": "officer-ma", "reason": "officer Wu is off sick"}).to_string();

    // Only a supervisor reassigns; a supervisor does no task itself.
    assert!(matches!(
        f.clearance
            .reassign_task(&wu, &task, None, to_ma.as_bytes())
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    assert!(matches!(
        f.clearance
            .record_finding(&supervisor, &task, None, br#"{"discrepancy":false}"#)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    // Every problem of the request, by field.
    let wrong = json!({"officer": "broker", "reason": " "}).to_string();
    let refused = f
        .clearance
        .reassign_task(&supervisor, &task, None, wrong.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(refused), ["reason"]);
    let not_an_officer = json!({"officer": "broker", "reason": "x"}).to_string();
    let refused = f
        .clearance
        .reassign_task(&supervisor, &task, None, not_an_officer.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(refused), ["officer"]);
    let to_wu = json!({"officer": "officer-wu", "reason": "x"}).to_string();
    let refused = f
        .clearance
        .reassign_task(&supervisor, &task, None, to_wu.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(refused), ["officer"], "already Wu's");
    assert!(matches!(
        f.clearance
            .reassign_task(&supervisor, "no-such-task", None, to_ma.as_bytes())
            .await,
        Err(ClearanceError::NotFound)
    ));

    // Nobody on duty at the office: any officer may take it.
    let done = f
        .clearance
        .reassign_task(&supervisor, &task, Some("re-1"), to_ma.as_bytes())
        .await
        .unwrap();
    assert_eq!(done["from"], json!(wu.user_id()));
    assert_eq!(done["to"], json!(ma.user_id()));
    // A retry answers the first result.
    let again = f
        .clearance
        .reassign_task(&supervisor, &task, Some("re-1"), to_ma.as_bytes())
        .await
        .unwrap();
    assert_eq!(again, done);
    let row = f.clearance.store().task(&task).await.unwrap().unwrap();
    assert_eq!(row.assigned_to, ma.user_id());
    let events = f.clearance.store().events(&lodged.id).await.unwrap();
    let recorded: Vec<Value> = events
        .iter()
        .filter(|e| e.action == crate::reassignment::REASSIGNED_ACTION)
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["reason"], "officer Wu is off sick");
    assert_eq!(events.last().unwrap().actor.role, "supervisor");

    // Wu no longer has the task; Ma has it.
    assert!(matches!(
        f.clearance
            .record_finding(&wu, &task, None, br#"{"discrepancy":false}"#)
            .await,
        Err(ClearanceError::NotFound)
    ));

    // With Wu on duty at the office, only Wu may take its tasks.
    f.clearance.set_duty(&wu, Some("2200")).await.unwrap();
    let candidates = f
        .clearance
        .reassignment_candidates(&supervisor, "2200")
        .await
        .unwrap();
    assert_eq!(candidates["pool"], "on_duty");
    assert_eq!(candidates["officers"][0]["name"], "officer-wu");
    let back = json!({"officer": "officer-wu", "reason": "Wu is back"}).to_string();
    f.clearance
        .reassign_task(&supervisor, &task, None, back.as_bytes())
        .await
        .unwrap();
    let refused = f
        .clearance
        .reassign_task(&supervisor, &task, None, to_ma.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(refused), ["officer"], "Ma is not on duty at 2200");

    // A closed task stays with whoever closed it.
    f.clearance
        .record_finding(&wu, &task, None, br#"{"discrepancy":false}"#)
        .await
        .unwrap();
    f.clearance.set_duty(&ma, Some("2200")).await.unwrap();
    let refused = f
        .clearance
        .reassign_task(&supervisor, &task, None, to_ma.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(paths(refused), ["task"]);

    // The tasks table rebuilt from the chain (reassignments included) is the stored one.
    let check = f.clearance.store().check_projections().await.unwrap();
    assert!(check.not_rebuilt.is_none(), "{check:?}");
    assert!(check.differences.is_empty(), "{:?}", check.differences);
    assert!(check.tables.iter().any(|t| t == "inspection_tasks"));
}
