//! Assessment of import duties and taxes: the pure core of the tariff.
//!
//! China's rules first (see `/work/shared/rules/china-import-taxes.md`, cited below as "digest §n").
//! No I/O, no async, no serialisation, no clock: the acceptance date, the tariff lines, the exchange
//! rates and the configuration are passed in. Every amount is an exact `Decimal` in CNY, and every
//! figure carries an explanation in English and Chinese (`explain`).
//!
//! The order of a general-trade assessment (digest §2.6), one legal step at a time, each rounded
//! half-up to the fen:
//! 1. `valuation`: customs value in CNY (freight, insurance, conversion at the month's rate);
//! 2. `selection`: the duty rate column, plus trade remedies;
//! 3. `taxes`: duty → trade-remedy duties → consumption tax → VAT, then the per-consignment
//!    exemption threshold, tested per tax.
//!
//! The tariff itself comes from `release`: the CSV files of a tariff release, parsed and validated
//! from their texts (every problem reported at once, with file, line and field).

pub mod config;
pub mod error;
pub mod explain;
pub mod model;
pub mod money;
pub mod origin;
pub mod origin_rules;
pub mod postal;
pub mod release;
pub mod selection;
pub mod taxes;
pub mod units;
pub mod valuation;

pub use config::{AssessmentConfig, PostalRates, PostalRatesFrom};
pub use error::AssessmentError;
pub use explain::{Explanation, Words};
pub use model::*;
pub use postal::{
    PostalArticle, PostalAssessment, PostalClass, PostalParcel, PostalParcelAssessment,
    PostalRefusal, assess_postal, assess_postal_parcel,
};
pub use release::{
    ReleaseFile, ReleaseFiles, ReleaseProblem, RenderedRelease, TariffRelease,
    parse_exchange_rates, parse_release, render_exchange_rates, render_release,
};
pub use selection::{
    Origin, PreferenceClaim, ProofCheck, ProofRefusal, QuotaStatus, RateSelection, RefusalReason,
    remedy_basis, select_rate, select_rate_with,
};
pub use taxes::{
    Assessment, CbecOrder, CbecOutcome, DeclarationInput, ItemAssessment, ItemInput, TaxFigure,
    TaxKind, TaxTotal, assess_cbec_order, assess_declaration, assess_declaration_with,
};
pub use valuation::{
    Charge, CustomsValue, TransactionTerms, ValuationInput, customs_value, customs_value_with,
};

#[cfg(test)]
mod origin_rules_tests;
#[cfg(test)]
mod origin_tests;
#[cfg(test)]
mod postal_tests;
#[cfg(test)]
mod release_tests;
#[cfg(test)]
mod tests;
