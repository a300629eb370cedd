//! The arithmetic a document states, checked rather than trusted (the official samples carry
//! errors: the CEB621 sample's second item is 200 × 60 with a total price of 12). Amounts are
//! compared to the fen: both sides rounded half-up to 0.01 CNY, as the rules round money.

use domain::FieldError;
use domain::problem::ErrorCode;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::documents::{Inventory, Order, Return};
use crate::spec::error;

/// An amount rounded half-up to the fen (0.01 CNY).
pub fn to_fen(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount as a message shows it: to the fen when it has no more decimals than that (332.30,
/// not 332.3), in full otherwise.
pub fn figure(amount: Decimal) -> String {
    let amount = amount.normalize();
    if amount.scale() <= 2 {
        format!("{amount:.2}")
    } else {
        amount.to_string()
    }
}

fn same_to_the_fen(a: Decimal, b: Decimal) -> bool {
    to_fen(a) == to_fen(b)
}

fn overflow(path: &str) -> FieldError {
    FieldError::out_of_range(
        path,
        "small enough for its total to be computed exactly",
        "足够小，以便精确计算合计",
    )
}

fn line_total(
    path: &dyn Fn() -> String,
    qty: Decimal,
    price: Decimal,
    total: Decimal,
    errors: &mut Vec<FieldError>,
) {
    match qty.checked_mul(price) {
        None => errors.push(overflow(&path())),
        Some(computed) if !same_to_the_fen(total, computed) => errors.push(error(
            path(),
            ErrorCode::AmountMismatch,
            format!(
                "is {} but qty × price is {qty} × {price} = {} (compared to the fen, 0.01 CNY, rounded half-up)",
                figure(total),
                figure(computed)
            ),
            format!(
                "申报为 {}，但数量 × 单价为 {qty} × {price} = {}（精确到分，四舍五入）",
                figure(total),
                figure(computed)
            ),
        )),
        Some(_) => {}
    }
}

fn numbering(path: &dyn Fn() -> String, position: usize, gnum: u32, errors: &mut Vec<FieldError>) {
    if gnum as usize != position {
        errors.push(FieldError::invalid_format(
            path(),
            &format!("{position} (items are numbered 1, 2, 3... in document order)"),
            &format!("{position}（商品项从 1 开始连续编号）"),
        ));
    }
}

/// `path` is the document's, e.g. `CEB311Message/Order[1]`.
pub fn check_order(order: &Order, path: &str, errors: &mut Vec<FieldError>) {
    let mut sum = Some(Decimal::ZERO);
    for (i, item) in order.items.iter().enumerate() {
        // Paths are written only when a problem names them.
        let at = |name: &str| format!("{path}/OrderList[{}]/{name}", i + 1);
        numbering(&|| at("gnum"), i + 1, item.gnum, errors);
        line_total(
            &|| at("totalPrice"),
            item.qty,
            item.price,
            item.total_price,
            errors,
        );
        sum = sum.and_then(|s| s.checked_add(item.total_price));
    }
    let head = format!("{path}/OrderHead");
    match sum {
        None => errors.push(overflow(&format!("{head}/goodsValue"))),
        Some(sum) if !same_to_the_fen(order.goods_value, sum) => errors.push(error(
            format!("{head}/goodsValue"),
            ErrorCode::SumMismatch,
            format!(
                "is {} but the items' totalPrice add up to {} (compared to the fen, 0.01 CNY, rounded half-up)",
                figure(order.goods_value),
                figure(sum)
            ),
            format!(
                "申报为 {}，但各商品总价合计为 {}（精确到分，四舍五入）",
                figure(order.goods_value),
                figure(sum)
            ),
        )),
        Some(_) => {}
    }
    let paid = order
        .goods_value
        .checked_add(order.freight)
        .and_then(|v| v.checked_sub(order.discount))
        .and_then(|v| v.checked_add(order.tax_total));
    match paid {
        None => errors.push(overflow(&format!("{head}/acturalPaid"))),
        Some(paid) if !same_to_the_fen(order.actural_paid, paid) => errors.push(error(
            format!("{head}/acturalPaid"),
            ErrorCode::SumMismatch,
            format!(
                "is {} but goodsValue + freight − discount + taxTotal is {} + {} − {} + {} = {} (compared to the fen, 0.01 CNY, rounded half-up)",
                figure(order.actural_paid),
                figure(order.goods_value),
                figure(order.freight),
                figure(order.discount),
                figure(order.tax_total),
                figure(paid)
            ),
            format!(
                "申报为 {}，但商品价格 + 运杂费 − 非现金抵扣金额 + 代扣税款为 {} + {} − {} + {} = {}（精确到分，四舍五入）",
                figure(order.actural_paid),
                figure(order.goods_value),
                figure(order.freight),
                figure(order.discount),
                figure(order.tax_total),
                figure(paid)
            ),
        )),
        Some(_) => {}
    }
}

pub fn check_inventory(inventory: &Inventory, path: &str, errors: &mut Vec<FieldError>) {
    for (i, item) in inventory.items.iter().enumerate() {
        // Paths are written only when a problem names them.
        let at = |name: &str| format!("{path}/InventoryList[{}]/{name}", i + 1);
        numbering(&|| at("gnum"), i + 1, item.gnum, errors);
        line_total(
            &|| at("totalPrice"),
            item.qty,
            item.price,
            item.total_price,
            errors,
        );
    }
    if inventory.net_weight > inventory.gross_weight {
        errors.push(FieldError::mass_inconsistent(
            format!("{path}/InventoryHead/netWeight"),
            &inventory.net_weight.to_string(),
            &inventory.gross_weight.to_string(),
        ));
    }
}

pub fn check_return(refund: &Return, path: &str, errors: &mut Vec<FieldError>) {
    let mut seen = std::collections::HashSet::new();
    for (i, item) in refund.items.iter().enumerate() {
        if !seen.insert(item.gnum) {
            errors.push(FieldError::duplicate(
                format!("{path}/InvtRefundList[{}]/gnum", i + 1),
                "an item of the original list",
                "原清单商品项",
            ));
        }
    }
}
