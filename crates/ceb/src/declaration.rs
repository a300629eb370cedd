//! An accepted inventory list (with its order) as the platform's JSON declaration
//! (`wire::DeclarationDto`), so that it is lodged through the same boundary parser and clearance
//! path as any other (`Clearance::lodge_as`: CBEC assessment, allowance booking, targeting). What
//! goes where is written down in `docs/ceb-mapping.md`.
//!
//! The list does not carry what the declaration needs of the declarant and the trader (a credit
//! code and a customs code each): the caller looks them up in its register of enterprises (by
//! `agentCode` and `ebcCode`) and passes them as `Parties`. Codes go through the ISO tables
//! (`codes`, and `data/units.csv` for units); a code with no equivalent is refused by its CEB
//! path. The buyer's ID number goes only into `cbec_order.buyer.id_number`, which the platform
//! hashes before storing.

use std::collections::HashMap;
use std::sync::OnceLock;

use domain::FieldError;
use domain::limits::{AMOUNT_MAX, QUANTITY_MAX, UNIT_PRICE_DECIMALS_MAX};
use rust_decimal::Decimal;
use wire::DeclarationDto;
use wire::declaration::{
    CbecBuyerDto, CbecOrderDto, ChargeDto, EnterpriseDto, GoodsItemDto, IdNumberText, InvoiceDto,
    NumText, OverseasPartyDto, PackagesDto, QuantityDto, TransportDocumentDto, TransportDto,
};

use crate::arithmetic::to_fen;
use crate::codes::Country;
use crate::documents::{Inventory, Order};

const UNITS_CSV: &str = include_str!("../data/units.csv");

/// The enterprises behind the list's codes, from the caller's register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The declaring agent (`agentCode`): the declaration's declarant.
    pub declarant: EnterpriseDto,
    /// The e-commerce enterprise (`ebcCode`): the declaration's trader.
    pub trader: EnterpriseDto,
}

/// The levy nature of a CBEC retail import: 101 general levy (一般征税).
pub const LEVY_NATURE: &str = "101";
/// Each item is levied per regulation (照章征税); the CBEC regime's own rates are the assessment's.
pub const LEVY_MODE: &str = "1";
/// The list's `wrapType` codes are not mapped: every parcel is a Rec 21 package.
pub const PACKAGE_TYPE: &str = "PK";

/// Units of packaging (箱 box, 罐 can, 包 pack, 袋 bag, 盒 case): one of them holds articles, it
/// is not one article.
pub const PACKAGING_UNITS: [&str; 5] = ["120", "122", "125", "136", "140"];

/// Whether the list is one indivisible item (单件不可分割商品, rules §2.7): a single item line
/// of quantity 1 in a unit that counts articles (Rec 20 one, set or pair, not a packaging
/// unit). Such an order above the 5,000 CNY transaction limit may still clear under CBEC, at
/// full rates, within the buyer's annual limit; anything else above it is general trade. The
/// list carries no flag of its own, so it is decided from what the list says and customs can
/// check (two of an article, a kilogram of goods or a box of them are divisible).
pub fn single_article(inventory: &Inventory) -> bool {
    let [item] = inventory.items.as_slice() else {
        return false;
    };
    item.qty == Decimal::ONE
        && !PACKAGING_UNITS.contains(&item.unit.as_str())
        && units()
            .get(&item.unit)
            .is_some_and(|unece| matches!(unece.as_str(), "C62" | "SET" | "PR"))
}

/// China customs unit codes (JGS-20) to UNECE Rec 20, the rows of `data/units.csv`.
pub fn units() -> &'static HashMap<String, String> {
    static UNITS: OnceLock<HashMap<String, String>> = OnceLock::new();
    UNITS.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(UNITS_CSV.as_bytes());
        reader
            .records()
            .map(|row| {
                let row = row.expect("data/units.csv reads (tested)");
                (row[0].to_owned(), row[2].to_owned())
            })
            .collect()
    })
}

fn unit(path: &str, code: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let found = units().get(code).cloned();
    if found.is_none() {
        errors.push(FieldError::unknown_code(
            path,
            "China customs unit with a UNECE equivalent",
            "有 UNECE 对应代码的海关计量单位",
            code,
        ));
    }
    found
}

fn iso(path: &str, country: &Country, errors: &mut Vec<FieldError>) -> Option<String> {
    if country.iso_alpha2.is_none() {
        errors.push(FieldError::not_allowed(
            path,
            &format!(
                "the customs code {} ({}) has no ISO 3166 country, which a declaration needs",
                country.code, country.name_en
            ),
            &format!(
                "海关代码 {}（{}）没有对应的 ISO 3166 国家代码，报关单需要该代码",
                country.code, country.name_zh
            ),
        ));
    }
    country.iso_alpha2.map(str::to_owned)
}

fn num(value: Decimal) -> NumText {
    NumText(value.normalize().to_string())
}

/// The transport document's kind by the China transport mode. The bonded and supervised-place
/// modes have no carrier's document of their own: the parcel leaves by the logistics
/// enterprise's delivery, whose waybill is a road consignment note.
fn document_kind(mode: &str) -> &'static str {
    match mode {
        "2" => "bill_of_lading",
        "3" => "rail_waybill",
        "5" => "air_waybill",
        "6" => "postal_receipt",
        _ => "road_consignment_note",
    }
}

/// The list as a declaration. Paths of refusals are the list's (`InventoryHead/country`,
/// `InventoryList[2]/unit`) or the order's (`OrderHead/orderNo`).
pub fn to_declaration(
    inventory: &Inventory,
    order: &Order,
    parties: &Parties,
) -> Result<DeclarationDto, Vec<FieldError>> {
    let mut errors = Vec::new();
    if inventory.order_no != order.order_no {
        errors.push(FieldError::not_allowed(
            "OrderHead/orderNo",
            "it is not the order of the list (InventoryHead/orderNo)",
            "不是清单所列订单（InventoryHead/orderNo）",
        ));
    }
    let dispatch = iso("InventoryHead/country", &inventory.country, &mut errors);
    let currency = inventory.currency.iso.to_owned();
    let mut items = Vec::new();
    let mut invoice = Decimal::ZERO;
    for (i, item) in inventory.items.iter().enumerate() {
        let at = |name: &str| format!("InventoryList[{}]/{name}", i + 1);
        let origin = iso(&at("country"), &item.country, &mut errors);
        let quantity_unit = unit(&at("unit"), &item.unit, &mut errors);
        let first_unit = unit(&at("unit1"), &item.unit1, &mut errors);
        let mut statutory = vec![QuantityDto {
            value: Some(num(item.qty1)),
            unit: first_unit,
        }];
        if let (Some(qty2), Some(unit2)) = (item.qty2, &item.unit2) {
            statutory.push(QuantityDto {
                value: Some(num(qty2)),
                unit: unit(&at("unit2"), unit2, &mut errors),
            });
        }
        // What the list allows beyond the declaration's own limits is refused here, by the
        // list's path, rather than rounded.
        if item.price.normalize().scale() > UNIT_PRICE_DECIMALS_MAX {
            errors.push(FieldError::precision(at("price"), UNIT_PRICE_DECIMALS_MAX));
        }
        for (name, value, max) in [
            ("qty", item.qty, QUANTITY_MAX),
            ("qty1", item.qty1, QUANTITY_MAX),
            ("totalPrice", item.total_price, AMOUNT_MAX),
        ] {
            if value > Decimal::from(max) {
                errors.push(FieldError::out_of_range(
                    at(name),
                    &format!("at most {max} on a declaration"),
                    &format!("报关单上不超过 {max}"),
                ));
            }
        }
        let amount = to_fen(item.total_price);
        invoice += amount;
        items.push(GoodsItemDto {
            commodity_code: Some(item.gcode.clone()),
            description: Some(item.gname.clone()),
            quantity: Some(QuantityDto {
                value: Some(num(item.qty)),
                unit: quantity_unit,
            }),
            statutory_quantities: statutory,
            unit_price: Some(num(item.price)),
            amount: Some(num(amount)),
            origin_country: origin,
            levy_mode: Some(LEVY_MODE.into()),
            preference: None,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let charge = |amount: Decimal| ChargeDto {
        kind: Some("amount".into()),
        amount: Some(num(to_fen(amount))),
        currency: Some(currency.clone()),
        percent: None,
        unit: None,
    };
    // The bill (直购: master bill or air waybill), or else the parcel's own waybill.
    let document = Some(TransportDocumentDto {
        kind: Some(document_kind(&inventory.traf_mode).into()),
        number: Some(
            inventory
                .bill_no
                .clone()
                .unwrap_or_else(|| inventory.logistics_no.clone()),
        ),
    });
    Ok(DeclarationDto {
        direction: Some("import".into()),
        kind: Some("ordinary".into()),
        procedure: Some(inventory.trade_mode.clone()),
        levy_nature: Some(LEVY_NATURE.into()),
        office_of_lodging: Some(inventory.customs_code.clone()),
        office_of_entry_exit: Some(inventory.port_code.clone()),
        declarant: Some(parties.declarant.clone()),
        trader: Some(parties.trader.clone()),
        overseas_party: Some(OverseasPartyDto {
            name: Some(inventory.ebc_name.clone()),
            country: dispatch.clone(),
        }),
        transport: Some(TransportDto {
            mode: Some(inventory.traf_mode.clone()),
            means_name: inventory.traf_no.clone(),
            voyage: inventory.voyage_no.clone(),
            document,
            arrival_date: inventory.ie_date.map(|d| d.format("%Y-%m-%d").to_string()),
            ..TransportDto::default()
        }),
        dispatch_country: dispatch,
        transaction_terms: Some("FOB".into()),
        invoice: Some(InvoiceDto {
            number: None,
            date: None,
            currency: Some(currency.clone()),
            amount: Some(num(invoice)),
        }),
        freight: Some(charge(inventory.freight)),
        insurance: Some(charge(inventory.insured_fee)),
        packages: Some(PackagesDto {
            count: Some(NumText(inventory.pack_no.to_string())),
            package_type: Some(PACKAGE_TYPE.into()),
        }),
        gross_mass_kg: Some(num(inventory.gross_weight)),
        net_mass_kg: Some(num(inventory.net_weight)),
        cbec_order: Some(CbecOrderDto {
            order_ref: Some(order.order_no.clone()),
            platform: Some(order.ebp_name.clone()),
            buyer: Some(CbecBuyerDto {
                name: Some(inventory.buyer_name.clone()),
                id_type: Some("resident_id".into()),
                id_number: Some(IdNumberText(inventory.buyer_id_number.0.clone())),
                id_hash: None,
                id_masked: None,
            }),
            indivisible_item: single_article(inventory),
        }),
        items,
        ..DeclarationDto::default()
    })
}
