//! Chapter 12: release times. The goods of two declarations are released; the time from lodging
//! to release is read per period and office, and a later update of a released declaration does
//! not move its release time.

use store::{DeclarationUpdate, Projection, Store};

use crate::Story;
use crate::fixtures::{T0, actor, append, officer};

impl<S: Store> Story<'_, S> {
    /// Sets the status `released` on the ledger's declaration `id` at `at_ms`.
    async fn release(&mut self, key: &str, id: &str, at_ms: i64) {
        let entry = self.ledger_entry(id);
        entry.status = "released".to_owned();
        entry.version += 1;
        entry.updated_at_ms = at_ms;
        let update = DeclarationUpdate {
            id: id.to_owned(),
            status: "released".to_owned(),
            version: entry.version,
            updated_at_ms: at_ms,
            completed_by: None,
            replaces_document: false,
        };
        let mut release = append(
            &actor(&officer()),
            key,
            id,
            "declaration.released",
            Projection::UpdateDeclaration(update),
        );
        release.expected_version = Some(entry.version - 1);
        release.recorded_at_ms = at_ms;
        self.appended(release).await;
        assert_eq!(
            self.store.declaration(id).await.unwrap().as_ref(),
            Some(&*self.ledger_entry(id))
        );
    }

    pub(crate) async fn read_release_times(&mut self) {
        let day = 86_400_000;
        assert!(
            self.store
                .release_durations(T0, T0 + day, None)
                .await
                .unwrap()
                .is_empty()
        );
        // D-O1 lodged at T0 + 1.5 s at 5301, D-T4 at T0 + 3 s at 2201.
        self.release("release-D-O1", "D-O1", T0 + 3_601_500).await;
        self.release("release-D-T4", "D-T4", T0 + 603_000).await;
        let all = self.store.release_durations(T0, T0 + day, None).await;
        assert_eq!(all.unwrap(), [600_000, 3_600_000], "ascending");
        let at_5301 = self.store.release_durations(T0, T0 + day, Some("5301"));
        assert_eq!(at_5301.await.unwrap(), [3_600_000]);
        // The period is of the release, end exclusive.
        let before = self.store.release_durations(T0, T0 + 603_000, None).await;
        assert!(before.unwrap().is_empty());
        let from = self
            .store
            .release_durations(T0 + 603_000, T0 + 603_001, None);
        assert_eq!(from.await.unwrap(), [600_000]);

        // Another update that leaves the status `released` keeps the first release time.
        self.release("release-D-T4-again", "D-T4", T0 + 2 * day)
            .await;
        let all = self.store.release_durations(T0, T0 + 3 * day, None).await;
        assert_eq!(all.unwrap(), [600_000, 3_600_000]);
    }
}
