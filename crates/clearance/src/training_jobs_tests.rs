//! Training as a job: asked for and answered at once, trained by whoever runs jobs, once per job
//! however often it is delivered; a job that can never succeed says why.

use std::sync::atomic::AtomicBool;

use serde_json::Value;
use store::{Actor, Store};

use crate::ClearanceError;
use crate::models_tests::{analyst, history};
use crate::tests::{beijing, fixture};
use crate::training_jobs::{TRAINING_FAILED_ACTION, TrainingOutcome};

fn model_of(outcome: TrainingOutcome) -> String {
    match outcome {
        TrainingOutcome::Registered(model) => model["id"].as_str().unwrap().to_owned(),
        TrainingOutcome::Failed(why) => panic!("failed: {why}"),
    }
}

#[tokio::test]
async fn a_training_job_registers_one_model_however_often_it_is_run() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let officer = f.caller("officer").await;
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();

    // Officers do not train; the answer names the job, queued.
    assert!(matches!(
        f.clearance
            .request_training(&officer, "x", None, None)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let job = f
        .clearance
        .request_training(&wang, "weekly", None, Some("k-1"))
        .await
        .unwrap();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["requested_by_name"], "analyst-wang");
    let id = job["job"].as_str().unwrap().to_owned();
    // A retry with the same key is the same job.
    let again = f
        .clearance
        .request_training(&wang, "weekly", None, Some("k-1"))
        .await
        .unwrap();
    assert_eq!(again["job"], id.as_str());

    let stop = AtomicBool::new(false);
    let model = model_of(f.clearance.run_training_job(&id, &stop).await.unwrap());
    // Delivered again (a worker killed before it acknowledged): the same model, no second one.
    let twice = model_of(f.clearance.run_training_job(&id, &stop).await.unwrap());
    assert_eq!(model, twice);
    let models = f.clearance.risk_models(&wang).await.unwrap();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0]["author"], wang.user_id());

    let done = f.clearance.training_job(&wang, &id).await.unwrap();
    assert_eq!(done["status"], "registered");
    assert_eq!(done["model"], model.as_str());
    // The registration names its job in the model's record.
    let registered = f
        .clearance
        .store()
        .events(&format!("model:{model}"))
        .await
        .unwrap();
    let payload: Value = serde_json::from_str(&registered[0].payload).unwrap();
    assert_eq!(payload["training_job"], id.as_str());
}

#[tokio::test]
async fn a_training_job_that_can_never_succeed_is_recorded_as_failed_with_the_reason() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let stop = AtomicBool::new(false);

    // Nothing labelled to train on.
    let empty = f
        .clearance
        .request_training(&wang, "empty", None, None)
        .await
        .unwrap();
    let id = empty["job"].as_str().unwrap();
    let TrainingOutcome::Failed(why) = f.clearance.run_training_job(id, &stop).await.unwrap()
    else {
        panic!("trained on nothing");
    };
    // Each language once, apart: the model crate's refusal gives English and Chinese separately.
    assert_eq!(
        why,
        "history: is not allowed: no labelled goods items to train on / 不允许：没有可用于训练的已标注商品"
    );
    let view = f.clearance.training_job(&wang, id).await.unwrap();
    assert_eq!(
        (view["status"].as_str(), view["reason"].as_str()),
        (Some("failed"), Some(why.as_str()))
    );
    let events = f
        .clearance
        .store()
        .events(&format!("training-job:{id}"))
        .await
        .unwrap();
    let failed = events
        .iter()
        .find(|e| e.action == TRAINING_FAILED_ACTION)
        .unwrap();
    assert_eq!(failed.actor.user_id, crate::SYSTEM_USER_ID);

    // The analyst who asked is disabled before the job runs: not trained in their name.
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();
    let job = f
        .clearance
        .request_training(&wang, "later", None, None)
        .await
        .unwrap();
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .disable_user(&admin, "analyst-wang", "left the unit")
        .await
        .unwrap();
    let outcome = f
        .clearance
        .run_training_job(job["job"].as_str().unwrap(), &stop)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, TrainingOutcome::Failed(why) if why.contains("disabled")),
        "{outcome:?}"
    );
    assert!(f.clearance.store().risk_models().await.unwrap().is_empty());
    // An unknown job is not found.
    assert!(matches!(
        f.clearance.run_training_job("TJ-9999", &stop).await,
        Err(ClearanceError::NotFound)
    ));
}

/// At most `TRAINING_JOBS_WAITING_MAX` jobs wait: the next request is refused until one is done.
#[tokio::test]
async fn no_more_than_the_limit_of_training_jobs_wait() {
    use crate::training_jobs::TRAINING_JOBS_WAITING_MAX;
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let mut jobs = Vec::new();
    for n in 0..TRAINING_JOBS_WAITING_MAX {
        let job = f
            .clearance
            .request_training(&wang, &format!("job {n}"), None, None)
            .await
            .unwrap();
        jobs.push(job["job"].as_str().unwrap().to_owned());
    }
    // Refused however often it is asked (a refusal takes no job number).
    for _ in 0..3 {
        let refused = f
            .clearance
            .request_training(&wang, "one more", None, None)
            .await;
        assert!(
            matches!(&refused, Err(ClearanceError::Unavailable(why)) if why.contains("8 training jobs are waiting")),
            "{refused:?}"
        );
    }
    // One done (here: failed, nothing to train on): there is room again.
    let stop = AtomicBool::new(false);
    f.clearance.run_training_job(&jobs[0], &stop).await.unwrap();
    f.clearance
        .request_training(&wang, "one more", None, None)
        .await
        .unwrap();
}
