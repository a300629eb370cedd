//! What a cancellation (CEB623) or a return (CEB625) does to its inventory list, decided before
//! anything is recorded and written in the document's own append (so atomically, in the audit
//! chain):
//!
//! - A cancellation of a waiting list names it by the pre-entry number its receipt gave
//!   (`preNo`, the list has no number yet: `InvtCancel/invtNo` is mandatory in the schema); of
//!   an accepted list, by its declaration's number. An accepted list's declaration is cancelled
//!   with it (`declaration.cancelled`, the reason naming the CEB623, decided on the declaration's
//!   version like any change), unless it was released (its goods are then returned, CEB625) or
//!   a check or hold on it is open (customs' control is never withdrawn by the trade): both are
//!   refused, naming `InvtCancel/invtNo`. The whole order is credited back to the buyer's
//!   allowance and the list's guarantee debit released.
//! - A return credits back the value of the goods it returns: per item, returned qty ÷ listed
//!   qty × the item's `totalPrice`, rounded half-up to the fen (the rule of
//!   `../shared/rules/china-import-taxes.md` §2.6 for every amount), summed. Returns add up:
//!   each is recorded on the list (`ceb.inventory_list.partly_returned`, the quantities and the
//!   fen credited), and one that would take an item past its listed quantity is refused
//!   (`InvtRefundList[n]/qty`). The return that brings every item to its listed quantity returns
//!   the list (`returned`): it credits back all that remains of the booking (the freight and
//!   insurance with the last goods) and releases the guarantee debit. Until then the list stays
//!   accepted and its taxes stay debited.

use domain::{DeclarationEvent, FieldError};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use store::{InventoryListChange, InventoryListRow, LinkedEvent, Projection, Store};

use ceb::receipt::ReturnStatus;

use super::{info_of, list_subject, not_in_state, pre_no};
use crate::Clearance;
use crate::error::ClearanceError;

/// A receipt's status, info and declaration number.
pub(super) type Answer = (ReturnStatus, String, Option<String>);

/// The action of a return that leaves part of the list's goods cleared.
pub const PARTLY_RETURNED_ACTION: &str = "ceb.inventory_list.partly_returned";
/// The action of the return that returns the rest of the list.
pub const RETURNED_ACTION: &str = "ceb.inventory_list.returned";
/// The action of a cancellation.
pub const CANCELLED_ACTION: &str = "ceb.inventory_list.cancelled";

/// The buyer's allowance credited back by a cancellation or a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credit {
    /// Nothing: the list was never booked (it was waiting).
    Nothing,
    /// All that remains of the order's booking.
    Remaining,
    /// A partial return's value, decided on the credit-backs made before it.
    Part { fen: i64, credited_before_fen: i64 },
}

/// What a cancellation or a return changes, in its append.
pub(super) struct ListOutcome {
    pub(super) list: InventoryListRow,
    /// The list's new state; `None`: a partial return leaves it accepted.
    change: Option<InventoryListChange>,
    action: &'static str,
    /// What the list's event records beyond the list and the document.
    detail: Value,
    credit: Credit,
    /// The declaration's cancellation and the tasks it withdraws.
    declaration: Vec<LinkedEvent>,
    /// The receipt's info.
    pub(super) info: String,
}

impl ListOutcome {
    /// Whether the list's guarantee debit is released with it: when an accepted list leaves
    /// `accepted` (cancelled, or returned in full).
    pub(super) fn releases_debit(&self) -> bool {
        self.list.status == "accepted" && self.change.is_some()
    }

    /// The linked events of the document's append: the list's, the allowance's, the
    /// declaration's.
    pub(super) fn linked(&self, by: &str) -> Vec<LinkedEvent> {
        let mut payload = json!({ "list": self.list.id, "by": by });
        if let (Some(target), Some(detail)) = (payload.as_object_mut(), self.detail.as_object()) {
            target.extend(detail.clone());
        }
        let mut linked = vec![LinkedEvent {
            actor: None,
            subject: list_subject(&self.list.id),
            action: self.action.into(),
            payload: payload.to_string(),
            expected_version: None,
            projection: match &self.change {
                Some(change) => Projection::InventoryListChange {
                    id: self.list.id.clone(),
                    change: change.clone(),
                },
                None => Projection::Nothing,
            },
        }];
        let (amount_fen, credited_before_fen) = match self.credit {
            Credit::Nothing | Credit::Remaining => (None, None),
            Credit::Part {
                fen,
                credited_before_fen,
            } => (Some(fen), Some(credited_before_fen)),
        };
        if self.credit != Credit::Nothing {
            linked.push(LinkedEvent {
                actor: None,
                subject: format!("cbec-order:{}", self.list.order_no),
                action: "cbec.purchase_credited_back".into(),
                payload: json!({
                    "order_ref": self.list.order_no,
                    "list": self.list.id,
                    "by": by,
                    "amount_fen": amount_fen,
                })
                .to_string(),
                expected_version: None,
                projection: Projection::CbecCreditBack {
                    order_ref: self.list.order_no.clone(),
                    amount_fen,
                    credited_before_fen,
                },
            });
        }
        linked.extend(self.declaration.iter().cloned());
        linked
    }
}

fn refused(path: &str, en: &str, zh: &str) -> Answer {
    let e = FieldError::not_allowed(path, en, zh);
    (ReturnStatus::Refused, info_of(&[e]), None)
}

fn fen_of(amount: Decimal) -> Result<i64, ClearanceError> {
    (ceb::arithmetic::to_fen(amount) * Decimal::ONE_HUNDRED)
        .to_i64()
        .ok_or_else(|| anyhow::anyhow!("amount {amount} out of range").into())
}

/// What a return sends back, given the quantities returned before (gnum, qty).
#[derive(Debug, PartialEq, Eq)]
struct Returned {
    /// Its value, in fen: per item, returned qty ÷ listed qty × `totalPrice`, rounded half-up to
    /// the fen, summed.
    part_fen: i64,
    /// Its items (gnum, qty).
    this: Vec<(u32, Decimal)>,
    /// Whether every item of the list is now returned in full.
    whole: bool,
}

fn quantity_of(gnum: u32, returned: &[(u32, Decimal)]) -> Decimal {
    returned
        .iter()
        .filter(|(g, _)| *g == gnum)
        .map(|(_, q)| *q)
        .sum()
}

/// The return `r` of `inventory`, after the quantities `before`; or every item that is not on
/// the list or would take its item past the quantity the list cleared, by its path.
fn returned_part(
    inventory: &ceb::Inventory,
    r: &ceb::Return,
    before: &[(u32, Decimal)],
) -> Result<Result<Returned, Vec<FieldError>>, ClearanceError> {
    let mut errors = Vec::new();
    let mut part_fen = 0i64;
    let mut this: Vec<(u32, Decimal)> = Vec::new();
    for (at, item) in r.items.iter().enumerate() {
        let path = |name: &str| format!("InvtRefundList[{}]/{name}", at + 1);
        let Some(listed) = inventory.items.iter().find(|l| l.gnum == item.gnum) else {
            errors.push(FieldError::not_allowed(
                path("gnum"),
                &format!("item {} is not on the list", item.gnum),
                &format!("清单中没有第 {} 项商品", item.gnum),
            ));
            continue;
        };
        let already = quantity_of(item.gnum, before) + quantity_of(item.gnum, &this);
        if already + item.qty > listed.qty {
            let (q, a, l) = (
                item.qty.normalize(),
                already.normalize(),
                listed.qty.normalize(),
            );
            errors.push(FieldError::not_allowed(
                path("qty"),
                &format!(
                    "returns {q} of item {}: with the {a} returned before, more than the {l} the list cleared",
                    item.gnum
                ),
                &format!(
                    "第 {} 项退货数量 {q}，加上此前已退 {a}，超过清单申报数量 {l}",
                    item.gnum
                ),
            ));
            continue;
        }
        if !listed.qty.is_zero() {
            let share = item
                .qty
                .checked_mul(listed.total_price)
                .and_then(|v| v.checked_div(listed.qty))
                .ok_or_else(|| anyhow::anyhow!("item {} out of range", item.gnum))?;
            part_fen += fen_of(share)?;
        }
        this.push((item.gnum, item.qty));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let whole = inventory
        .items
        .iter()
        .all(|l| quantity_of(l.gnum, before) + quantity_of(l.gnum, &this) >= l.qty);
    Ok(Ok(Returned {
        part_fen,
        this,
        whole,
    }))
}

impl<S: Store> Clearance<S> {
    /// What the cancellation `c` (its guid `by`) does to `list`, or why it is refused.
    pub(super) async fn cancellation_of(
        &self,
        list: InventoryListRow,
        c: &ceb::Cancellation,
        by: &str,
    ) -> Result<Result<ListOutcome, Answer>, ClearanceError> {
        const PATH: &str = "InvtCancel/invtNo";
        match list.status.as_str() {
            "waiting" => {
                // The schema requires a number; a waiting list has none but the pre-entry
                // number its receipt gave, which is checked like any other.
                let expected = pre_no(&list.id);
                if c.invt_no != expected {
                    return Ok(Err(refused(
                        PATH,
                        &format!(
                            "the list of this order is waiting for its documents and has no number yet: name the pre-entry number its receipt gave ({expected})"
                        ),
                        &format!(
                            "该订单的清单正在等待单证，尚无清单编号：请填写其回执所给的预录入编号（{expected}）"
                        ),
                    )));
                }
                Ok(Ok(ListOutcome {
                    list,
                    // Decided on nothing booked: a list accepted meanwhile is not cancelled by
                    // it (the store refuses; sent again, the cancellation finds it accepted).
                    change: Some(InventoryListChange::CancelledWaiting),
                    action: CANCELLED_ACTION,
                    detail: json!({}),
                    credit: Credit::Nothing,
                    declaration: Vec::new(),
                    info: "recorded: the waiting list is cancelled / 已入库：待对碰清单已撤销"
                        .into(),
                }))
            }
            "accepted" => {
                if let Some(refusal) = self.other_number(&list, &c.invt_no, PATH).await? {
                    return Ok(Err(refusal));
                }
                let declaration = match self.declaration_cancellation(&list, by).await? {
                    Ok(events) => events,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                Ok(Ok(ListOutcome {
                    list,
                    change: Some(InventoryListChange::Cancelled),
                    action: CANCELLED_ACTION,
                    detail: json!({}),
                    credit: Credit::Remaining,
                    declaration,
                    info: "recorded: the list and its declaration are cancelled, the buyer's allowance credited back and the guarantee debit released / 已入库：清单及报关单已撤销，消费者年度额度已退回，担保扣减已释放".into(),
                }))
            }
            _ => Ok(Err(not_in_state(&list, PATH))),
        }
    }

    /// The cancellation of an accepted list's declaration, decided on its version as any change
    /// (`changes::lifecycle_linked`); refused when the goods were released or a check or hold
    /// on them is open. A pending manual assessment has nothing left to assess and is withdrawn
    /// with it, as when an officer approves a cancellation.
    async fn declaration_cancellation(
        &self,
        list: &InventoryListRow,
        by: &str,
    ) -> Result<Result<Vec<LinkedEvent>, Answer>, ClearanceError> {
        const PATH: &str = "InvtCancel/invtNo";
        let Some(id) = &list.declaration_id else {
            return Ok(Ok(Vec::new()));
        };
        let row = self
            .store
            .declaration(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("list {} accepted as {id}, not found", list.id))?;
        match row.status.as_str() {
            "released" => {
                return Ok(Err(refused(
                    PATH,
                    &format!(
                        "the list's declaration {} was released: its goods are returned (CEB625), not cancelled",
                        row.number
                    ),
                    &format!(
                        "清单对应的报关单 {} 已放行：应申报退货（CEB625），不能撤销",
                        row.number
                    ),
                )));
            }
            // Cancelled already (an officer approved the trade's request): the list follows.
            "cancelled" => return Ok(Ok(Vec::new())),
            _ => {}
        }
        let mut withdrawn = Vec::new();
        let mut open = Vec::new();
        for task in self.open_tasks(&row.id).await? {
            if task.kind == crate::assessing::MANUAL_ASSESSMENT_TASK {
                withdrawn.push(crate::tasks::closing_event(
                    &row.id,
                    &task.id,
                    &task.kind,
                    json!({ "withdrawn": "the declaration is cancelled" }),
                ));
            } else {
                open.push(task.kind);
            }
        }
        if !open.is_empty() {
            return Ok(Err(refused(
                PATH,
                &format!(
                    "the list's declaration {} is under customs control (tasks open: {}): it cannot be cancelled until they are closed",
                    row.number,
                    open.join(", ")
                ),
                &format!(
                    "清单对应的报关单 {} 处于海关监管中（未完成的任务：{}）：任务完成前不能撤销",
                    row.number,
                    open.join("、")
                ),
            )));
        }
        let state = self.state_of(&row).await?;
        let event = DeclarationEvent::Cancelled {
            reason: format!(
                "cancelled with its inventory list by the cancellation (CEB623) {by} / 由撤销申请单（CEB623）{by} 随清单撤销"
            ),
        };
        if let Err(e) = state.check(&event) {
            return Ok(Err(refused(PATH, &e.message_en, &e.message_zh)));
        }
        let mut next = state.clone();
        next.apply(&event);
        let now_ms = self.now().timestamp_millis();
        let mut linked = vec![crate::changes::lifecycle_linked(
            &row, &event, &next, now_ms,
        )];
        linked.extend(withdrawn);
        Ok(Ok(linked))
    }

    /// What the return `r` of the accepted `list` does, or why it is refused.
    pub(super) async fn return_of(
        &self,
        list: InventoryListRow,
        inventory: &ceb::Inventory,
        r: &ceb::Return,
    ) -> Result<Result<ListOutcome, Answer>, ClearanceError> {
        // The returns recorded before, from the list's own events.
        let mut returned: Vec<(u32, Decimal)> = Vec::new();
        let mut credited_before_fen = 0i64;
        for event in self.store.events(&list_subject(&list.id)).await? {
            if event.action != PARTLY_RETURNED_ACTION {
                continue;
            }
            let record: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
            credited_before_fen += record["credited_fen"].as_i64().unwrap_or(0);
            for item in record["returned"].as_array().into_iter().flatten() {
                let gnum = item["gnum"].as_u64().and_then(|g| u32::try_from(g).ok());
                let qty = item["qty"].as_str().and_then(|q| q.parse::<Decimal>().ok());
                if let (Some(gnum), Some(qty)) = (gnum, qty) {
                    returned.push((gnum, qty));
                }
            }
        }
        let Returned {
            part_fen,
            this,
            whole,
        } = match returned_part(inventory, r, &returned)? {
            Ok(part) => part,
            Err(errors) => return Ok(Err((ReturnStatus::Refused, info_of(&errors), None))),
        };
        let recorded: Vec<Value> = this
            .iter()
            .map(|(gnum, qty)| json!({ "gnum": gnum, "qty": qty.normalize().to_string() }))
            .collect();
        let yuan = |fen: i64| Decimal::new(fen, 2).to_string();
        Ok(Ok(if whole {
            ListOutcome {
                list,
                change: Some(InventoryListChange::Returned),
                action: RETURNED_ACTION,
                detail: json!({ "returned": recorded }),
                credit: Credit::Remaining,
                declaration: Vec::new(),
                info: "recorded: the list's goods are all returned, the rest of the order credited back to the buyer's allowance and the guarantee debit released / 已入库：清单商品已全部退货，订单余额已退回消费者年度额度，担保扣减已释放".into(),
            }
        } else {
            ListOutcome {
                list,
                change: None,
                action: PARTLY_RETURNED_ACTION,
                detail: json!({ "returned": recorded, "credited_fen": part_fen }),
                credit: if part_fen > 0 {
                    Credit::Part {
                        fen: part_fen,
                        credited_before_fen,
                    }
                } else {
                    Credit::Nothing
                },
                declaration: Vec::new(),
                info: format!(
                    "recorded: part of the list's goods returned, {0} CNY credited back to the buyer's allowance; the list stays accepted / 已入库：清单部分商品退货，{0} 元已退回消费者年度额度，清单状态不变",
                    yuan(part_fen)
                ),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(name: &str) -> ceb::Message {
        let path = format!(
            "{}/../ceb/test_data/flow/{name}Message.xml",
            env!("CARGO_MANIFEST_DIR")
        );
        ceb::parse(&std::fs::read(&path).unwrap()).unwrap_or_else(|_| panic!("{path}"))
    }

    /// The flow's list (item 1: 2 laptops for 199; item 2: 1 phone for 101.00) and its return
    /// of the phone.
    fn documents() -> (ceb::Inventory, ceb::Return) {
        let (ceb::Message::Inventories(i), ceb::Message::Returns(r)) =
            (flow("CEB621"), flow("CEB625"))
        else {
            panic!("the flow's list and return")
        };
        (i.documents[0].clone(), r.documents[0].clone())
    }

    fn returning(r: &mut ceb::Return, items: &[(u32, &str)]) {
        let template = r.items[0].clone();
        r.items = items
            .iter()
            .map(|(gnum, qty)| ceb::ReturnItem {
                gnum: *gnum,
                qty: qty.parse().unwrap(),
                ..template.clone()
            })
            .collect();
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_return_credits_its_share_of_each_item_rounded_half_up_to_the_fen() {
        let (mut inventory, mut r) = documents();
        let part = returned_part(&inventory, &r, &[]).unwrap().unwrap();
        assert_eq!(part.part_fen, 10_100);
        assert!(!part.whole);
        // A third of 100.00 is 33.33, two thirds 66.67; half of 0.05 is 0.025: 0.03 (half-up,
        // not to even).
        inventory.items[0].qty = dec("3");
        inventory.items[0].total_price = dec("100.00");
        returning(&mut r, &[(1, "1")]);
        assert_eq!(
            returned_part(&inventory, &r, &[])
                .unwrap()
                .unwrap()
                .part_fen,
            3_333
        );
        returning(&mut r, &[(1, "2")]);
        assert_eq!(
            returned_part(&inventory, &r, &[])
                .unwrap()
                .unwrap()
                .part_fen,
            6_667
        );
        inventory.items[0].qty = dec("2");
        inventory.items[0].total_price = dec("0.05");
        returning(&mut r, &[(1, "1")]);
        assert_eq!(
            returned_part(&inventory, &r, &[])
                .unwrap()
                .unwrap()
                .part_fen,
            3
        );
    }

    #[test]
    fn returns_add_up_to_the_list_and_no_further() {
        let (inventory, mut r) = documents();
        let phone = [(2, Decimal::ONE)];
        // The phone returned before: again is one too many, by its path.
        let errors = returned_part(&inventory, &r, &phone).unwrap().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "InvtRefundList[1]/qty");
        assert!(
            errors[0].message_zh.contains("此前已退 1"),
            "{}",
            errors[0].message_zh
        );
        // Within one return too: 1 then 2 laptops of 2.
        returning(&mut r, &[(1, "1"), (1, "2"), (7, "1")]);
        let errors = returned_part(&inventory, &r, &phone).unwrap().unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["InvtRefundList[2]/qty", "InvtRefundList[3]/gnum"]);
        // Exactly the rest: the list is returned whole.
        returning(&mut r, &[(1, "2")]);
        let part = returned_part(&inventory, &r, &phone).unwrap().unwrap();
        assert!(part.whole);
        assert_eq!(part.part_fen, 19_900);
        assert_eq!(part.this, [(1, dec("2"))]);
        // One laptop of the two: not yet.
        returning(&mut r, &[(1, "1")]);
        assert!(
            !returned_part(&inventory, &r, &phone)
                .unwrap()
                .unwrap()
                .whole
        );
    }
}
