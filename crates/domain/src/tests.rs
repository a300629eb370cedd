use chrono::NaiveDate;
use reference::ReferenceData;

use crate::codes::{CountryCode, CreditCode, credit_code_with_check};
use crate::lifecycle::{DeclarationEvent, DeclarationState, DeclarationStatus};
use crate::numbering::{DeclarationNumber, NumberScheme, NumberSchemeError};
use crate::numbers::{parse_amount, parse_decimal, parse_positive, parse_text};
use crate::{ErrorCode, ParseContext};

fn ctx() -> ParseContext<'static> {
    ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    }
}

#[test]
fn credit_codes_are_checked_by_their_check_character() {
    let cases = [
        ("91350100M000100Y43", None),
        ("91350100m000100y43", None),
        ("91350100M000100Y44", Some(ErrorCode::CheckDigit)),
        ("91350100M000100Y4", Some(ErrorCode::InvalidFormat)),
        ("91350100M00O100Y43", Some(ErrorCode::InvalidFormat)),
        ("", Some(ErrorCode::Required)),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            CreditCode::parse("trader.credit_code", raw)
                .err()
                .map(|e| e.code),
            expected,
            "{raw}"
        );
    }
    let completed = credit_code_with_check("91310000MA1FL0001").unwrap();
    assert!(CreditCode::parse("x", &completed).is_ok());
}

#[test]
fn codes_are_checked_against_the_list_in_force() {
    let cases = [
        ("CN", None),
        ("cn", None),
        ("XX", Some(ErrorCode::UnknownCode)),
        ("CHN", Some(ErrorCode::InvalidFormat)),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            CountryCode::parse("origin_country", raw, &ctx())
                .err()
                .map(|e| e.code),
            expected,
            "{raw}"
        );
    }
}

#[test]
fn decimals_are_exact_and_bounded() {
    assert_eq!(
        parse_decimal("a", "1234.50").unwrap().to_string(),
        "1234.50"
    );
    for bad in ["1e3", "1,000", "+1", ".5", "5.", "0x10", "NaN", " "] {
        assert!(parse_decimal("a", bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_amount("a", "1000000000000", 2).map(|d| d.to_string()),
        Ok("1000000000000".into())
    );
    assert_eq!(
        parse_amount("a", "1000000000000.01", 2).unwrap_err().code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        parse_amount("a", "1.005", 2).unwrap_err().code,
        ErrorCode::Precision
    );
    assert!(parse_amount("a", "1.0050", 3).is_ok());
    assert_eq!(
        parse_positive("q", "0", 5).unwrap_err().code,
        ErrorCode::OutOfRange
    );
    assert!(parse_positive("q", "0.00001", 5).is_ok());
    assert_eq!(
        parse_positive("q", "0.000001", 5).unwrap_err().code,
        ErrorCode::Precision
    );
}

#[test]
fn text_length_is_counted_in_characters_at_the_edge() {
    let limit = crate::limits::TEXT_LENGTH_MAX;
    assert!(parse_text("d", &"货".repeat(limit), limit).is_ok());
    assert_eq!(
        parse_text("d", &"货".repeat(limit + 1), limit)
            .unwrap_err()
            .code,
        ErrorCode::TooLong
    );
    assert_eq!(
        parse_text("d", "a\u{7}b", limit).unwrap_err().code,
        ErrorCode::InvalidFormat
    );
}

#[test]
fn china_numbers_have_office_year_flag_and_nine_digit_serial() {
    let scheme = NumberScheme::china();
    assert_eq!(
        scheme.number("2200", 2026, '1', 42).unwrap().as_str(),
        "220020261000000042"
    );
    assert_eq!(
        scheme
            .number("2200", 2026, '0', 999_999_999)
            .unwrap()
            .as_str()
            .len(),
        18
    );
    assert_eq!(scheme.number("2200", 2026, '0', 1_000_000_000), None);
    assert_eq!(scheme.counter_key("2200", 2026, '1'), "220020261*");
}

#[test]
fn number_schemes_are_configurable_and_checked() {
    let scheme = NumberScheme::parse("{office}-{year}-{flag}-{serial:6}").unwrap();
    assert_eq!(
        scheme.number("5300", 2027, '0', 7).unwrap().as_str(),
        "5300-2027-0-000007"
    );
    assert_eq!(
        NumberScheme::parse("{office}{year}"),
        Err(NumberSchemeError::MissingSerial)
    );
    assert_eq!(
        NumberScheme::parse("{serial:3}"),
        Err(NumberSchemeError::BadSerialWidth)
    );
    assert_eq!(
        NumberScheme::parse("{officer}{serial:9}"),
        Err(NumberSchemeError::UnknownPlaceholder("officer".into()))
    );
    assert_eq!(
        NumberScheme::parse("{serial:9"),
        Err(NumberSchemeError::Unclosed)
    );
}

fn example_declaration(kind: &str) -> crate::Declaration {
    // Built through the real boundary parser would need serde; the domain tests use a minimal
    // hand-built declaration instead.
    use crate::codes::*;
    use rust_decimal::Decimal;
    let c = ctx();
    let enterprise = crate::Enterprise {
        credit_code: CreditCode::parse("x", "91350100M000100Y43").unwrap(),
        customs_code: CustomsRegistrationCode::parse("x", "3501960001").unwrap(),
        name: "Trader".into(),
    };
    crate::Declaration {
        direction: crate::Direction::Import,
        kind: if kind == "summary" {
            crate::DeclarationKind::Summary
        } else {
            crate::DeclarationKind::Ordinary
        },
        procedure: ProcedureCode::parse("x", "0110", &c).unwrap(),
        levy_nature: None,
        office_of_lodging: CustomsOfficeCode::parse("x", "2200", &c).unwrap(),
        office_of_entry_exit: CustomsOfficeCode::parse("x", "2200", &c).unwrap(),
        declarant: enterprise.clone(),
        trader: enterprise,
        overseas_party: crate::OverseasParty {
            name: "Seller".into(),
            country: None,
        },
        transport: crate::Transport {
            mode: TransportModeCode::parse("x", "2", &c).unwrap(),
            means_name: None,
            voyage: None,
            document: crate::TransportDocument {
                kind: crate::TransportDocumentKind::BillOfLading,
                number: "BL1".into(),
            },
            departure_date: None,
            arrival_date: None,
            containers: vec![],
        },
        dispatch_country: None,
        destination_country: None,
        port: None,
        transaction_terms: None,
        invoice: crate::Invoice {
            number: None,
            date: None,
            currency: CurrencyCode::parse("x", "USD", &c).unwrap(),
            amount: Decimal::ONE,
        },
        freight: None,
        insurance: None,
        other_costs: None,
        packages: crate::Packages {
            count: 1,
            package_type: PackageTypeCode::parse("x", "CT", &c).unwrap(),
        },
        gross_mass_kg: Decimal::ONE,
        net_mass_kg: None,
        documents: vec![],
        origin_proofs: vec![],
        cbec_order: None,
        postal_parcel: None,
        items: vec![crate::GoodsItem {
            commodity_code: CommodityCode::parse("x", "851713", &c).unwrap(),
            description: "Phone".into(),
            quantity: crate::Quantity {
                value: Decimal::ONE,
                unit: UnitCode::parse("x", "C62", &c).unwrap(),
            },
            statutory_quantities: vec![],
            unit_price: None,
            amount: Decimal::ONE,
            origin_country: CountryCode::parse("x", "US", &c).unwrap(),
            levy_mode: None,
            preference: None,
        }],
    }
}

fn accepted(kind: &str) -> DeclarationState {
    let number = DeclarationNumber::parse("220020261000000001").unwrap();
    DeclarationState::start(&DeclarationEvent::Accepted {
        number,
        declaration: Box::new(example_declaration(kind)),
    })
    .unwrap()
}

#[test]
fn lifecycle_allows_only_the_legal_transitions() {
    let amend = DeclarationEvent::Amended {
        declaration: Box::new(example_declaration("ordinary")),
        reason: "typo".into(),
    };
    let cancel = DeclarationEvent::Cancelled {
        reason: "duplicate".into(),
    };
    let release = DeclarationEvent::Released { note: None };
    let complete = DeclarationEvent::Completed {
        full_number: DeclarationNumber::parse("220020261000000002").unwrap(),
        replaces: None,
    };

    let mut state = accepted("ordinary");
    state.check(&amend).unwrap();
    state.apply(&amend);
    assert_eq!((state.version, state.n_amendments), (2, 1));
    assert!(
        state.check(&complete).is_err(),
        "only a summary declaration is completed"
    );
    state.apply(&release);
    assert_eq!(state.status, DeclarationStatus::Released);
    for event in [&amend, &cancel, &release] {
        let error = state.check(event).unwrap_err();
        assert!(error.message_zh.contains("已放行"), "{error:?}");
    }

    let mut cancelled = accepted("ordinary");
    cancelled.apply(&cancel);
    assert!(cancelled.check(&release).is_err());

    let mut summary = accepted("summary");
    summary.apply(&release);
    summary.check(&complete).unwrap();
    summary.apply(&complete);
    assert!(
        summary.check(&complete).is_err(),
        "a summary is completed once"
    );
}

#[test]
fn state_is_the_fold_of_the_events() {
    let number = DeclarationNumber::parse("220020261000000001").unwrap();
    let events = [
        DeclarationEvent::Accepted {
            number,
            declaration: Box::new(example_declaration("ordinary")),
        },
        DeclarationEvent::Amended {
            declaration: Box::new(example_declaration("ordinary")),
            reason: "r".into(),
        },
        DeclarationEvent::Released {
            note: Some("ok".into()),
        },
    ];
    let state = DeclarationState::fold(&events).unwrap();
    assert_eq!(
        (state.status, state.version),
        (DeclarationStatus::Released, 3)
    );
    assert!(
        DeclarationState::fold(&events[1..]).is_none(),
        "a history starts with acceptance"
    );
    let broken = [events[0].clone(), events[2].clone(), events[1].clone()];
    assert!(
        DeclarationState::fold(&broken).is_none(),
        "no amendment after release"
    );
}

#[test]
fn the_full_declaration_must_agree_with_its_summary() {
    let summary = example_declaration("summary");
    let mut full = example_declaration("ordinary");
    assert!(crate::rules::check_full_against_summary(&full, &summary).is_empty());
    full.transport.document.number = "BL2".into();
    full.items[0].origin_country = CountryCode::parse("x", "DE", &ctx()).unwrap();
    let paths: Vec<String> = crate::rules::check_full_against_summary(&full, &summary)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        paths,
        ["transport.document.number", "items[0].origin_country"]
    );
}

fn origin_proof(
    number: &str,
    agreement: crate::TradeAgreement,
    hs6: &[&str],
) -> crate::OriginProof {
    use crate::codes::*;
    let c = ctx();
    crate::OriginProof {
        agreement,
        kind: crate::ProofKind::Certificate,
        number: number.into(),
        issue_date: NaiveDate::from_ymd_opt(2026, 10, 30).unwrap(),
        retroactive: false,
        exporter: "Exporter".into(),
        country_of_origin: CountryCode::parse("x", "MY", &c).unwrap(),
        direct_consignment_evidence: true,
        items: hs6
            .iter()
            .map(|code| crate::OriginProofItem {
                hs6: crate::Hs6::parse("x", code).unwrap(),
                criterion: crate::OriginCriterion::Ctc,
                quantity: crate::Quantity {
                    value: rust_decimal::Decimal::ONE,
                    unit: UnitCode::parse("x", "C62", &c).unwrap(),
                },
                value: None,
            })
            .collect(),
    }
}

fn preference(agreement: crate::TradeAgreement, number: &str, item: u32) -> crate::Preference {
    crate::Preference {
        agreement,
        proof_number: number.into(),
        proof_item: item,
    }
}

fn origin_errors(declaration: &crate::Declaration) -> Vec<String> {
    crate::rules::check_declaration(declaration, &ctx())
        .into_iter()
        .filter(|e| e.path.starts_with("origin_proofs") || e.path.contains("preference"))
        .map(|e| format!("{} {}", e.path, e.code.as_str()))
        .collect()
}

#[test]
fn agreements_criteria_and_proof_kinds_are_read_from_their_codes() {
    use crate::{OriginCriterion, ProofKind, TradeAgreement};
    assert_eq!(
        TradeAgreement::from_code("RCEP"),
        Some(TradeAgreement::Rcep)
    );
    assert_eq!(
        TradeAgreement::from_code(" rcep "),
        Some(TradeAgreement::Rcep)
    );
    assert_eq!(TradeAgreement::from_code("22"), Some(TradeAgreement::Rcep));
    assert_eq!(TradeAgreement::from_code("02"), Some(TradeAgreement::Acfta));
    assert_eq!(TradeAgreement::from_code("CPTPP"), None);
    assert_eq!(TradeAgreement::from_code(""), None);
    for (code, china_code, agreement) in TradeAgreement::ALL {
        assert_eq!(
            (agreement.code(), agreement.china_code()),
            (code, china_code)
        );
        assert_eq!(agreement.to_string(), code);
    }
    for (label, criterion) in OriginCriterion::ALL {
        assert_eq!(OriginCriterion::from_code(label), Some(criterion));
        assert_eq!(
            OriginCriterion::from_code(&label.to_ascii_lowercase()),
            Some(criterion)
        );
        assert_eq!(criterion.code(), label);
    }
    // A change in classification may be stated at its level (Form E writes CTH).
    assert_eq!(
        OriginCriterion::from_code("CTH"),
        Some(OriginCriterion::Cth)
    );
    assert_eq!(OriginCriterion::from_code("CTHX"), None);
    for (name, kind) in ProofKind::ALL {
        assert_eq!(ProofKind::from_name(name), Some(kind));
        assert_eq!(kind.name(), name);
    }
    assert_eq!(ProofKind::from_name("Certificate"), None);
}

#[test]
fn hs6_on_a_proof_is_six_digits_of_any_hs_version() {
    assert_eq!(crate::Hs6::parse("h", "851713").unwrap().as_str(), "851713");
    assert_eq!(
        crate::Hs6::parse("h", "8517.13").unwrap().as_str(),
        "851713"
    );
    // Not in the HS 2022 list, but a proof may quote another HS version.
    assert!(crate::Hs6::parse("h", "999999").is_ok());
    for (raw, code) in [
        ("", ErrorCode::Required),
        ("85171", ErrorCode::InvalidFormat),
        ("85171300", ErrorCode::InvalidFormat),
        ("85171A", ErrorCode::InvalidFormat),
    ] {
        assert_eq!(crate::Hs6::parse("h", raw).unwrap_err().code, code, "{raw}");
    }
}

#[test]
fn a_preference_must_point_at_a_good_on_a_proof_of_the_declaration() {
    use crate::TradeAgreement::{Acfta, Rcep};
    let mut declaration = example_declaration("ordinary");
    declaration.origin_proofs = vec![
        origin_proof("R1", Rcep, &["851713", "847130"]),
        origin_proof("E1", Acfta, &["851713"]),
    ];
    let cases = [
        (preference(Rcep, "R1", 1), vec![]),
        (preference(Rcep, "R1", 2), vec![]),
        (preference(Acfta, "E1", 1), vec![]),
        (
            preference(Rcep, "R9", 1),
            vec!["items[0].preference.proof_number not_allowed"],
        ),
        (
            preference(Acfta, "R1", 1),
            vec!["items[0].preference.agreement not_allowed"],
        ),
        (
            preference(Rcep, "R1", 3),
            vec!["items[0].preference.proof_item out_of_range"],
        ),
        (
            preference(Rcep, "R1", 0),
            vec!["items[0].preference.proof_item out_of_range"],
        ),
    ];
    for (claim, expected) in cases {
        declaration.items[0].preference = Some(claim.clone());
        assert_eq!(origin_errors(&declaration), expected, "{claim:?}");
        if expected.is_empty() {
            let (proof, item) = declaration.proof_for(&claim).unwrap();
            assert_eq!(proof.number, claim.proof_number);
            assert_eq!(item, &proof.items[claim.proof_item as usize - 1]);
        }
    }
}

#[test]
fn a_proof_whose_hs6_does_not_match_the_item_is_for_the_engine_not_a_lodging_error() {
    let mut declaration = example_declaration("ordinary");
    // The item is 851713; the proof's good is 847130.
    declaration.origin_proofs = vec![origin_proof("R1", crate::TradeAgreement::Rcep, &["847130"])];
    declaration.items[0].preference = Some(preference(crate::TradeAgreement::Rcep, "R1", 1));
    assert_eq!(origin_errors(&declaration), Vec::<String>::new());
}

#[test]
fn a_proof_number_appears_once_among_the_proofs() {
    use crate::TradeAgreement::{Acfta, Rcep};
    let mut declaration = example_declaration("ordinary");
    declaration.origin_proofs = vec![
        origin_proof("R1", Rcep, &["851713"]),
        origin_proof("R2", Rcep, &["851713"]),
        origin_proof("R1", Acfta, &["851713"]),
    ];
    assert_eq!(
        origin_errors(&declaration),
        ["origin_proofs[2].number duplicate"]
    );
    // A proof no item claims is not an error.
    declaration.origin_proofs.truncate(2);
    assert_eq!(origin_errors(&declaration), Vec::<String>::new());
}

const RESIDENT_ID: &str = "11010519491231002X";

#[test]
fn resident_id_numbers_are_checked_by_their_check_character_and_date_of_birth() {
    use crate::codes::ResidentIdNumber;
    let on = ctx().on;
    let path = "cbec_order.buyer.id_number";
    let cases = [
        (RESIDENT_ID, None),
        ("11010519491231002x", None),
        (" 11010519491231002X ", None),
        // One digit of the sequence number mistyped.
        ("11010519491231003X", Some(ErrorCode::CheckDigit)),
        ("110105194912310021", Some(ErrorCode::CheckDigit)),
        ("11010519491231002", Some(ErrorCode::InvalidFormat)),
        ("11010519491231002XX", Some(ErrorCode::InvalidFormat)),
        ("1101051949123100X2", Some(ErrorCode::InvalidFormat)),
        ("11010519491231002Y", Some(ErrorCode::InvalidFormat)),
        ("11010519491231002Ｘ", Some(ErrorCode::InvalidFormat)),
        ("", Some(ErrorCode::Required)),
    ];
    for (raw, expected) in cases {
        let result = ResidentIdNumber::parse(path, raw, on);
        assert_eq!(result.as_ref().err().map(|e| e.code), expected, "{raw}");
        if let Err(error) = result {
            assert_eq!(error.path, path);
        }
    }
    let number = ResidentIdNumber::parse(path, "11010519491231002x", on).unwrap();
    assert_eq!(number.as_str(), RESIDENT_ID);
    assert_eq!(number.masked(), "110105********002X");
    // Dates of birth: valid, and not after the lodging date.
    let with_birth =
        |birth: &str| crate::codes::resident_id_with_check(&format!("110105{birth}123")).unwrap();
    for (birth, ok) in [
        ("20261126", true),
        ("20261127", false),
        ("20000229", true),
        ("19000229", false),
        ("19491331", false),
        ("19490000", false),
    ] {
        let result = ResidentIdNumber::parse(path, &with_birth(birth), on);
        assert_eq!(
            result.as_ref().err().map(|e| e.code),
            (!ok).then_some(ErrorCode::InvalidFormat),
            "{birth}"
        );
    }
    assert_eq!(
        crate::codes::resident_id_with_check("11010519491231002").as_deref(),
        Some(RESIDENT_ID)
    );
    assert_eq!(
        crate::codes::resident_id_with_check("1101051949123100"),
        None
    );
}

#[test]
fn a_resident_id_number_is_never_shown() {
    use crate::codes::ResidentIdNumber;
    let on = ctx().on;
    let number = ResidentIdNumber::parse("p", RESIDENT_ID, on).unwrap();
    assert_eq!(
        format!("{number:?}"),
        "ResidentIdNumber(110105********002X)"
    );
    let identity = crate::BuyerIdentity::ResidentId(number);
    assert!(!format!("{identity:?}").contains(RESIDENT_ID));
    // Neither the number nor a part of it longer than the masked form shows is in an error.
    for raw in [
        "11010519491231003X",
        "110105194912310",
        "11010529491231002X",
        "11010519491331002X",
    ] {
        let error = ResidentIdNumber::parse("p", raw, on).unwrap_err();
        for message in [&error.message_en, &error.message_zh, &error.to_string()] {
            assert!(!message.contains(&raw[..10]), "{message}");
        }
    }
}

#[test]
fn the_stored_identity_has_a_hash_and_a_masked_number() {
    use crate::{BuyerIdentity, parse_id_hash, parse_id_masked};
    let hash = "0123456789abcdef".repeat(4);
    assert_eq!(parse_id_hash("h", &hash).unwrap(), hash);
    for bad in [
        &hash[..63],
        &format!("{hash}0"),
        &hash.to_ascii_uppercase(),
        &format!("{}g", &hash[..63]),
    ] {
        assert_eq!(
            parse_id_hash("h", bad).unwrap_err().code,
            ErrorCode::InvalidFormat,
            "{bad}"
        );
    }
    assert_eq!(
        parse_id_hash("h", " ").unwrap_err().code,
        ErrorCode::Required
    );
    for good in ["110105********002X", "110105********0021"] {
        assert_eq!(parse_id_masked("m", good).unwrap(), good);
    }
    for bad in [
        RESIDENT_ID,
        "110105*******002X",
        "110105********002x",
        "110105*********02X",
        "11010*********002X",
        "110105********002Y",
    ] {
        assert_eq!(
            parse_id_masked("m", bad).unwrap_err().code,
            ErrorCode::InvalidFormat,
            "{bad}"
        );
    }

    let number = crate::codes::ResidentIdNumber::parse("p", RESIDENT_ID, ctx().on).unwrap();
    let lodged = BuyerIdentity::ResidentId(number);
    let stored = lodged.protect(|n| {
        assert_eq!(n, RESIDENT_ID);
        hash.clone()
    });
    let expected = BuyerIdentity::Protected {
        hash: hash.clone(),
        masked: "110105********002X".into(),
    };
    assert_eq!(stored.as_ref(), Some(&expected));
    assert_eq!(expected.protect(|_| unreachable!()), Some(expected.clone()));
    assert_eq!(lodged.protect(|_| "not a hash".into()), None);
    assert_eq!(lodged.masked(), expected.masked());
}

fn cbec_order() -> crate::CbecOrder {
    crate::CbecOrder {
        order_ref: "ORDER-1".into(),
        platform: "Tmall Global".into(),
        buyer: crate::CbecBuyer {
            name: "张三".into(),
            identity: crate::BuyerIdentity::ResidentId(
                crate::codes::ResidentIdNumber::parse("p", RESIDENT_ID, ctx().on).unwrap(),
            ),
        },
        indivisible_item: false,
    }
}

#[test]
fn a_cbec_procedure_and_a_cbec_order_go_together_on_imports() {
    use crate::codes::ProcedureCode;
    let cbec_errors = |direction, procedure: &str, order: Option<crate::CbecOrder>| {
        let mut declaration = example_declaration("ordinary");
        declaration.direction = direction;
        declaration.procedure = ProcedureCode::parse("x", procedure, &ctx()).unwrap();
        declaration.cbec_order = order;
        crate::rules::check_declaration(&declaration, &ctx())
            .into_iter()
            .filter(|e| e.path.starts_with("cbec_order"))
            .map(|e| format!("{} {}", e.path, e.code.as_str()))
            .collect::<Vec<_>>()
    };
    use crate::Direction::{Export, Import};
    for procedure in crate::CBEC_PROCEDURES {
        assert_eq!(
            cbec_errors(Import, procedure, Some(cbec_order())),
            Vec::<String>::new()
        );
        assert_eq!(
            cbec_errors(Import, procedure, None),
            ["cbec_order required"]
        );
        assert_eq!(
            cbec_errors(Export, procedure, Some(cbec_order())),
            ["cbec_order not_allowed"]
        );
        assert_eq!(cbec_errors(Export, procedure, None), Vec::<String>::new());
    }
    assert_eq!(
        cbec_errors(Import, "0110", Some(cbec_order())),
        ["cbec_order not_allowed"]
    );
    assert_eq!(cbec_errors(Import, "0110", None), Vec::<String>::new());
    let mut declaration = example_declaration("ordinary");
    declaration.cbec_order = Some(cbec_order());
    let error = crate::rules::check_declaration(&declaration, &ctx())
        .into_iter()
        .find(|e| e.path == "cbec_order")
        .unwrap();
    assert!(error.message_en.contains("9610, 1210, 1239") && error.message_en.contains("0110"));
    assert!(error.message_zh.contains("跨境电商"));
}

#[test]
fn the_cbec_procedures_are_in_the_procedure_list() {
    for procedure in crate::CBEC_PROCEDURES {
        assert!(
            crate::codes::ProcedureCode::parse("procedure", procedure, &ctx()).is_ok(),
            "{procedure}"
        );
    }
}

/// A refusal never repeats a submitted value in full: values are cut at
/// `ECHOED_VALUE_CHARS_MAX` characters (not bytes: Chinese text is cut between characters), and
/// whole messages and paths at `ECHOED_TEXT_CHARS_MAX`.
#[test]
fn a_refusal_echoes_at_most_a_bounded_part_of_a_value() {
    use crate::{ECHOED_TEXT_CHARS_MAX, ECHOED_VALUE_CHARS_MAX, FieldError, echoed};
    let at_edge = "码".repeat(ECHOED_VALUE_CHARS_MAX);
    assert_eq!(echoed(&at_edge), at_edge.as_str());
    let over = format!("{at_edge}X");
    assert_eq!(echoed(&over), format!("{at_edge}…"));

    let megabyte = "A".repeat(1 << 20);
    for error in [
        FieldError::unknown_code("currency", "currency", "币制", &megabyte),
        FieldError::code_not_in_force("currency", "currency", "币制", &megabyte, "2026-11-27"),
        FieldError::invalid_type("items", &megabyte),
        FieldError::invalid_json("", &megabyte),
        FieldError::unit_mismatch("items[0].quantity.unit", &megabyte, "KGM"),
        FieldError::summary_mismatch("trader.name", &megabyte, &megabyte),
        FieldError::sum_mismatch("invoice.amount", &megabyte, &megabyte, "0.01"),
        FieldError::amount_mismatch("items[0].amount", &megabyte, &megabyte),
        FieldError::mass_inconsistent("net_mass_kg", &megabyte, &megabyte),
        FieldError::not_allowed(&megabyte, &megabyte, &megabyte),
        FieldError::unknown_field(&megabyte),
    ] {
        for text in [&error.path, &error.message_en, &error.message_zh] {
            assert!(
                text.chars().count() <= ECHOED_TEXT_CHARS_MAX + 1,
                "{} characters from {:?}",
                text.len(),
                error.code
            );
        }
    }
    let cut = FieldError::unknown_code("currency", "currency", "币制", &megabyte);
    assert!(
        cut.message_en
            .contains(&format!("'{}…'", "A".repeat(ECHOED_VALUE_CHARS_MAX)))
    );
    // A message at the text limit is kept whole.
    let whole = "w".repeat(ECHOED_TEXT_CHARS_MAX - "is not allowed: ".len());
    let kept = FieldError::not_allowed("x", &whole, "z");
    assert_eq!(kept.message_en.chars().count(), ECHOED_TEXT_CHARS_MAX);
    assert!(!kept.message_en.ends_with('…'));
}
