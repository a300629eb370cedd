//! CUSRES (D.96B): the customs response. An acceptance names the declaration number; a refusal
//! carries one SG4 (ERP-RFF-ERC-FTX) per problem, naming the segment group, the segment and its
//! position, the element, the platform's field path and the words in English and Chinese; a
//! receipt (回执) is rendered from the trade's allow-listed view only.

use wire::views::TradeReceiptView;

use crate::cusdec::{Envelope, Refusal, close_interchange, open_interchange};
use crate::syntax::{Writer, chunks};

/// BGM 1001 of an answer to a declaration, and of a receipt.
const GENERAL_RESPONSE: &str = "961";
const RECEIPT: &str = "917";
/// BGM 1225: accepted without amendment, not accepted.
const ACCEPTED: &str = "29";
const NOT_ACCEPTED: &str = "27";

fn open(w: &mut Writer, envelope: &Envelope, document: &str, number: &str, function: &str) {
    open_interchange(w, envelope);
    w.segment("UNH", &[&["1"], &["CUSRES", "D", "96B", "UN"]]);
    w.segment("BGM", &[&[document], &[number], &[function]]);
    w.segment(
        "DTM",
        &[&["137", &format!("{}{}", envelope.date, envelope.time), "203"]],
    );
}

/// FTX+AAO with text in components of 70 characters (C108 4440), five a segment, and the language.
fn text(w: &mut Writer, qualifier: &str, words: &str, language: &str) {
    let pieces = chunks(words, 70);
    for group in pieces.chunks(5) {
        let texts: Vec<&str> = group.iter().map(String::as_str).collect();
        w.segment("FTX", &[&[qualifier], &[], &[], &texts, &[language]]);
    }
}

/// The answer to an accepted lodging: the lane as the trade may see it (GIS, never why), the
/// declaration number (RFF+ABT), the id the API knows it by (RFF+ZZZ), the declarant's own
/// document number echoed (RFF+ABO) and, when assessed at lodging, the amount due in CNY
/// (segment group 5: `TAX+9'` then `MOA+128:<amount>:CNY'`, 128 = total amount) — what the JSON
/// answer tells the trade, no more.
pub fn acceptance(
    envelope: &Envelope,
    lodgement: &wire::LodgementView,
    their_reference: Option<&str>,
) -> String {
    let mut w = Writer::new();
    open(
        &mut w,
        envelope,
        GENERAL_RESPONSE,
        &lodgement.number,
        ACCEPTED,
    );
    if let Some(lane) = &lodgement.lane {
        w.segment("GIS", &[&[lane]]);
    }
    w.segment("RFF", &[&["ABT", &lodgement.number]]);
    w.segment("RFF", &[&["ZZZ", &lodgement.id]]);
    if let Some(reference) = their_reference {
        w.segment("RFF", &[&["ABO", reference]]);
    }
    if let Some(amount) = &lodgement.amount_due {
        w.segment("TAX", &[&["9"]]);
        w.segment("MOA", &[&["128", amount, "CNY"]]);
    }
    close_interchange(&mut w, envelope);
    w.finish()
}

/// The answer to a refused lodging: one SG4 per problem.
/// `ERP+<group>:<goods item>+<segment tag>:<position>'` (C701 1049 / 1052, C853 9166 / 1050),
/// `RFF+ZZZ:<field path>'`, `ERC+<code>'`, `FTX+AAO+++<segment and element>'`, then the words,
/// `FTX+AAO+++<English>+EN'` and `FTX+AAO+++<Chinese>+ZH'`.
pub fn refusal(envelope: &Envelope, refusals: &[Refusal], their_reference: Option<&str>) -> String {
    let mut w = Writer::new();
    open(
        &mut w,
        envelope,
        GENERAL_RESPONSE,
        their_reference.unwrap_or(&envelope.reference),
        NOT_ACCEPTED,
    );
    if let Some(reference) = their_reference {
        w.segment("RFF", &[&["ABO", reference]]);
    }
    for r in refusals {
        let item = goods_item(&r.path);
        let tag = r.segment.get(..3).unwrap_or(&r.segment);
        let position = r.position.to_string();
        w.segment("ERP", &[&[&r.group, &item], &[tag, &position]]);
        if !r.path.is_empty() {
            w.segment("RFF", &[&["ZZZ", &r.path]]);
        }
        w.segment("ERC", &[&[&r.code]]);
        text(&mut w, "AAO", &r.location(), "");
        text(&mut w, "AAO", &r.message_en, "EN");
        text(&mut w, "AAO", &r.message_zh, "ZH");
    }
    close_interchange(&mut w, envelope);
    w.finish()
}

/// `items[3].origin_country` → "4" (goods item numbers count from 1); "" for the header.
fn goods_item(path: &str) -> String {
    path.strip_prefix("items[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .map(|i| (i + 1).to_string())
        .unwrap_or_default()
}

/// A receipt (回执) of a declaration as CUSRES: BGM 917 with the declaration number, the
/// receipt's kind (FTX+ACB), when it was recorded (DTM+137), who acted (trade, customs, bank or
/// system), the amount (MOA+128, CNY), the payment reference, and each check the trade must
/// present for (GIS). Only the members of the trade's allow-listed view are read.
pub fn render_receipt(receipt: &TradeReceiptView, number: &str, reference: Option<&str>) -> String {
    let digits: String = receipt
        .recorded_at
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let envelope = Envelope {
        sender: "CUSTOMS".into(),
        recipient: "TRADE".into(),
        reference: format!("R{}", receipt.seq),
        date: digits.get(..8).unwrap_or("").to_owned(),
        time: digits.get(8..12).unwrap_or("").to_owned(),
    };
    let mut w = Writer::new();
    open(&mut w, &envelope, RECEIPT, number, "9");
    text(&mut w, "ACB", &receipt.receipt, "");
    text(&mut w, "ACB", &format!("by {}", receipt.by), "");
    if let Some(reason) = &receipt.reason {
        text(&mut w, "AAO", reason, "");
    }
    for check in &receipt.checks {
        w.segment("GIS", &[&[check]]);
    }
    w.segment("RFF", &[&["ABT", number]]);
    if let Some(n) = receipt.number.as_deref().filter(|n| *n != number) {
        w.segment("RFF", &[&["AEI", n]]);
    }
    if let Some(reference) = reference {
        w.segment("RFF", &[&["ABO", reference]]);
    }
    if let Some(payment) = &receipt.reference {
        w.segment("RFF", &[&["PQ", payment]]);
    }
    if let Some(amount) = &receipt.amount {
        // MOA stands in segment group 5 (duty/tax/fee), which a TAX segment opens.
        w.segment("TAX", &[&["9"]]);
        w.segment("MOA", &[&["128", amount, "CNY"]]);
    }
    close_interchange(&mut w, &envelope);
    w.finish()
}
