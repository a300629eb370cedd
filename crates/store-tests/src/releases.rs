//! Chapter 6: reference-data releases (tariff releases, exchange-rate tables) imported,
//! activated and rolled back, and the register of used proofs of origin.

use store::{Append, Projection, ReleaseFileRow, ReleaseRow, Store, StoreError};

use crate::Story;
use crate::fixtures::{T0, administrator, append};

/// A stand-in for the SHA-256 hex of a release's files.
fn digest(tag: char) -> String {
    tag.to_string().repeat(64)
}

fn release(id: &str, kind: &str, label: &str, digest: &str) -> ReleaseRow {
    ReleaseRow {
        id: id.to_owned(),
        kind: kind.to_owned(),
        label: label.to_owned(),
        digest: digest.to_owned(),
        imported_at_ms: T0 + 30_000,
        imported_by: administrator().user_id,
        status: "imported".to_owned(),
        effective_from: None,
        activated_seq: None,
        rolled_back_seq: None,
        summary: r#"{"files":2,"lines":3}"#.to_owned(),
    }
}

fn file(name: &str, text: &str) -> ReleaseFileRow {
    ReleaseFileRow {
        name: name.to_owned(),
        text: text.to_owned(),
    }
}

/// Files as an administrator uploads them: CSV without a byte-order mark, quoted fields with
/// doubled quotes, commas and a line break inside, CRLF and LF line ends, no final line end,
/// Chinese text; a store must give them back byte for byte.
fn tariff_files() -> Vec<ReleaseFileRow> {
    vec![
        file(
            "tariff_lines.csv",
            "hs_code,description,unit,mfn\r\n\
             0101210010,\"改良种用马, \"\"纯种\"\"\",035,0\r\n\
             8471300000,\"便携式自动数据处理设备\n（重量≤10千克）\",001,0\r\n\
             2204210000,\"葡萄酒 \\ 2L及以下\",095,14%",
        ),
        file(
            "notes.txt",
            "2026年1月1日起执行。\n\t注：暂定税率见附表。\n",
        ),
        file("empty.csv", ""),
    ]
}

fn import(key: &str, release: ReleaseRow, files: Vec<ReleaseFileRow>) -> Append {
    let payload = format!(
        r#"{{"digest":"{}","id":"{}","kind":"{}"}}"#,
        release.digest, release.id, release.kind
    );
    let subject = release.id.clone();
    let mut append = append(
        &administrator(),
        key,
        &subject,
        "release.imported",
        Projection::NewRelease { release, files },
    );
    append.payload = payload;
    append
}

fn activate(key: &str, id: &str, effective_from: &str) -> Append {
    let projection = Projection::ActivateRelease {
        id: id.to_owned(),
        effective_from: effective_from.to_owned(),
    };
    append(&administrator(), key, id, "release.activated", projection)
}

fn roll_back(key: &str, id: &str) -> Append {
    let projection = Projection::RollBackRelease { id: id.to_owned() };
    append(&administrator(), key, id, "release.rolled_back", projection)
}

fn proof_uses(key: &str, declaration_id: &str, proof_keys: &[&str]) -> Append {
    let projection = Projection::OriginProofUses {
        declaration_id: declaration_id.to_owned(),
        proof_keys: proof_keys.iter().map(|k| (*k).to_owned()).collect(),
    };
    let officer = crate::fixtures::actor(&crate::fixtures::officer());
    append(
        &officer,
        key,
        declaration_id,
        "declaration.assessed",
        projection,
    )
}

fn assert_conflict(err: &StoreError, expected: &str) {
    assert!(
        matches!(err, StoreError::Conflict(what) if what == expected),
        "expected Conflict({expected}), got {err:?}"
    );
}

fn assert_not_found(err: &StoreError, expected: &str) {
    assert!(
        matches!(err, StoreError::NotFound(what) if what == expected),
        "expected NotFound({expected}), got {err:?}"
    );
}

impl<S: Store> Story<'_, S> {
    pub(crate) async fn keep_reference_releases(&mut self) {
        let tr1 = release("TR-0001", "tariff", "2026 税则, January", &digest('1'));
        let tr2 = release("TR-0002", "tariff", "2026 tariff, July", &digest('2'));
        // Digests are unique per kind: another kind may hold the same one.
        let xr1 = release("XR-0001", "exchange_rates", "2026-01 汇率", &digest('1'));
        let xr_files = vec![file(
            "rates.csv",
            "currency,rate\n\"USD\",\"7.1234\"\nEUR,7.8012\n",
        )];
        self.appended(import("imp-1", tr1.clone(), tariff_files()))
            .await;
        self.appended(import("imp-2", tr2.clone(), vec![file("a.csv", "x")]))
            .await;
        self.appended(import("imp-3", xr1.clone(), xr_files.clone()))
            .await;

        let listed = |kind: &'static str| self.store.releases(kind);
        assert_eq!(listed("tariff").await.unwrap(), [tr1.clone(), tr2.clone()]);
        assert_eq!(
            listed("exchange_rates").await.unwrap(),
            std::slice::from_ref(&xr1)
        );
        assert!(listed("origin_rules").await.unwrap().is_empty());
        assert_eq!(self.store.release("XR-0001").await.unwrap(), Some(xr1));
        assert_eq!(self.store.release("TR-9999").await.unwrap(), None);
        let files = |id: &'static str| self.store.release_files(id);
        assert_eq!(files("TR-0001").await.unwrap(), Some(tariff_files()));
        assert_eq!(files("XR-0001").await.unwrap(), Some(xr_files));
        assert_eq!(files("TR-9999").await.unwrap(), None);

        // The same id, or the same files again, is refused and writes nothing: the refused
        // request's key is still free.
        let taken = release("TR-0001", "tariff", "again", &digest('9'));
        let err = self.refused(import("imp-4", taken, Vec::new())).await;
        assert_conflict(&err, "release TR-0001");
        let same_files = release("TR-0003", "tariff", "copy", &digest('1'));
        let err = self
            .refused(import("imp-4", same_files, tariff_files()))
            .await;
        let expected = format!("release with digest {} (TR-0001)", digest('1'));
        assert_conflict(&err, &expected);
        let twice = vec![file("a.csv", "1"), file("a.csv", "2")];
        let named_twice = release("TR-0003", "tariff", "names", &digest('3'));
        let err = self.refused(import("imp-4", named_twice, twice)).await;
        assert_conflict(&err, "file a.csv of release TR-0003");
        let mut active = release("TR-0003", "tariff", "active", &digest('3'));
        active.status = "active".to_owned();
        assert!(
            self.refused(import("imp-4", active, Vec::new()))
                .await
                .to_string()
                .contains("TR-0003")
        );
        assert_eq!(self.store.release("TR-0003").await.unwrap(), None);
        assert_eq!(files("TR-0003").await.unwrap(), None);
        assert_eq!(listed("tariff").await.unwrap(), [tr1.clone(), tr2.clone()]);
        assert_eq!(files("TR-0001").await.unwrap(), Some(tariff_files()));

        // Activation: from imported, once.
        let err = self.refused(activate("imp-4", "TR-0001", "2026-1-1")).await;
        assert!(matches!(err, StoreError::Other(_)), "{err:?}");
        let activated = self
            .appended(activate("imp-4", "TR-0001", "2026-01-01"))
            .await;
        let mut tr1_active = ReleaseRow {
            status: "active".to_owned(),
            effective_from: Some("2026-01-01".to_owned()),
            activated_seq: Some(activated),
            ..tr1.clone()
        };
        let row = |id: &'static str| self.store.release(id);
        assert_eq!(row("TR-0001").await.unwrap().as_ref(), Some(&tr1_active));
        let err = self
            .refused(activate("act-1b", "TR-0001", "2026-02-01"))
            .await;
        assert_conflict(&err, "release TR-0001 is active");
        assert_eq!(row("TR-0001").await.unwrap().as_ref(), Some(&tr1_active));

        // Roll-back: from active only; the activation is kept on record.
        let err = self.refused(roll_back("rb-2", "TR-0002")).await;
        assert_conflict(&err, "release TR-0002 is imported");
        let rolled_back = self.appended(roll_back("rb-1", "TR-0001")).await;
        let tr1_rolled_back = ReleaseRow {
            status: "rolled_back".to_owned(),
            rolled_back_seq: Some(rolled_back),
            ..tr1_active.clone()
        };
        assert_eq!(row("TR-0001").await.unwrap(), Some(tr1_rolled_back.clone()));
        let err = self.refused(roll_back("rb-1b", "TR-0001")).await;
        assert_conflict(&err, "release TR-0001 is rolled_back");
        assert_eq!(row("TR-0001").await.unwrap(), Some(tr1_rolled_back));

        // Re-activation after a roll-back, from a new date.
        let reactivated = self
            .appended(activate("act-2", "TR-0001", "2026-02-01"))
            .await;
        tr1_active.effective_from = Some("2026-02-01".to_owned());
        tr1_active.activated_seq = Some(reactivated);
        assert_eq!(row("TR-0001").await.unwrap().as_ref(), Some(&tr1_active));
        assert_eq!(listed("tariff").await.unwrap(), [tr1_active, tr2]);

        // Unknown releases.
        let err = self
            .refused(activate("act-x", "TR-9999", "2026-01-01"))
            .await;
        assert_not_found(&err, "release TR-9999");
        let err = self.refused(roll_back("rb-x", "TR-9999")).await;
        assert_not_found(&err, "release TR-9999");

        // Each change is an event of the release, in the audit chain.
        let history = self.store.events("TR-0001").await.unwrap();
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "release.imported",
                "release.activated",
                "release.rolled_back",
                "release.activated"
            ]
        );
        let seqs: Vec<u64> = history[1..].iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [activated, rolled_back, reactivated]);
        assert_eq!(
            history[0].payload,
            format!(
                r#"{{"digest":"{}","id":"TR-0001","kind":"tariff"}}"#,
                digest('1')
            )
        );
        let imported: Vec<String> = self
            .store
            .events("XR-0001")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(imported, ["release.imported"]);
    }

    pub(crate) async fn record_origin_proof_uses(&mut self) {
        const KR: &str = "RCEP:KR:KR-2026-0001";
        const CN: &str = "ACFTA:VN:E-2026-0042";
        let user = |key: &'static str| self.store.origin_proof_user(key);
        assert_eq!(user(KR).await.unwrap(), None);

        self.appended(proof_uses("use-1", "D-T2", &[KR])).await;
        assert_eq!(user(KR).await.unwrap().as_deref(), Some("D-T2"));

        // First user wins: a later declaration's use of the same proof is no error and changes
        // nothing, while its new proofs are recorded (a key repeated in one list too).
        self.appended(proof_uses("use-2", "D-T4", &[KR, CN, CN]))
            .await;
        assert_eq!(user(KR).await.unwrap().as_deref(), Some("D-T2"));
        assert_eq!(user(CN).await.unwrap().as_deref(), Some("D-T4"));
        self.appended(proof_uses("use-3", "D-T2", &[CN])).await;
        assert_eq!(user(CN).await.unwrap().as_deref(), Some("D-T4"));

        // An empty list projects nothing; the event is still recorded.
        let seq = self.appended(proof_uses("use-4", "D-O1", &[])).await;
        assert_eq!(user(KR).await.unwrap().as_deref(), Some("D-T2"));
        let history = self.store.events("D-O1").await.unwrap();
        assert_eq!(
            history.last().map(|e| (e.seq, e.action.as_str())),
            Some((seq, "declaration.assessed"))
        );
    }
}
