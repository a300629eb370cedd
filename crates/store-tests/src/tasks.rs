//! Chapter 8: officers' tasks (单证审核 / 查验 / 取样 / 扣留) created from a declaration's lane,
//! listed by declaration, assignee, office and status, closed once with an outcome; the officers
//! a task can be assigned to.

use store::{Actor, Append, LinkedEvent, Projection, Store, StoreError, TaskQuery, TaskRow};

use crate::Story;
use crate::fixtures::{T0, actor, administrator, append, officer, other_clerk, trader_clerk, user};

/// A second officer, registered in this chapter; its id sorts before the first officer's.
pub(crate) fn inspector() -> store::UserRow {
    user("usr-customs-zhou", "officer.zhou", "officer", None)
}

fn task(id: &str, declaration_id: &str, kind: &str, office: &str, assigned_to: &str) -> TaskRow {
    TaskRow {
        id: id.to_owned(),
        declaration_id: declaration_id.to_owned(),
        kind: kind.to_owned(),
        office: office.to_owned(),
        assigned_to: assigned_to.to_owned(),
        status: "open".to_owned(),
        created_at_ms: T0 + 50_000,
        created_seq: None,
        closed_seq: None,
        outcome: None,
    }
}

/// The task as the store reads it back after the event `seq` created it.
fn created(task: &TaskRow, seq: u64) -> TaskRow {
    TaskRow {
        created_seq: Some(seq),
        ..task.clone()
    }
}

/// A task created by its own event, subject the task.
fn create(key: &str, by: &Actor, task: &TaskRow) -> Append {
    append(
        by,
        key,
        &task.id,
        "task.created",
        Projection::NewTask(task.clone()),
    )
}

/// A lane's selection of `declaration_id`, which projects nothing itself, creating `tasks` as
/// linked events (subject each task) in the same transaction.
fn selection(key: &str, by: &Actor, declaration_id: &str, tasks: &[TaskRow]) -> Append {
    let mut event = append(
        by,
        key,
        declaration_id,
        "declaration.selected",
        Projection::Nothing,
    );
    event.linked = tasks
        .iter()
        .map(|task| LinkedEvent {
            // The draw is the engine's act, not the officer's who lodged the selection.
            actor: Some(system()),
            subject: task.id.clone(),
            action: "task.created".to_owned(),
            payload: format!(r#"{{"task":"{}","kind":"{}"}}"#, task.id, task.kind),
            expected_version: None,
            projection: Projection::NewTask(task.clone()),
        })
        .collect();
    event
}

/// The platform itself, for what the engine decides.
fn system() -> Actor {
    Actor {
        user_id: "system".to_owned(),
        role: "system".to_owned(),
    }
}

fn close(key: &str, by: &Actor, id: &str, outcome: &str) -> Append {
    let projection = Projection::CloseTask {
        id: id.to_owned(),
        outcome: outcome.to_owned(),
    };
    append(by, key, id, "task.closed", projection)
}

fn assert_refused(err: &StoreError, conflict: bool, expected: &str) {
    let matched = match err {
        StoreError::Conflict(what) => conflict && what == expected,
        StoreError::NotFound(what) => !conflict && what == expected,
        _ => false,
    };
    assert!(matched, "expected {expected:?}, got {err:?}");
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_officer_tasks(&mut self) {
        let (li, zhou) = (officer(), inspector());
        let by = actor(&li);
        let register = append(
            &administrator(),
            "user.registered/usr-customs-zhou",
            &zhou.id,
            "user.registered",
            Projection::NewUser(zhou.clone()),
        );
        self.appended(register).await;

        // One selection, two tasks: the main event projects nothing, each linked event
        // creates one task and is its `created_seq`.
        let check = task("T-1", "D-T4", "document_check", "2201", &li.id);
        let inspect = task("T-2", "D-T4", "physical_inspection", "2201", &zhou.id);
        let before = self.store.declaration("D-T4").await.unwrap();
        let selected_seq = self
            .appended(selection(
                "select-1",
                &by,
                "D-T4",
                &[check.clone(), inspect.clone()],
            ))
            .await;
        assert_eq!(
            self.store.declaration("D-T4").await.unwrap(),
            before,
            "a selection projects nothing"
        );
        let selected = self.store.events("D-T4").await.unwrap();
        let by_whom = |seq: u64| selected.iter().find(|e| e.seq == seq).map(|e| &e.actor);
        assert_eq!(
            by_whom(selected_seq),
            Some(&by),
            "the main event is the append's actor's"
        );
        let drawn = self.store.events("T-1").await.unwrap();
        assert_eq!(
            drawn.iter().map(|e| &e.actor).collect::<Vec<_>>(),
            vec![&system()],
            "a linked event naming its actor is recorded as that actor's"
        );
        let (check, inspect) = (
            created(&check, selected_seq + 1),
            created(&inspect, selected_seq + 2),
        );
        let hold = task("T-3", "D-O1", "hold", "5301", &li.id);
        let hold_seq = self.appended(create("hold-1", &by, &hold)).await;
        let hold = created(&hold, hold_seq);

        self.refuse_bad_tasks(&by).await;
        self.list_tasks(&check, &inspect, &hold).await;

        // Closed once, with the caller's outcome kept byte for byte.
        let outcome = r#"{"result":"released","remarks_zh":"单证相符 \"无异常\""}"#;
        let closed_seq = self.appended(close("close-1", &by, "T-1", outcome)).await;
        let closed = TaskRow {
            status: "closed".to_owned(),
            closed_seq: Some(closed_seq),
            outcome: Some(outcome.to_owned()),
            ..check.clone()
        };
        assert_eq!(
            self.tasks(TaskQuery {
                status: Some("closed".to_owned()),
                ..TaskQuery::default()
            })
            .await,
            std::slice::from_ref(&closed)
        );
        let worklist = TaskQuery {
            assigned_to: Some(li.id.clone()),
            status: Some("open".to_owned()),
            ..TaskQuery::default()
        };
        assert_eq!(self.tasks(worklist).await, [hold]);
        let of_declaration = TaskQuery {
            declaration_id: Some("D-T4".to_owned()),
            ..TaskQuery::default()
        };
        assert_eq!(
            self.tasks(of_declaration).await,
            [closed, inspect.clone()],
            "a closed task stays listed in its place"
        );
        let err = self
            .refused(close("close-x", &by, "T-1", r#"{"result":"held"}"#))
            .await;
        assert_refused(&err, true, "task T-1 is closed");
        let err = self.refused(close("close-x", &by, "T-9", "{}")).await;
        assert_refused(&err, false, "task T-9");
        let history: Vec<String> = self
            .store
            .events("T-1")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(history, ["task.created", "task.closed"]);

        // The officers a task can be assigned to, by user id.
        let officers = self.store.users_by_role("officer").await.unwrap();
        assert_eq!(officers, [zhou, li]);
        let traders = self.store.users_by_role("trader").await.unwrap();
        assert_eq!(traders, [other_clerk(), trader_clerk()]);
        assert!(self.store.users_by_role("nobody").await.unwrap().is_empty());
    }

    /// A taken id, and a task that is not new, are refused; a refused append writes none of its
    /// linked tasks.
    async fn refuse_bad_tasks(&mut self, by: &Actor) {
        let again = task("T-1", "D-O2", "lab_sampling", "5301", &by.user_id);
        let err = self.refused(create("task-x", by, &again)).await;
        assert_refused(&err, true, "task T-1");
        let fresh = task("T-4", "D-O2", "lab_sampling", "5301", &by.user_id);
        let err = self
            .refused(selection("select-x", by, "D-O2", &[fresh.clone(), again]))
            .await;
        assert_refused(&err, true, "task T-1");
        let closed = TaskRow {
            status: "closed".to_owned(),
            ..fresh.clone()
        };
        let with_outcome = TaskRow {
            outcome: Some("{}".to_owned()),
            ..fresh.clone()
        };
        let with_seq = TaskRow {
            created_seq: Some(1),
            ..fresh
        };
        for not_new in [closed, with_outcome, with_seq] {
            let err = self.refused(create("task-x", by, &not_new)).await;
            assert!(matches!(err, StoreError::Other(_)), "not new: {err:?}");
        }
        let of_d_o2 = TaskQuery {
            declaration_id: Some("D-O2".to_owned()),
            ..TaskQuery::default()
        };
        assert!(self.tasks(of_d_o2).await.is_empty(), "nothing was written");
    }

    /// Each query key, alone and with a status, in creation order and within the limit.
    async fn list_tasks(&self, check: &TaskRow, inspect: &TaskRow, hold: &TaskRow) {
        let by = |declaration: &str, assignee: &str, office: &str, status: &str| {
            let some = |value: &str| (!value.is_empty()).then(|| value.to_owned());
            TaskQuery {
                declaration_id: some(declaration),
                assigned_to: some(assignee),
                office: some(office),
                status: some(status),
                limit: 0,
            }
        };
        let li = &check.assigned_to;
        let expectations: [(TaskQuery, Vec<&TaskRow>); 10] = [
            (by("", "", "", ""), vec![check, inspect, hold]),
            (by("D-T4", "", "", ""), vec![check, inspect]),
            (by("D-O1", "", "", ""), vec![hold]),
            (by("D-NONE", "", "", ""), vec![]),
            (by("", li, "", ""), vec![check, hold]),
            (by("", li, "", "open"), vec![check, hold]),
            (by("", &inspect.assigned_to, "", "open"), vec![inspect]),
            (by("", "", "2201", "open"), vec![check, inspect]),
            (by("", "", "5301", ""), vec![hold]),
            (by("", li, "5301", "closed"), vec![]),
        ];
        for (query, expected) in expectations {
            let what = format!("{query:?}");
            let found = self.tasks(query).await;
            let expected: Vec<TaskRow> = expected.into_iter().cloned().collect();
            assert_eq!(found, expected, "{what}");
        }
        let first_two = TaskQuery {
            limit: 2,
            ..TaskQuery::default()
        };
        let found = self.store.tasks(&first_two).await.unwrap();
        assert_eq!(found, [check.clone(), inspect.clone()], "at most the limit");
        let none = self.store.tasks(&TaskQuery::default()).await.unwrap();
        assert!(none.is_empty(), "limit 0 lists nothing");
    }

    /// The tasks matching `query`, with room for all of them.
    async fn tasks(&self, query: TaskQuery) -> Vec<TaskRow> {
        let query = TaskQuery {
            limit: 100,
            ..query
        };
        self.store.tasks(&query).await.unwrap()
    }
}
