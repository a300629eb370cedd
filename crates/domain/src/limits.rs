//! Every limit of the declaration model, named once. Each has a test at its edge.

/// Goods items per declaration (China's paper form allows 50 per page; the electronic form 999).
pub const ITEMS_PER_DECLARATION_MAX: usize = 999;
/// Containers per declaration (`transport.containers`): a large consignment fills a few hundred.
pub const CONTAINERS_PER_DECLARATION_MAX: usize = 999;
/// Attached documents per declaration.
pub const DOCUMENTS_PER_DECLARATION_MAX: usize = 99;
/// Statutory quantities per goods item (China has a first and a second statutory unit).
pub const STATUTORY_QUANTITIES_MAX: usize = 2;
/// Free-text names and descriptions.
pub const TEXT_LENGTH_MAX: usize = 255;
/// Short references: document numbers, transport document numbers, voyage numbers, the order
/// reference of a cross-border e-commerce order (`cbec_order.order_ref`).
pub const REFERENCE_LENGTH_MAX: usize = 64;
/// Reasons given for an amendment, a cancellation or a release.
pub const REASON_LENGTH_MAX: usize = 1000;
/// Decimal places of a quantity or a mass.
pub const QUANTITY_DECIMALS_MAX: u32 = 5;
/// Decimal places of a unit price.
pub const UNIT_PRICE_DECIMALS_MAX: u32 = 4;
/// Decimal places of a rate given in percent (freight or insurance as a rate).
pub const RATE_DECIMALS_MAX: u32 = 4;
/// Largest monetary amount accepted (in the invoice currency): far above any real consignment, far
/// below where decimal arithmetic could overflow.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;
/// Largest quantity or mass accepted.
pub const QUANTITY_MAX: i64 = 1_000_000_000_000;
/// Packages per declaration.
pub const PACKAGES_MAX: u32 = 99_999_999;
/// Proofs of origin per declaration.
pub const ORIGIN_PROOFS_PER_DECLARATION_MAX: usize = 50;
/// Goods per proof of origin (as many as goods items on a declaration).
pub const ITEMS_PER_ORIGIN_PROOF_MAX: usize = 999;
/// The exporter's name on a proof of origin.
pub const PROOF_EXPORTER_LENGTH_MAX: usize = 200;
/// The e-commerce platform's name or code on a cross-border e-commerce order.
pub const CBEC_PLATFORM_LENGTH_MAX: usize = 100;
/// The buyer's name on a cross-border e-commerce order (订购人姓名).
pub const CBEC_BUYER_NAME_LENGTH_MAX: usize = 100;
/// Articles per postal parcel (`postal_parcel.articles`): a personal parcel holds a few.
pub const POSTAL_ARTICLES_PER_PARCEL_MAX: usize = 99;
/// The addressee's name on a postal parcel.
pub const POSTAL_RECIPIENT_LENGTH_MAX: usize = 100;
