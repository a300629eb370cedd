//! Chapter 11: officers' duty (值班). Going on or off duty is an event; every change is kept, and
//! an officer's latest change says where they are on duty, if anywhere.

use store::{Actor, Append, DutyRow, Projection, Store, StoreError};

use crate::Story;
use crate::fixtures::{actor, append, officer, trader_clerk};
use crate::tasks::inspector;

fn set(key: &str, by: &Actor, officer: &str, office: Option<&str>) -> Append {
    append(
        by,
        key,
        &format!("officer:{officer}"),
        if office.is_some() {
            "officer.on_duty"
        } else {
            "officer.off_duty"
        },
        Projection::SetDuty {
            officer: officer.to_owned(),
            office: office.map(str::to_owned),
        },
    )
}

fn on_duty(rows: &[DutyRow]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|r| (r.officer.as_str(), r.office.as_str()))
        .collect()
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_officers_duty(&mut self) {
        let (li, zhou) = (officer(), inspector());
        let by = actor(&li);
        assert!(self.store.officers_on_duty(None).await.unwrap().is_empty());

        let seq = self
            .appended(set("duty-1", &by, &li.id, Some("2200")))
            .await;
        self.appended(set("duty-2", &by, &zhou.id, Some("5301")))
            .await;
        let at_2200 = self.store.officers_on_duty(Some("2200")).await.unwrap();
        assert_eq!(on_duty(&at_2200), [(li.id.as_str(), "2200")]);
        assert_eq!(at_2200[0].seq, seq);
        assert!(at_2200[0].since_ms > 0);
        assert_eq!(
            on_duty(&self.store.officers_on_duty(None).await.unwrap()),
            [(li.id.as_str(), "2200"), (zhou.id.as_str(), "5301")]
        );

        // Moving to another office leaves the first; going off duty leaves every office.
        self.appended(set("duty-3", &by, &zhou.id, Some("2200")))
            .await;
        assert_eq!(
            on_duty(&self.store.officers_on_duty(Some("2200")).await.unwrap()),
            [(zhou.id.as_str(), "2200"), (li.id.as_str(), "2200")]
        );
        assert!(
            self.store
                .officers_on_duty(Some("5301"))
                .await
                .unwrap()
                .is_empty()
        );
        self.appended(set("duty-4", &by, &li.id, None)).await;
        assert_eq!(
            on_duty(&self.store.officers_on_duty(None).await.unwrap()),
            [(zhou.id.as_str(), "2200")]
        );
        // Back on duty at the office left earlier: the latest change is in force.
        self.appended(set("duty-5", &by, &li.id, Some("2200")))
            .await;
        assert_eq!(
            on_duty(&self.store.officers_on_duty(Some("2200")).await.unwrap()),
            [(zhou.id.as_str(), "2200"), (li.id.as_str(), "2200")]
        );

        // Only officers go on duty, and only those who exist.
        for who in [trader_clerk().id, "usr-nobody".to_owned()] {
            match self.refused(set("duty-x", &by, &who, Some("2200"))).await {
                StoreError::NotFound(what) => assert_eq!(what, format!("officer {who}")),
                other => panic!("expected not found, got {other:?}"),
            }
        }
        assert_eq!(self.store.officers_on_duty(None).await.unwrap().len(), 2);
    }
}
