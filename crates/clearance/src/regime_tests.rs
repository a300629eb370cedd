//! One regime selection (issue 15): the same declarations lodged, estimated through the route's
//! `Clearance::estimate` and estimated by `regime::estimate` (what `customs assess` calls) give the
//! same figures, for CBEC orders, postal parcels and general trade; what lodging refuses the two
//! estimates refuse at the same field.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::ClearanceError;
use crate::assessment::OriginContext;
use crate::assessment_tests::with_sample;
use crate::regime::{self, Regime};
use crate::tests::{EXAMPLE, Fixture};

const POSTAL: &str = include_str!("../../../examples/postal-parcel.json");

/// A CBEC direct-purchase order (9610) of one item worth `cny` CNY, CIF, invoiced in CNY.
fn cbec_order(order_ref: &str, cny: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["procedure"] = json!("9610");
    body["transaction_terms"] = json!("CIF");
    body.as_object_mut().unwrap().remove("freight");
    body["invoice"]["amount"] = json!(cny);
    body["invoice"]["currency"] = json!("CNY");
    body["packages"]["count"] = json!("1");
    body["gross_mass_kg"] = json!("1");
    body["net_mass_kg"] = json!("0.5");
    body["items"] = json!([{
        "commodity_code": "8517130000",
        "description": "Smartphone, 5G",
        "quantity": { "value": "1", "unit": "C62" },
        "statutory_quantities": [{ "value": "1", "unit": "C62" }],
        "unit_price": cny,
        "amount": cny,
        "origin_country": "US",
        "levy_mode": "1"
    }]);
    body["cbec_order"] = json!({
        "order_ref": order_ref,
        "platform": "Tmall Global",
        "buyer": { "name": "张三", "id_type": "resident_id", "id_number": "11010519491231002X" }
    });
    serde_json::to_vec(&body).unwrap()
}

/// The example parcel with its one article at `price` CNY (class 2, 20 %), sent from `from`.
fn postal_parcel(price: &str, from: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(POSTAL).unwrap();
    body["postal_parcel"]["articles"][0]["unit_dutiable_price"] = json!(price);
    body["postal_parcel"]["sender_country"] = json!(from);
    serde_json::to_vec(&body).unwrap()
}

/// Lodged, estimated by the route, estimated by `customs assess`'s function: each total payable,
/// or the field each refused at.
async fn three_ways(f: &Fixture, key: &str, body: &[u8]) -> [Result<Decimal, String>; 3] {
    let broker = f.caller("broker").await;
    let refused = |e: ClearanceError| match e {
        ClearanceError::Invalid(errors) => errors[0].path.clone(),
        other => panic!("{other:?}"),
    };
    let money = |v: &Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    let lodged = match f.clearance.lodge(&broker, Some(key), body).await {
        Ok(lodged) => {
            let records = f
                .clearance
                .assessments(&broker, &lodged.number)
                .await
                .unwrap();
            let record = &records[0];
            assert_eq!(record["outcome"], "assessed", "{record:#}");
            // The regime recorded and answered is the one selection's.
            let declaration = wire::parse_json::<wire::DeclarationDto>(body)
                .unwrap()
                .parse(&domain::ParseContext {
                    reference: reference::ReferenceData::embedded(),
                    on: f.clearance.lodging_date(f.clearance.now()),
                })
                .unwrap();
            let regime = Regime::of(&declaration).code();
            assert_eq!(record["regime"], regime);
            assert_eq!(lodged.regime.as_deref(), Some(regime));
            assert_eq!(
                money(&record["total_payable"]),
                money(&record["report"]["total_payable"])
            );
            assert_eq!(
                lodged.amount_due,
                record["total_payable"].as_str().map(str::to_owned)
            );
            Ok(money(&record["total_payable"]))
        }
        Err(e) => Err(refused(e)),
    };
    let route = f
        .clearance
        .estimate(&broker, body, None)
        .await
        .map(|report| money(&report["total_payable"]))
        .map_err(refused);
    let day = f.clearance.lodging_date(f.clearance.now());
    let in_force = f
        .clearance
        .releases_cache
        .in_force(f.clearance.store(), day)
        .await
        .unwrap();
    let dto: wire::DeclarationDto = wire::parse_json(body).unwrap();
    let declaration = dto
        .parse(&domain::ParseContext {
            reference: reference::ReferenceData::embedded(),
            on: day,
        })
        .unwrap();
    let agreements = tariff::origin::agreements_china_2026();
    let origin = OriginContext {
        agreements: &agreements,
        used_elsewhere: &|_| false,
    };
    let cli = regime::estimate(
        &declaration,
        day,
        in_force.tariff.as_ref().map(|(_, r)| r.as_ref()),
        &in_force.rates,
        &tariff::AssessmentConfig::china_2026(),
        &origin,
    )
    .map(|(_, report)| money(&report["total_payable"]))
    .map_err(|problems| problems[0].path.clone());
    [lodged, route, cli]
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test]
async fn lodging_the_estimate_route_and_customs_assess_agree_for_every_regime() {
    let (f, _, _) = with_sample().await;
    // (what, body, expected for all three)
    let cases: Vec<(&str, Vec<u8>, Result<Decimal, String>)> = vec![
        // Issue 15: 300 × 9.1 % and 3,000 × 9.1 %, not general trade's 0.00 and 729.00.
        ("cbec 300", cbec_order("TM-300", "300.00"), Ok(dec("27.30"))),
        (
            "cbec 3000",
            cbec_order("TM-3000", "3000.00"),
            Ok(dec("273.00")),
        ),
        // Above 5,000 and not indivisible: general trade, refused as CBEC by all three.
        (
            "cbec 5200",
            cbec_order("TM-5200", "5200.00"),
            Err("cbec_order".into()),
        ),
        // Worked example 9: 300 × 20 % = 60.00; 250 × 20 % = 50.00, exempt.
        (
            "postal 300",
            postal_parcel("300.00", "DE"),
            Ok(dec("60.00")),
        ),
        ("postal 250", postal_parcel("250.00", "DE"), Ok(dec("0.00"))),
        // The value limits: 1,000 (800 from HK, MO, TW).
        (
            "postal 1000",
            postal_parcel("1000.00", "DE"),
            Ok(dec("200.00")),
        ),
        (
            "postal 1000.01",
            postal_parcel("1000.01", "DE"),
            Err("postal_parcel.articles".into()),
        ),
        (
            "postal 800.01 HK",
            postal_parcel("800.01", "HK"),
            Err("postal_parcel.articles".into()),
        ),
        (
            "general trade",
            EXAMPLE.as_bytes().to_vec(),
            Ok(dec("0.00")),
        ),
    ];
    for (index, (what, body, expected)) in cases.into_iter().enumerate() {
        let [lodged, route, cli] = three_ways(&f, &format!("k{index}"), &body).await;
        assert_eq!(lodged, route, "{what}: lodging and the estimate route");
        assert_eq!(lodged, cli, "{what}: lodging and customs assess");
        if what == "general trade" {
            // Its figures are the release's; only agreement matters here.
            assert!(lodged.is_ok(), "{what}: {lodged:?}");
        } else {
            assert_eq!(lodged, expected, "{what}");
        }
    }
}

#[tokio::test]
async fn a_postal_parcel_is_recorded_under_the_postal_regime_and_the_trade_sees_it() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("p1"), &postal_parcel("300.00", "DE"))
        .await
        .unwrap();
    assert_eq!(lodged.assessment, "assessed");
    assert_eq!(lodged.amount_due.as_deref(), Some("60.00"));
    assert_eq!(lodged.regime.as_deref(), Some("postal"));
    let record = &f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap()[0];
    assert_eq!(record["regime"], Regime::Postal.code(), "{record:#}");
    assert_eq!(record["report"]["regime"]["code"], "postal_articles");
    let article = &record["report"]["articles"][0];
    assert_eq!(article["rate"], "20%");
    assert_eq!(article["taxes"][0]["payable"], "60.00");
    assert_eq!(record["report"]["postal"]["value_limit"], "1000.00");
    // An officer's reassessment finds the same: no difference.
    let officer = f.caller("officer").await;
    let again = f
        .clearance
        .reassess(&officer, &lodged.number, Some("r1"), "check")
        .await
        .unwrap()
        .record;
    assert_eq!(again["regime"], "postal");
    assert_eq!(again["difference"]["total"], "0.00");
    // A single indivisible article above the limit is admitted and taxed.
    let mut body: Value = serde_json::from_str(POSTAL).unwrap();
    body["postal_parcel"]["articles"][0]["unit_dutiable_price"] = json!("4000.00");
    body["postal_parcel"]["articles"][0]["rate_class"] = json!("1");
    body["postal_parcel"]["articles"][0]["indivisible"] = json!(true);
    let lodged = f
        .clearance
        .lodge(&broker, Some("p2"), body.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(lodged.amount_due.as_deref(), Some("520.00"));
    // The refusal above the limit names the field in both languages.
    let refused = f
        .clearance
        .lodge(&broker, Some("p3"), &postal_parcel("1000.01", "DE"))
        .await;
    match refused {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "postal_parcel.articles");
            assert!(errors[0].message_en.contains("1000.00"), "{errors:?}");
            assert!(errors[0].message_zh.contains("限值"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
}
