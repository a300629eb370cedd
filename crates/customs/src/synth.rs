//! Seeded synthetic declarations for the benchmark: realistic and valid, so that a benchmark
//! measures the acceptance path (parse, rules, number, durable append) and not the refusal path.
//!
//! Realistic means: real HS 2022 subheadings grouped by trade (electronics rarely come as bulk),
//! the statutory unit of the reference data, partners and currencies that trade with China,
//! transport documents that fit the mode, and amounts that add up to the cent (or yen) the way
//! the cross-field rules check them. The same seed gives the same bodies on the same day.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{Duration, FixedOffset, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

/// A Chinese enterprise registered with customs: a trader (consignee or consignor) or a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthParty {
    pub credit_code: String,
    pub customs_code: String,
    pub name: String,
    /// The customs office of the enterprise's home district, where it usually lodges.
    pub office: &'static str,
}

impl SynthParty {
    fn json(&self) -> Value {
        json!({ "credit_code": self.credit_code, "customs_code": self.customs_code, "name": self.name })
    }
}

/// Generates parties and declaration bodies from a seed.
pub struct Synth {
    rng: StdRng,
    /// The lodging date (China time): no generated date is later.
    today: NaiveDate,
    credit_codes: HashSet<String>,
}

/// Today in China (UTC+8), the date the lodging is checked on.
pub fn today_in_china() -> NaiveDate {
    let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    Utc::now().with_timezone(&china).date_naive()
}

impl Synth {
    pub fn new(seed: u64) -> Synth {
        Synth::on(seed, today_in_china())
    }

    /// A generator whose dates end on `today`.
    pub fn on(seed: u64, today: NaiveDate) -> Synth {
        Synth {
            rng: StdRng::seed_from_u64(seed),
            today,
            credit_codes: HashSet::new(),
        }
    }

    /// `n` trading enterprises with valid, distinct credit codes.
    pub fn parties(&mut self, n: usize) -> Vec<SynthParty> {
        (0..n).map(|_| self.party(TRADES)).collect()
    }

    /// `n` customs brokers (报关企业) with valid, distinct credit codes.
    pub fn brokers(&mut self, n: usize) -> Vec<SynthParty> {
        (0..n)
            .map(|_| self.party(&[("报关服务", "Customs Brokerage")]))
            .collect()
    }

    fn party(&mut self, trades: &[(&str, &str)]) -> SynthParty {
        let district = pick(&mut self.rng, DISTRICTS);
        let (brand_zh, brand_en) = *pick(&mut self.rng, BRANDS);
        let (trade_zh, trade_en) = *pick(&mut self.rng, trades);
        let credit_code = self.credit_code(district.division);
        let customs_code = format!(
            "{}96{:04}",
            district.customs_region,
            self.rng.gen_range(1..10_000)
        );
        SynthParty {
            credit_code,
            customs_code,
            name: format!(
                "{}{brand_zh}{trade_zh}有限公司 {} {brand_en} {trade_en} Co., Ltd.",
                district.city_zh, district.city_en
            ),
            office: district.office,
        }
    }

    /// GB 32100: registration authority 9 (market regulation), type 1 (enterprise), the
    /// administrative division, a 9-character organisation code, then the check character.
    fn credit_code(&mut self, division: &str) -> String {
        loop {
            let organisation: String = (0..9)
                .map(|_| *pick(&mut self.rng, CREDIT_CODE_ALPHABET) as char)
                .collect();
            let code =
                domain::codes::credit_code_with_check(&format!("91{division}{organisation}"))
                    .expect("17 characters of the credit code alphabet");
            if self.credit_codes.insert(code.clone()) {
                return code;
            }
        }
    }

    /// A valid ordinary declaration lodged by `declarant` for `trader` (the same party when a
    /// trader declares for itself).
    pub fn declaration(&mut self, trader: &SynthParty, declarant: &SynthParty) -> Value {
        let import = self.rng.gen_bool(0.9);
        let sector = self.sector(import);
        let mode = self.mode(sector);
        let partner = self.partner(sector, mode);
        let shipment = Shipment {
            import,
            sector,
            mode,
            partner,
            currency: self.currency(sector, partner),
        };
        let items = self.items(&shipment);
        self.assemble(trader, declarant, &shipment, &items)
    }

    fn sector(&mut self, import: bool) -> &'static Sector {
        let sectors: Vec<&'static Sector> =
            SECTORS.iter().filter(|s| import || s.exportable).collect();
        sectors
            .choose_weighted(&mut self.rng, |s| s.weight)
            .expect("sectors have positive weights")
    }

    fn mode(&mut self, sector: &Sector) -> Mode {
        let modes = [
            (Mode::Sea, sector.modes[0]),
            (Mode::Air, sector.modes[1]),
            (Mode::Road, sector.modes[2]),
        ];
        modes
            .choose_weighted(&mut self.rng, |(_, w)| *w)
            .expect("every sector has a transport mode")
            .0
    }

    /// The partner country the goods come from (import) or go to (export), reachable by `mode`.
    fn partner(&mut self, sector: &Sector, mode: Mode) -> &'static Partner {
        let reachable = |p: &&Partner| match mode {
            Mode::Sea => p.seaport.is_some(),
            Mode::Air => true,
            Mode::Road => p.road.is_some(),
        };
        let preferred: Vec<&Partner> = sector
            .partners
            .iter()
            .map(|c| partner(c))
            .filter(reachable)
            .collect();
        let candidates = if preferred.is_empty() {
            PARTNERS.iter().filter(reachable).collect()
        } else {
            preferred
        };
        candidates
            .choose(&mut self.rng)
            .expect("every mode reaches some partner")
    }

    fn currency(&mut self, sector: &Sector, partner: &Partner) -> &'static Currency {
        if sector.usd_only {
            return currency("USD");
        }
        let code = partner
            .currencies
            .choose_weighted(&mut self.rng, |(_, w)| *w)
            .expect("partners have currencies")
            .0;
        currency(code)
    }

    /// 1 to 30 items, mostly few (mean about 4); one declaration in 50 has 31 to 50.
    fn item_count(&mut self, sector: &Sector) -> usize {
        let count = if self.rng.gen_bool(0.02) {
            self.rng.gen_range(31..=50)
        } else {
            // Geometric: each further item follows with probability 3/4, so 4 items on average.
            let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
            (1 + (u.ln() / 0.75f64.ln()).floor() as usize).min(30)
        };
        count.min(sector.items_max)
    }

    /// A consignment holds a few kinds of related goods (one for bulk cargo) in several lines:
    /// models, sizes, grades.
    fn items(&mut self, shipment: &Shipment) -> Vec<Item> {
        let count = self.item_count(shipment.sector);
        let kinds = if shipment.sector.bulk {
            1
        } else {
            self.rng.gen_range(1..=3)
        };
        let products: Vec<&'static Product> = shipment
            .sector
            .products
            .choose_multiple(&mut self.rng, kinds)
            .collect();
        (0..count)
            .map(|_| {
                let product = *pick(&mut self.rng, &products);
                self.item(shipment, product)
            })
            .collect()
    }

    fn item(&mut self, shipment: &Shipment, product: &'static Product) -> Item {
        let quantity = self.quantity(product);
        let unit_price = self.unit_price(product, shipment.currency);
        let amount = round_half_up(quantity * unit_price, shipment.currency.decimals);
        let net_kg = round_half_up(quantity * decimal(product.kg), 3).max(Decimal::new(1, 3));
        let origin = if !shipment.import {
            "CN"
        } else if self.rng.gen_bool(0.8) {
            shipment.partner.code
        } else {
            pick_code(&mut self.rng, shipment.sector.partners)
        };
        let model = if product.unit == "KGM" || product.unit == "LTR" || product.unit == "GRM" {
            None
        } else {
            Some(format!(
                "{}{}-{}",
                self.letter(),
                self.letter(),
                self.rng.gen_range(100..10_000)
            ))
        };
        Item {
            product,
            quantity,
            unit_price,
            amount,
            net_kg,
            origin,
            model,
        }
    }

    fn letter(&mut self) -> char {
        char::from(self.rng.gen_range(b'A'..=b'Z'))
    }

    /// Whole units for counted goods; kilograms and litres with up to 2 decimals.
    fn quantity(&mut self, product: &Product) -> Decimal {
        let scale = if matches!(product.unit, "KGM" | "LTR") && self.rng.gen_bool(0.3) {
            2
        } else {
            0
        };
        let factor = 10u64.pow(scale);
        let (min, max) = product.quantity;
        let raw = self.rng.gen_range(min * factor..=max * factor);
        Decimal::new(i64::try_from(raw).expect("quantities fit in i64"), scale)
    }

    /// A price in the product's US dollar range, converted at a round rate: 2 decimals, or 4
    /// below one unit of currency (bulk goods are priced per kilogram).
    fn unit_price(&mut self, product: &Product, currency: &Currency) -> Decimal {
        let (min, max) = (decimal(product.price.0), decimal(product.price.1));
        let share = Decimal::new(self.rng.gen_range(0..=10_000), 4);
        let usd = min + (max - min) * share;
        let price = usd * decimal(currency.per_usd);
        let decimals = if price < Decimal::ONE { 4 } else { 2 };
        round_half_up(price, decimals).max(Decimal::new(1, 4))
    }

    fn assemble(
        &mut self,
        trader: &SynthParty,
        declarant: &SynthParty,
        shipment: &Shipment,
        items: &[Item],
    ) -> Value {
        let invoice_total: Decimal = items.iter().map(|i| i.amount).sum();
        let net_kg: Decimal = items.iter().map(|i| i.net_kg).sum();
        let package = items[0].product.package;
        let packages = package_count(package, net_kg, &mut self.rng);
        let gross_kg = net_kg + Decimal::from(packages) * decimal(package_tare(package));
        let transport = self.transport(shipment);
        let dates = self.dates(shipment);
        let invoice_number = format!(
            "{}-{}-{:05}",
            self.letter_pair(),
            dates.invoice.format("%Y"),
            self.rng.gen_range(1..100_000)
        );
        let entry_office = self.entry_office(shipment);
        let office_of_lodging = if self.rng.gen_bool(0.6) {
            trader.office
        } else {
            entry_office
        };
        let (procedure, levy_nature, levy_mode) = self.procedure(shipment);
        let mut body = json!({
            "direction": if shipment.import { "import" } else { "export" },
            "kind": "ordinary",
            "procedure": procedure,
            "office_of_lodging": office_of_lodging,
            "office_of_entry_exit": entry_office,
            "declarant": declarant.json(),
            "trader": trader.json(),
            "overseas_party": { "name": self.overseas_name(shipment), "country": shipment.partner.code },
            "transport": transport.json(&dates),
            "port": self.port(shipment),
            "transaction_terms": self.terms(),
            "invoice": {
                "number": invoice_number,
                "date": dates.invoice.to_string(),
                "currency": shipment.currency.code,
                "amount": invoice_total.to_string(),
            },
            "packages": { "count": packages.to_string(), "package_type": package },
            "gross_mass_kg": gross_kg.to_string(),
            "net_mass_kg": net_kg.to_string(),
            "documents": self.documents(shipment, &transport, &invoice_number),
            "items": items.iter().map(|i| i.json(levy_mode)).collect::<Vec<_>>(),
        });
        let fields = body.as_object_mut().expect("the body is an object");
        if let Some(levy_nature) = levy_nature {
            fields.insert("levy_nature".into(), json!(levy_nature));
        }
        let country_field = if shipment.import {
            "dispatch_country"
        } else {
            "destination_country"
        };
        fields.insert(country_field.into(), json!(shipment.partner.code));
        self.add_charges(fields, shipment, net_kg);
        body
    }

    fn letter_pair(&mut self) -> String {
        format!("{}{}", self.letter(), self.letter())
    }

    /// Mostly general trade; some imports of parts and materials under processing trade, which
    /// are exempt while the products are exported again.
    fn procedure(
        &mut self,
        shipment: &Shipment,
    ) -> (&'static str, Option<&'static str>, &'static str) {
        if !shipment.import {
            return ("0110", None, "1");
        }
        if shipment.sector.processing && self.rng.gen_bool(0.15) {
            return ("0615", Some("503"), "3");
        }
        ("0110", Some("101"), "1")
    }

    fn terms(&mut self) -> &'static str {
        let terms = [("FOB", 45), ("CIF", 30), ("CFR", 15), ("EXW", 10)];
        terms
            .choose_weighted(&mut self.rng, |(_, w)| *w)
            .expect("terms have weights")
            .0
    }

    /// Freight where the price excludes it (FOB, EXW on imports; CFR, CIF on exports, which
    /// China declares too), and insurance now and then where the price excludes it.
    fn add_charges(
        &mut self,
        fields: &mut serde_json::Map<String, Value>,
        shipment: &Shipment,
        net_kg: Decimal,
    ) {
        let terms = fields["transaction_terms"]
            .as_str()
            .expect("terms were set")
            .to_owned();
        let needs_freight = if shipment.import {
            matches!(terms.as_str(), "FOB" | "EXW")
        } else {
            matches!(terms.as_str(), "CFR" | "CIF")
        };
        if needs_freight {
            fields.insert("freight".into(), self.freight(shipment, net_kg));
        }
        let insured = if shipment.import {
            terms != "CIF"
        } else {
            terms == "CIF"
        };
        if insured && self.rng.gen_bool(0.5) {
            let percent = Decimal::new(self.rng.gen_range(10..=50), 2);
            fields.insert(
                "insurance".into(),
                json!({ "kind": "rate", "percent": percent.to_string() }),
            );
        }
    }

    fn freight(&mut self, shipment: &Shipment, net_kg: Decimal) -> Value {
        if shipment.sector.bulk && self.rng.gen_bool(0.7) {
            let per_tonne = Decimal::new(self.rng.gen_range(800..=4_500), 2);
            return json!({ "kind": "per_unit", "amount": per_tonne.to_string(), "currency": "USD", "unit": "TNE" });
        }
        if self.rng.gen_bool(0.15) {
            let percent = Decimal::new(self.rng.gen_range(50..=800), 2);
            return json!({ "kind": "rate", "percent": percent.to_string() });
        }
        let per_kg_cents = match shipment.mode {
            Mode::Sea => self.rng.gen_range(3..=30),
            Mode::Air => self.rng.gen_range(200..=600),
            Mode::Road => self.rng.gen_range(10..=40),
        };
        let usd = (net_kg * Decimal::new(per_kg_cents, 2)).max(Decimal::from(150));
        let currency = shipment.currency;
        let amount = round_half_up(usd * decimal(currency.per_usd), currency.decimals);
        json!({ "kind": "amount", "amount": amount.to_string(), "currency": currency.code })
    }

    fn transport(&mut self, shipment: &Shipment) -> Transport {
        match shipment.mode {
            Mode::Sea => {
                let (carrier, vessel) = *pick(&mut self.rng, CARRIERS);
                let voyage = format!(
                    "{:03}{}",
                    self.rng.gen_range(1..1000),
                    pick(&mut self.rng, &['E', 'W', 'N', 'S'])
                );
                let number = format!("{carrier}{:010}", self.rng.gen_range(0..10_000_000_000u64));
                Transport {
                    mode: "2",
                    document_kind: "bill_of_lading",
                    number,
                    means_name: vessel.to_owned(),
                    voyage: Some(voyage),
                }
            }
            Mode::Air => {
                let (prefix, airline, flight) = *pick(&mut self.rng, AIRLINES);
                let serial: u32 = self.rng.gen_range(0..10_000_000);
                // IATA air waybill: airline prefix, 7-digit serial and its check digit (mod 7).
                let number = format!("{prefix}-{serial:07}{}", serial % 7);
                let voyage = format!("{flight}{}", self.rng.gen_range(100..10_000));
                Transport {
                    mode: "5",
                    document_kind: "air_waybill",
                    number,
                    means_name: airline.to_owned(),
                    voyage: Some(voyage),
                }
            }
            Mode::Road => {
                let number = format!(
                    "CMR{}{:08}",
                    shipment.partner.code,
                    self.rng.gen_range(0..100_000_000)
                );
                let plate = format!(
                    "{}A·{}{:04}",
                    pick(&mut self.rng, PROVINCES),
                    self.letter(),
                    self.rng.gen_range(0..10_000)
                );
                Transport {
                    mode: "4",
                    document_kind: "road_consignment_note",
                    number,
                    means_name: plate,
                    voyage: None,
                }
            }
        }
    }

    /// Invoice, then departure, then arrival, the last of them at most a few days before today.
    fn dates(&mut self, shipment: &Shipment) -> Dates {
        if !shipment.import {
            let departure = self.today - Duration::days(self.rng.gen_range(0..=2));
            let invoice = departure - Duration::days(self.rng.gen_range(1..=20));
            return Dates {
                invoice,
                departure,
                arrival: None,
            };
        }
        let transit = match shipment.mode {
            Mode::Sea => self.rng.gen_range(8..=35),
            Mode::Air => self.rng.gen_range(1..=3),
            Mode::Road => self.rng.gen_range(1..=6),
        };
        let arrival = self.today - Duration::days(self.rng.gen_range(0..=6));
        let departure = arrival - Duration::days(transit);
        let invoice = departure - Duration::days(self.rng.gen_range(1..=25));
        Dates {
            invoice,
            departure,
            arrival: Some(arrival),
        }
    }

    fn entry_office(&mut self, shipment: &Shipment) -> &'static str {
        match (shipment.mode, shipment.partner.road) {
            (Mode::Road, Some((_, office))) => office,
            (Mode::Air, _) => pick_code(&mut self.rng, AIRPORT_OFFICES),
            _ => pick_code(&mut self.rng, SEAPORT_OFFICES),
        }
    }

    /// The partner's port of loading (import) or discharge (export), as a UN/LOCODE.
    fn port(&self, shipment: &Shipment) -> &'static str {
        let partner = shipment.partner;
        match shipment.mode {
            Mode::Sea => partner.seaport.unwrap_or(partner.airport),
            Mode::Air => partner.airport,
            Mode::Road => partner.road.map_or(partner.airport, |(port, _)| port),
        }
    }

    fn overseas_name(&mut self, shipment: &Shipment) -> String {
        let brand = pick(&mut self.rng, OVERSEAS_BRANDS);
        format!(
            "{brand} {} {}",
            shipment.sector.name, shipment.partner.suffix
        )
    }

    /// The commercial invoice, the packing list (not for bulk), the transport document, and now
    /// and then the contract and a certificate of origin from a free-trade partner.
    fn documents(
        &mut self,
        shipment: &Shipment,
        transport: &Transport,
        invoice_number: &str,
    ) -> Vec<Value> {
        let mut documents = vec![json!({ "type": "INV", "number": invoice_number })];
        if !shipment.sector.bulk {
            documents.push(json!({ "type": "PKL", "number": format!("PL-{invoice_number}") }));
        }
        match shipment.mode {
            Mode::Sea => documents.push(json!({ "type": "BL", "number": transport.number })),
            Mode::Air => documents.push(json!({ "type": "AWB", "number": transport.number })),
            Mode::Road => {}
        }
        if self.rng.gen_bool(0.3) {
            documents.push(json!({ "type": "CTR", "number": format!("CTR-{}", self.rng.gen_range(10_000..1_000_000)) }));
        }
        if shipment.import && shipment.partner.free_trade && self.rng.gen_bool(0.6) {
            let number = format!(
                "{}{:09}",
                shipment.partner.code,
                self.rng.gen_range(0..1_000_000_000)
            );
            documents.push(json!({ "type": "COO", "number": number }));
        }
        documents
    }
}

/// What a declaration is about, decided before its items.
struct Shipment {
    import: bool,
    sector: &'static Sector,
    mode: Mode,
    partner: &'static Partner,
    currency: &'static Currency,
}

struct Item {
    product: &'static Product,
    quantity: Decimal,
    unit_price: Decimal,
    amount: Decimal,
    net_kg: Decimal,
    origin: &'static str,
    model: Option<String>,
}

impl Item {
    fn json(&self, levy_mode: &str) -> Value {
        let product = self.product;
        let description = match &self.model {
            Some(model) => format!("{}, model {model}", product.description),
            None => product.description.to_owned(),
        };
        json!({
            "commodity_code": product.hs,
            "description": description,
            "quantity": { "value": self.quantity.to_string(), "unit": product.unit },
            "statutory_quantities": self.statutory_quantities(),
            "unit_price": self.unit_price.to_string(),
            "amount": self.amount.to_string(),
            "origin_country": self.origin,
            "levy_mode": levy_mode,
        })
    }

    /// The first statutory quantity in the statutory unit; counted goods also give their net
    /// mass as the second, as China's tariff asks for most of them.
    fn statutory_quantities(&self) -> Vec<Value> {
        let (unit, per_trade_unit) = self.product.statutory;
        let first = (self.quantity * decimal(per_trade_unit))
            .round_dp(5)
            .normalize();
        let mut quantities = vec![json!({ "value": first.to_string(), "unit": unit })];
        if unit != "KGM" {
            quantities.push(json!({ "value": self.net_kg.normalize().to_string(), "unit": "KGM" }));
        }
        quantities
    }
}

struct Transport {
    mode: &'static str,
    document_kind: &'static str,
    number: String,
    means_name: String,
    voyage: Option<String>,
}

impl Transport {
    fn json(&self, dates: &Dates) -> Value {
        let mut value = json!({
            "mode": self.mode,
            "means_name": self.means_name,
            "document": { "kind": self.document_kind, "number": self.number },
            "departure_date": dates.departure.to_string(),
        });
        let fields = value.as_object_mut().expect("transport is an object");
        if let Some(voyage) = &self.voyage {
            fields.insert("voyage".into(), json!(voyage));
        }
        if let Some(arrival) = dates.arrival {
            fields.insert("arrival_date".into(), json!(arrival.to_string()));
        }
        value
    }
}

struct Dates {
    invoice: NaiveDate,
    departure: NaiveDate,
    arrival: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sea,
    Air,
    Road,
}

fn pick<'a, T>(rng: &mut StdRng, values: &'a [T]) -> &'a T {
    values
        .choose(rng)
        .expect("the tables of the generator are not empty")
}

fn pick_code(rng: &mut StdRng, codes: &[&'static str]) -> &'static str {
    codes
        .choose(rng)
        .copied()
        .expect("the code tables of the generator are not empty")
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).expect("the tables of the generator hold decimals")
}

/// Rounds the way the cross-field rules do: half away from zero, here always positive.
fn round_half_up(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// Packages from the net mass and the usual filling of each kind of package; bulk is one lot.
fn package_count(package: &str, net_kg: Decimal, rng: &mut StdRng) -> u64 {
    let per_package_kg: (i64, i64) = match package {
        "VR" | "VL" | "VO" => return 1,
        "BE" => (2_000, 25_000),
        "PX" => (300, 900),
        "DR" => (180, 220),
        "BG" => (25, 25),
        "BX" => (5, 20),
        "CS" => (10, 60),
        "PK" => (15, 60),
        _ => (5, 25),
    };
    let per = Decimal::from(rng.gen_range(per_package_kg.0..=per_package_kg.1));
    let count = (net_kg / per).ceil();
    count
        .to_u64()
        .unwrap_or(1)
        .clamp(1, u64::from(domain::limits::PACKAGES_MAX))
}

/// Kilograms of packing per package, so the gross mass is the net mass plus packing.
fn package_tare(package: &str) -> &'static str {
    match package {
        "VR" | "VL" | "VO" => "0",
        "BE" => "5",
        "PX" => "22",
        "DR" => "16",
        "CS" => "2.5",
        "PK" => "1.2",
        "BX" => "0.6",
        "BG" => "0.2",
        _ => "0.45",
    }
}

// ---------------------------------------------------------------------------------------------
// Tables. Every HS subheading exists in HS 2022 and every statutory unit agrees with
// crates/reference/data/china/statutory-units.csv (both are tested).

/// A kind of goods: its national tariff line, trade unit, statutory unit, mass and price range.
struct Product {
    hs: &'static str,
    description: &'static str,
    /// The unit the goods are traded in.
    unit: &'static str,
    /// The statutory unit, and how many of it one trade unit is.
    statutory: (&'static str, &'static str),
    /// Net kilograms per trade unit.
    kg: &'static str,
    /// Trade units per goods item.
    quantity: (u64, u64),
    /// US dollars per trade unit.
    price: (&'static str, &'static str),
    /// UNECE Rec 21 package type the goods usually travel in.
    package: &'static str,
}

// One row of a table reads best as one call with its columns in order.
#[allow(clippy::too_many_arguments)]
const fn product(
    hs: &'static str,
    description: &'static str,
    unit: &'static str,
    statutory: (&'static str, &'static str),
    kg: &'static str,
    quantity: (u64, u64),
    price: (&'static str, &'static str),
    package: &'static str,
) -> Product {
    Product {
        hs,
        description,
        unit,
        statutory,
        kg,
        quantity,
        price,
        package,
    }
}

const ONE_PIECE: (&str, &str) = ("C62", "1");
const ONE_KG: (&str, &str) = ("KGM", "1");
const ONE_PAIR: (&str, &str) = ("PR", "1");

/// A line of trade: what it ships, from where, how, and how many items a declaration has.
struct Sector {
    name: &'static str,
    weight: u32,
    products: &'static [Product],
    partners: &'static [&'static str],
    /// Weights of sea, air and road.
    modes: [u32; 3],
    items_max: usize,
    /// Commodities invoiced in US dollars whatever the partner.
    usd_only: bool,
    /// Bulk cargo: no packing list, freight often per tonne.
    bulk: bool,
    /// Also exported from China.
    exportable: bool,
    /// Parts and materials imported for processing trade.
    processing: bool,
}

#[rustfmt::skip]
const ELECTRONICS: &[Product] = &[
    product("8471300000", "Portable computers (laptops), 14 inch", "C62", ONE_PIECE, "1.6", (20, 2_000), ("350", "1500"), "CT"),
    product("8471500000", "Server processing units, rack-mounted", "C62", ONE_PIECE, "18", (2, 200), ("2500", "12000"), "PX"),
    product("8473300000", "Parts of computers, mainboards", "C62", ONE_PIECE, "0.45", (100, 20_000), ("15", "180"), "CT"),
    product("8517130000", "Smartphones, 5G, 256 GB", "C62", ONE_PIECE, "0.2", (100, 20_000), ("120", "900"), "CT"),
    product("8517620000", "Network switches and routers", "C62", ONE_PIECE, "2.5", (10, 3_000), ("60", "2400"), "CT"),
    product("8528690000", "Projectors, LCD, 4000 lumen", "C62", ONE_PIECE, "3.2", (10, 800), ("150", "1200"), "CT"),
    product("8542310000", "Processors and controllers, integrated circuits", "C62", ONE_PIECE, "0.002", (1_000, 500_000), ("0.35", "120"), "BX"),
    product("8542320000", "Memories, DRAM integrated circuits", "C62", ONE_PIECE, "0.001", (1_000, 800_000), ("0.8", "25"), "BX"),
    product("8541430000", "Photovoltaic cells assembled in modules, 450 W", "C62", ONE_PIECE, "22", (50, 5_000), ("60", "140"), "PX"),
    product("8507600000", "Lithium-ion accumulators, battery packs", "C62", ONE_PIECE, "0.6", (100, 50_000), ("4", "220"), "CT"),
    product("8504400000", "Static converters, switching power supplies", "C62", ONE_PIECE, "0.35", (100, 50_000), ("2.5", "90"), "CT"),
];

#[rustfmt::skip]
const MACHINERY: &[Product] = &[
    product("8418100000", "Combined refrigerator-freezers, two doors", "C62", ONE_PIECE, "68", (10, 600), ("280", "1400"), "PK"),
    product("8481800000", "Valves, industrial, stainless steel", "C62", ONE_PIECE, "4.5", (20, 5_000), ("12", "650"), "CS"),
    product("8501640000", "AC generators, output over 750 kVA", "C62", ONE_PIECE, "5200", (1, 10), ("40000", "260000"), "CS"),
    product("8411910000", "Parts of turbojets and turbopropellers", "C62", ONE_PIECE, "12", (1, 400), ("800", "45000"), "CS"),
    product("9018190000", "Electro-diagnostic apparatus, patient monitors", "C62", ONE_PIECE, "6", (5, 500), ("900", "18000"), "CT"),
    product("7326909000", "Articles of iron or steel, fastener assemblies", "KGM", ONE_KG, "1", (100, 20_000), ("2.2", "9"), "PX"),
    product("3926909000", "Articles of plastics, technical parts", "KGM", ONE_KG, "1", (50, 10_000), ("3", "25"), "CT"),
];

#[rustfmt::skip]
const VEHICLES: &[Product] = &[
    product("8703230000", "Motor cars, spark-ignition, 1500 to 3000 cc", "C62", ONE_PIECE, "1550", (1, 300), ("18000", "95000"), "NE"),
    product("8703800000", "Motor cars, electric motor only", "C62", ONE_PIECE, "2100", (1, 300), ("25000", "120000"), "NE"),
    product("8704210000", "Goods vehicles, diesel, not over 5 t", "C62", ONE_PIECE, "2300", (1, 100), ("22000", "60000"), "NE"),
    product("8711200000", "Motorcycles, 50 to 250 cc", "C62", ONE_PIECE, "140", (5, 500), ("1800", "9000"), "CR"),
    product("8708999000", "Parts of motor vehicles, chassis components", "KGM", ONE_KG, "1", (100, 20_000), ("4", "40"), "CS"),
    product("4011100000", "New pneumatic tyres of rubber, for motor cars", "C62", ONE_PIECE, "9.5", (100, 5_000), ("35", "260"), "PX"),
];

#[rustfmt::skip]
const FOOD: &[Product] = &[
    product("0201300000", "Bovine meat, chilled, boneless", "KGM", ONE_KG, "1", (500, 20_000), ("6", "28"), "CT"),
    product("0202300000", "Bovine meat, frozen, boneless", "KGM", ONE_KG, "1", (1_000, 27_000), ("4.5", "14"), "CT"),
    product("0203290000", "Swine meat, frozen, cuts", "KGM", ONE_KG, "1", (1_000, 27_000), ("1.8", "4.5"), "CT"),
    product("0207140000", "Chicken cuts and offal, frozen", "KGM", ONE_KG, "1", (1_000, 27_000), ("1.2", "3.8"), "CT"),
    product("0303130000", "Atlantic salmon, frozen, whole", "KGM", ONE_KG, "1", (1_000, 20_000), ("6", "14"), "CT"),
    product("0304890000", "Frozen fish fillets, cod", "KGM", ONE_KG, "1", (500, 20_000), ("4", "12"), "CT"),
    product("0402210000", "Milk powder, whole, unsweetened", "KGM", ONE_KG, "1", (1_000, 25_000), ("2.8", "5.5"), "BG"),
    product("0805100000", "Oranges, fresh", "KGM", ONE_KG, "1", (2_000, 25_000), ("0.7", "1.9"), "CT"),
    product("0808100000", "Apples, fresh", "KGM", ONE_KG, "1", (2_000, 25_000), ("0.8", "2.2"), "CT"),
    product("0810500000", "Kiwifruit, fresh", "KGM", ONE_KG, "1", (1_000, 20_000), ("1.5", "4"), "CT"),
    product("0804400000", "Avocados, fresh", "KGM", ONE_KG, "1", (1_000, 20_000), ("1.6", "4.2"), "CT"),
    product("0901110000", "Coffee, not roasted, not decaffeinated", "KGM", ONE_KG, "1", (1_000, 20_000), ("3.2", "7.5"), "BG"),
    product("1701999000", "Cane or beet sugar, refined, white", "KGM", ONE_KG, "1", (10_000, 500_000), ("0.42", "0.7"), "BG"),
    product("1507100000", "Soya-bean oil, crude", "KGM", ONE_KG, "1", (20_000, 1_000_000), ("0.8", "1.3"), "DR"),
    product("1511900000", "Palm oil, refined", "KGM", ONE_KG, "1", (20_000, 1_000_000), ("0.7", "1.2"), "DR"),
];

#[rustfmt::skip]
const BEVERAGES: &[Product] = &[
    product("2203000000", "Beer made from malt, in cans", "LTR", ("LTR", "1"), "1.05", (1_000, 30_000), ("0.9", "2.5"), "CT"),
    product("2204210000", "Wine, still, in bottles of 0.75 l", "C62", ("LTR", "0.75"), "1.25", (600, 24_000), ("3", "80"), "CS"),
    product("2208300000", "Whiskies, in bottles of 0.7 l", "C62", ("LTR", "0.7"), "1.3", (600, 12_000), ("8", "180"), "CS"),
];

#[rustfmt::skip]
const MINERALS: &[Product] = &[
    product("2601110000", "Iron ores, non-agglomerated, fines", "KGM", ONE_KG, "1", (20_000_000, 180_000_000), ("0.09", "0.14"), "VR"),
    product("2603000000", "Copper ores and concentrates", "KGM", ONE_KG, "1", (5_000_000, 50_000_000), ("1.8", "3.2"), "VR"),
];

#[rustfmt::skip]
const ENERGY: &[Product] = &[
    product("2709000000", "Crude petroleum oils", "KGM", ONE_KG, "1", (50_000_000, 270_000_000), ("0.45", "0.7"), "VL"),
    product("2711110000", "Liquefied natural gas", "KGM", ONE_KG, "1", (30_000_000, 80_000_000), ("0.35", "0.9"), "VL"),
];

#[rustfmt::skip]
const AGRICULTURAL_COMMODITIES: &[Product] = &[
    product("1006300000", "Rice, semi-milled or wholly milled", "KGM", ONE_KG, "1", (100_000, 5_000_000), ("0.45", "0.9"), "VR"),
    product("1001990000", "Wheat, other than durum, not seed", "KGM", ONE_KG, "1", (1_000_000, 60_000_000), ("0.22", "0.35"), "VR"),
    product("1005900000", "Maize, other than seed", "KGM", ONE_KG, "1", (1_000_000, 60_000_000), ("0.18", "0.3"), "VR"),
    product("1201900000", "Soya beans, other than seed", "KGM", ONE_KG, "1", (5_000_000, 65_000_000), ("0.38", "0.6"), "VR"),
    product("5201000000", "Cotton, not carded or combed", "KGM", ONE_KG, "1", (100_000, 5_000_000), ("1.5", "2.4"), "BL"),
    product("4703210000", "Chemical wood pulp, bleached, coniferous", "KGM", ONE_KG, "1", (500_000, 20_000_000), ("0.55", "0.95"), "BL"),
];

#[rustfmt::skip]
const CHEMICALS: &[Product] = &[
    product("2905110000", "Methanol (methyl alcohol)", "KGM", ONE_KG, "1", (20_000, 2_000_000), ("0.3", "0.55"), "DR"),
    product("3901100000", "Polyethylene, density below 0.94, primary forms", "KGM", ONE_KG, "1", (10_000, 500_000), ("0.9", "1.5"), "BG"),
    product("3902100000", "Polypropylene, primary forms", "KGM", ONE_KG, "1", (10_000, 500_000), ("0.9", "1.4"), "BG"),
    product("3004909000", "Medicaments, packaged for retail sale", "KGM", ONE_KG, "1", (10, 5_000), ("40", "900"), "CT"),
    product("3002150000", "Immunological products, in measured doses", "KGM", ONE_KG, "1", (1, 500), ("800", "25000"), "CT"),
    product("3304990000", "Beauty and skin-care preparations", "KGM", ONE_KG, "1", (50, 8_000), ("12", "160"), "CT"),
];

#[rustfmt::skip]
const CONSUMER: &[Product] = &[
    product("6109100000", "T-shirts, knitted, of cotton", "C62", ONE_PIECE, "0.18", (500, 50_000), ("1.8", "14"), "CT"),
    product("6203420000", "Men's trousers, of cotton, not knitted", "C62", ONE_PIECE, "0.55", (300, 30_000), ("5", "45"), "CT"),
    product("6403990000", "Footwear with leather uppers", "PR", ONE_PAIR, "0.9", (200, 20_000), ("12", "160"), "CT"),
    product("6404110000", "Sports footwear with textile uppers", "PR", ONE_PAIR, "0.7", (300, 30_000), ("8", "95"), "CT"),
    product("9401610000", "Upholstered seats with wooden frames", "C62", ONE_PIECE, "28", (20, 1_500), ("60", "900"), "PK"),
    product("9503000000", "Toys, construction sets and models", "C62", ONE_PIECE, "0.6", (500, 50_000), ("2", "60"), "CT"),
    product("9405420000", "LED luminaires for indoor use", "C62", ONE_PIECE, "1.8", (100, 20_000), ("6", "220"), "CT"),
    product("9506910000", "Fitness and gymnastics equipment", "C62", ONE_PIECE, "25", (10, 2_000), ("40", "1500"), "CT"),
];

#[rustfmt::skip]
const METALS: &[Product] = &[
    product("7208390000", "Flat-rolled iron, hot-rolled, in coils, under 3 mm", "KGM", ONE_KG, "1", (20_000, 2_000_000), ("0.55", "0.85"), "BE"),
    product("7210490000", "Flat-rolled steel, zinc-coated, 600 mm or wider", "KGM", ONE_KG, "1", (20_000, 1_000_000), ("0.7", "1.2"), "BE"),
    product("7403110000", "Copper cathodes", "KGM", ONE_KG, "1", (25_000, 2_000_000), ("7.5", "10.5"), "BE"),
    product("7601100000", "Aluminium, unwrought, not alloyed, ingots", "KGM", ONE_KG, "1", (25_000, 2_000_000), ("2", "2.9"), "BE"),
];

#[rustfmt::skip]
const PRECIOUS: &[Product] = &[
    product("7108120000", "Gold, unwrought, non-monetary, bars", "GRM", ("GRM", "1"), "0.001", (1_000, 400_000), ("55", "85"), "BX"),
];

const SECTORS: &[Sector] = &[
    Sector {
        name: "Electronics",
        weight: 24,
        products: ELECTRONICS,
        partners: &["JP", "KR", "US", "MY", "VN", "SG", "TH", "DE"],
        modes: [45, 45, 10],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: true,
        processing: true,
    },
    Sector {
        name: "Machinery",
        weight: 12,
        products: MACHINERY,
        partners: &["DE", "JP", "US", "IT", "KR", "CH", "FR", "GB"],
        modes: [75, 20, 5],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: true,
        processing: true,
    },
    Sector {
        name: "Motors",
        weight: 6,
        products: VEHICLES,
        partners: &["DE", "JP", "US", "GB", "KR", "IT", "MX"],
        modes: [95, 5, 0],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: true,
        processing: false,
    },
    Sector {
        name: "Foods",
        weight: 16,
        products: FOOD,
        partners: &["AU", "NZ", "BR", "US", "CL", "TH", "VN", "FR", "CA"],
        modes: [85, 15, 0],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: false,
        processing: false,
    },
    Sector {
        name: "Beverages",
        weight: 4,
        products: BEVERAGES,
        partners: &["FR", "IT", "AU", "CL", "DE", "GB", "NZ", "US"],
        modes: [90, 10, 0],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: false,
        processing: false,
    },
    Sector {
        name: "Mining",
        weight: 3,
        products: MINERALS,
        partners: &["AU", "BR", "CL", "ZA"],
        modes: [100, 0, 0],
        items_max: 3,
        usd_only: true,
        bulk: true,
        exportable: false,
        processing: false,
    },
    Sector {
        name: "Energy",
        weight: 2,
        products: ENERGY,
        partners: &["SA", "RU", "AU", "US", "MY", "ID"],
        modes: [100, 0, 0],
        items_max: 2,
        usd_only: true,
        bulk: true,
        exportable: false,
        processing: false,
    },
    Sector {
        name: "Agri Commodities",
        weight: 4,
        products: AGRICULTURAL_COMMODITIES,
        partners: &["US", "BR", "CA", "AU", "RU", "TH", "VN"],
        modes: [100, 0, 0],
        items_max: 3,
        usd_only: true,
        bulk: true,
        exportable: false,
        processing: false,
    },
    Sector {
        name: "Chemicals",
        weight: 10,
        products: CHEMICALS,
        partners: &["US", "DE", "JP", "KR", "SA", "SG", "NL", "IN"],
        modes: [85, 15, 0],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: true,
        processing: true,
    },
    Sector {
        name: "Apparel & Home",
        weight: 12,
        products: CONSUMER,
        partners: &["VN", "IN", "ID", "TH", "MY", "IT", "US", "KZ", "MN"],
        modes: [70, 15, 15],
        items_max: 50,
        usd_only: false,
        bulk: false,
        exportable: true,
        processing: false,
    },
    Sector {
        name: "Metals",
        weight: 7,
        products: METALS,
        partners: &["AU", "CL", "JP", "KR", "RU", "ZA", "CA", "BR"],
        modes: [90, 0, 10],
        items_max: 5,
        usd_only: true,
        bulk: false,
        exportable: true,
        processing: true,
    },
    Sector {
        name: "Bullion",
        weight: 1,
        products: PRECIOUS,
        partners: &["CH", "AU", "ZA", "GB", "CA"],
        modes: [0, 100, 0],
        items_max: 2,
        usd_only: true,
        bulk: false,
        exportable: false,
        processing: false,
    },
];

/// A trading partner of China.
struct Partner {
    code: &'static str,
    /// Invoice currencies and how often each is used.
    currencies: &'static [(&'static str, u32)],
    seaport: Option<&'static str>,
    airport: &'static str,
    /// The road border crossing (UN/LOCODE on the partner's side) and China's customs office there.
    road: Option<(&'static str, &'static str)>,
    /// Legal-form suffix of company names.
    suffix: &'static str,
    /// A free-trade agreement partner, whose certificates of origin give preferential duty.
    free_trade: bool,
}

const fn partner_row(
    code: &'static str,
    currencies: &'static [(&'static str, u32)],
    seaport: Option<&'static str>,
    airport: &'static str,
    road: Option<(&'static str, &'static str)>,
    suffix: &'static str,
    free_trade: bool,
) -> Partner {
    Partner {
        code,
        currencies,
        seaport,
        airport,
        road,
        suffix,
        free_trade,
    }
}

const USD_MOSTLY: &[(&str, u32)] = &[("USD", 85), ("CNY", 15)];
const EUR_MOSTLY: &[(&str, u32)] = &[("EUR", 70), ("USD", 25), ("CNY", 5)];

#[rustfmt::skip]
const PARTNERS: &[Partner] = &[
    partner_row("US", USD_MOSTLY, Some("USLAX"), "USNYC", None, "Inc.", false),
    partner_row("JP", &[("JPY", 55), ("USD", 40), ("CNY", 5)], Some("JPYOK"), "JPTYO", None, "Co., Ltd.", false),
    partner_row("KR", &[("KRW", 40), ("USD", 55), ("CNY", 5)], Some("KRPUS"), "KRSEL", None, "Co., Ltd.", true),
    partner_row("DE", EUR_MOSTLY, Some("DEHAM"), "DEFRA", None, "GmbH", false),
    partner_row("FR", EUR_MOSTLY, Some("FRLEH"), "FRPAR", None, "SAS", false),
    partner_row("IT", EUR_MOSTLY, Some("ITGOA"), "ITMIL", None, "S.p.A.", false),
    partner_row("NL", EUR_MOSTLY, Some("NLRTM"), "NLAMS", None, "B.V.", false),
    partner_row("GB", &[("GBP", 60), ("USD", 35), ("EUR", 5)], Some("GBFXT"), "GBLON", None, "Ltd", false),
    partner_row("CH", &[("USD", 60), ("EUR", 40)], None, "CHZRH", None, "AG", true),
    partner_row("AU", USD_MOSTLY, Some("AUPHE"), "AUSYD", None, "Pty Ltd", true),
    partner_row("NZ", USD_MOSTLY, Some("NZAKL"), "NZAKL", None, "Limited", true),
    partner_row("BR", USD_MOSTLY, Some("BRSSZ"), "BRSAO", None, "Ltda.", false),
    partner_row("CL", USD_MOSTLY, Some("CLSAI"), "CLSCL", None, "S.A.", true),
    partner_row("CA", USD_MOSTLY, Some("CAVAN"), "CATOR", None, "Inc.", false),
    partner_row("MX", USD_MOSTLY, Some("MXZLO"), "MXMEX", None, "S.A. de C.V.", false),
    partner_row("MY", USD_MOSTLY, Some("MYPKG"), "MYKUL", None, "Sdn. Bhd.", true),
    partner_row("VN", USD_MOSTLY, Some("VNHPH"), "VNSGN", Some(("VNLSN", "7200")), "JSC", true),
    partner_row("TH", USD_MOSTLY, Some("THLCH"), "THBKK", None, "Co., Ltd.", true),
    partner_row("SG", USD_MOSTLY, Some("SGSIN"), "SGSIN", None, "Pte. Ltd.", true),
    partner_row("ID", USD_MOSTLY, Some("IDTPP"), "IDJKT", None, "PT Tbk", true),
    partner_row("IN", USD_MOSTLY, Some("INNSA"), "INDEL", None, "Pvt. Ltd.", false),
    partner_row("RU", &[("CNY", 60), ("USD", 40)], Some("RUVVO"), "RUMOW", Some(("RUZAB", "0600")), "LLC", false),
    partner_row("KZ", &[("CNY", 50), ("USD", 50)], None, "KZALA", Some(("KZHRG", "9400")), "LLP", false),
    partner_row("MN", &[("CNY", 60), ("USD", 40)], None, "MNULN", Some(("MNZMU", "0700")), "LLC", false),
    partner_row("SA", USD_MOSTLY, Some("SARTA"), "SARUH", None, "Co.", false),
    partner_row("ZA", USD_MOSTLY, Some("ZADUR"), "ZAJNB", None, "(Pty) Ltd", false),
];

fn partner(code: &str) -> &'static Partner {
    PARTNERS
        .iter()
        .find(|p| p.code == code)
        .expect("sector partners are in the partner table")
}

struct Currency {
    code: &'static str,
    /// Minor unit: the decimals an amount may carry.
    decimals: u32,
    /// A round exchange rate, units per US dollar.
    per_usd: &'static str,
}

#[rustfmt::skip]
const CURRENCIES: &[Currency] = &[
    Currency { code: "USD", decimals: 2, per_usd: "1" },
    Currency { code: "EUR", decimals: 2, per_usd: "0.92" },
    Currency { code: "JPY", decimals: 0, per_usd: "150" },
    Currency { code: "CNY", decimals: 2, per_usd: "7.2" },
    Currency { code: "KRW", decimals: 0, per_usd: "1350" },
    Currency { code: "GBP", decimals: 2, per_usd: "0.79" },
];

fn currency(code: &str) -> &'static Currency {
    CURRENCIES
        .iter()
        .find(|c| c.code == code)
        .expect("partner currencies are in the currency table")
}

/// Where Chinese enterprises are registered: administrative division, city, the customs
/// registration region and the home customs office.
struct District {
    division: &'static str,
    city_zh: &'static str,
    city_en: &'static str,
    customs_region: &'static str,
    office: &'static str,
}

const fn district(
    division: &'static str,
    city_zh: &'static str,
    city_en: &'static str,
    customs_region: &'static str,
    office: &'static str,
) -> District {
    District {
        division,
        city_zh,
        city_en,
        customs_region,
        office,
    }
}

#[rustfmt::skip]
const DISTRICTS: &[District] = &[
    district("310115", "上海", "Shanghai", "3115", "2200"),
    district("440300", "深圳", "Shenzhen", "4403", "5300"),
    district("330200", "宁波", "Ningbo", "3302", "3100"),
    district("370200", "青岛", "Qingdao", "3702", "4200"),
    district("120116", "天津", "Tianjin", "1207", "0200"),
    district("110105", "北京", "Beijing", "1105", "0100"),
    district("440100", "广州", "Guangzhou", "4401", "5100"),
    district("320500", "苏州", "Suzhou", "3205", "2300"),
    district("350200", "厦门", "Xiamen", "3502", "3700"),
    district("210200", "大连", "Dalian", "2102", "0900"),
    district("510100", "成都", "Chengdu", "5101", "7900"),
    district("420100", "武汉", "Wuhan", "4201", "4700"),
    district("330100", "杭州", "Hangzhou", "3301", "2900"),
    district("410100", "郑州", "Zhengzhou", "4101", "4600"),
    district("441900", "东莞", "Dongguan", "4419", "5200"),
];

const CREDIT_CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

const BRANDS: &[(&str, &str)] = &[
    ("浦江", "Pujiang"),
    ("华信", "Huaxin"),
    ("远航", "Yuanhang"),
    ("恒通", "Hengtong"),
    ("嘉禾", "Jiahe"),
    ("瑞丰", "Ruifeng"),
    ("东方", "Dongfang"),
    ("新桥", "Xinqiao"),
    ("金海", "Jinhai"),
    ("宏达", "Hongda"),
    ("天成", "Tiancheng"),
    ("中联", "Zhonglian"),
];

const TRADES: &[(&str, &str)] = &[
    ("贸易", "Trading"),
    ("电子", "Electronics"),
    ("进出口", "Import & Export"),
    ("供应链", "Supply Chain"),
    ("食品", "Foods"),
    ("实业", "Industrial"),
];

const OVERSEAS_BRANDS: &[&str] = &[
    "Pacific",
    "Northern",
    "Global",
    "Summit",
    "Harbor",
    "Evergreen",
    "Bluewater",
    "Golden Field",
    "Alpine",
    "Sunrise",
];

/// Ocean carriers (bill of lading prefix) and one of their vessels.
const CARRIERS: &[(&str, &str)] = &[
    ("COSU", "COSCO SHIPPING ARIES"),
    ("MAEU", "MAERSK EMDEN"),
    ("CMDU", "CMA CGM JACQUES SAADE"),
    ("ONEY", "ONE APUS"),
    ("MEDU", "MSC GULSUN"),
    ("OOLU", "OOCL HONG KONG"),
    ("HDMU", "HMM ALGECIRAS"),
    ("EGLV", "EVER ACE"),
];

/// Airlines: IATA air waybill prefix, name, and flight designator.
const AIRLINES: &[(&str, &str, &str)] = &[
    ("999", "Air China Cargo", "CA"),
    ("112", "China Cargo Airlines", "CK"),
    ("180", "Korean Air Cargo", "KE"),
    ("131", "Japan Airlines", "JL"),
    ("020", "Lufthansa Cargo", "LH"),
    ("618", "Singapore Airlines Cargo", "SQ"),
    ("016", "United Airlines Cargo", "UA"),
];

/// Province abbreviations of truck plates at the road borders.
const PROVINCES: &[&str] = &["桂", "蒙", "新", "黑", "滇"];

const SEAPORT_OFFICES: &[&str] = &[
    "2200", "3100", "4200", "5300", "0200", "0900", "3700", "5200", "2300",
];
const AIRPORT_OFFICES: &[&str] = &["0100", "2200", "5100", "7900", "4600", "5300"];

#[cfg(test)]
mod tests {
    use domain::ParseContext;
    use reference::{CodeListKind, Lookup, ReferenceData};
    use wire::DeclarationDto;

    use super::*;

    fn every_product() -> impl Iterator<Item = &'static Product> {
        SECTORS.iter().flat_map(|s| s.products)
    }

    fn bodies(seed: u64, today: NaiveDate, n: usize) -> Vec<Value> {
        let mut synth = Synth::on(seed, today);
        let traders = synth.parties(5);
        let brokers = synth.brokers(2);
        (0..n)
            .map(|i| {
                let trader = &traders[i % traders.len()];
                let declarant = if i % 3 == 0 {
                    &brokers[i % brokers.len()]
                } else {
                    trader
                };
                synth.declaration(trader, declarant)
            })
            .collect()
    }

    #[test]
    fn generated_declarations_parse_without_errors() {
        let today = today_in_china();
        let ctx = ParseContext {
            reference: ReferenceData::embedded(),
            on: today,
        };
        let mut items = 0;
        for seed in [1, 7, 42, 2026, 90_210] {
            for (idx, body) in bodies(seed, today, 100).into_iter().enumerate() {
                // The same bytes path as a lodging: JSON text through the boundary parser.
                let text = serde_json::to_vec(&body).expect("a body serialises");
                let dto: DeclarationDto =
                    wire::parse_json(&text).unwrap_or_else(|e| panic!("seed {seed} #{idx}: {e:?}"));
                if let Err(errors) = dto.parse(&ctx) {
                    panic!("seed {seed} #{idx} refused: {errors:#?}\n{body:#}");
                }
                items += body["items"].as_array().map_or(0, Vec::len);
            }
        }
        assert!(
            items > 500,
            "500 declarations have more than one item on average ({items})"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_bodies() {
        let today = today_in_china();
        assert_eq!(bodies(42, today, 50), bodies(42, today, 50));
        assert_ne!(bodies(42, today, 50), bodies(43, today, 50));
    }

    #[test]
    fn most_declarations_have_few_items_and_none_more_than_fifty() {
        let counts: Vec<usize> = bodies(5, today_in_china(), 2_000)
            .iter()
            .map(|b| b["items"].as_array().map_or(0, Vec::len))
            .collect();
        let few = counts.iter().filter(|c| **c <= 5).count();
        assert!(
            few > counts.len() / 2,
            "{few} of {} have at most 5 items",
            counts.len()
        );
        assert!(counts.iter().all(|c| (1..=50).contains(c)));
        assert!(
            counts.iter().any(|c| *c > 30),
            "now and then a long declaration"
        );
    }

    #[test]
    fn every_subheading_exists_in_hs_2022() {
        let reference = ReferenceData::embedded();
        for product in every_product() {
            let found = reference.lookup(
                CodeListKind::HsSubheading,
                &product.hs[..6],
                today_in_china(),
            );
            assert!(
                matches!(found, Lookup::InForce(_)),
                "{} is not an HS 2022 subheading",
                product.hs
            );
        }
        assert!(every_product().count() >= 60);
    }

    #[test]
    fn statutory_units_agree_with_the_reference_data() {
        let reference = ReferenceData::embedded();
        for product in every_product() {
            if let Some(units) = reference.statutory_units(product.hs) {
                assert!(
                    units.iter().any(|u| u == product.statutory.0),
                    "{}: {units:?}",
                    product.hs
                );
            }
        }
    }

    #[test]
    fn parties_have_valid_distinct_credit_codes() {
        let mut synth = Synth::new(3);
        let parties = synth.parties(200);
        let codes: HashSet<&str> = parties.iter().map(|p| p.credit_code.as_str()).collect();
        assert_eq!(codes.len(), 200);
        for party in &parties {
            domain::codes::CreditCode::parse("credit_code", &party.credit_code)
                .expect("a valid credit code");
        }
    }
}
