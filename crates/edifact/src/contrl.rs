//! CONTRL (syntax and service report, ISO 9735): the answer to an interchange with a syntax
//! error. The interchange is rejected (0083 = 4) in UCI; an error inside a message is reported in
//! UCM with the message's reference, UCS with the segment's position in the message and, for a
//! value, UCD with the element (the segment tag counting as position 1, as ISO 9735 counts) and
//! the component. Every code is an ISO 9735 syntax error code
//! (UNCL 0085); the words go in no segment of CONTRL's, so the HTTP answer carries them beside.

use crate::cusdec::{Envelope, close_interchange, open_interchange};
use crate::syntax::{SyntaxError, Writer, codes};

/// 0083: the interchange or message is rejected.
const REJECTED: &str = "4";

/// What is known of the received interchange's envelope, read leniently (a syntax error may be
/// in the envelope itself).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    pub sender: String,
    pub recipient: String,
    pub reference: String,
}

/// Reads UNB's sender, recipient and reference from the first segment that starts with "UNB",
/// with the default separators or the UNA's; anything unreadable is left empty.
pub fn received(input: &[u8]) -> Received {
    let text = String::from_utf8_lossy(&input[..input.len().min(4096)]);
    let text = text.trim_start();
    let (element, component, segment_end, body) = match text.strip_prefix("UNA") {
        Some(rest) if rest.len() >= 6 => {
            let c: Vec<char> = rest.chars().take(6).collect();
            let skip: usize = c.iter().map(|ch| ch.len_utf8()).sum();
            (c[1], c[0], c[5], &rest[skip..])
        }
        _ => ('+', ':', '\'', text),
    };
    let Some(unb) = body
        .trim_start()
        .split(segment_end)
        .next()
        .filter(|s| s.starts_with("UNB"))
    else {
        return Received::default();
    };
    let elements: Vec<&str> = unb.split(element).collect();
    let first = |i: usize| {
        elements
            .get(i)
            .and_then(|e| e.split(component).next())
            .map(|v| v.chars().take(35).collect())
            .unwrap_or_default()
    };
    Received {
        sender: first(2),
        recipient: first(3),
        reference: first(5),
    }
}

/// The CONTRL answering `error` in the interchange `received`, sent as `envelope`.
pub fn contrl(envelope: &Envelope, received: &Received, error: &SyntaxError) -> String {
    let mut w = Writer::new();
    open_interchange(&mut w, envelope);
    w.segment("UNH", &[&["1"], &["CONTRL", "4", "1", "UN"]]);
    let code = error.code.to_string();
    // In CONTRL the segment tag is data element position 1 (ISO 9735, UCD S011 0098), so the
    // first element after the tag is 2.
    let element = error
        .at
        .element
        .map(|e| (e + 1).to_string())
        .unwrap_or_default();
    let component = error
        .at
        .component
        .map(|c| c.to_string())
        .unwrap_or_default();
    match &error.message_reference {
        Some(reference) if error.at.in_message => {
            w.segment(
                "UCI",
                &[
                    &[&received.reference],
                    &[&received.sender],
                    &[&received.recipient],
                    &[REJECTED],
                ],
            );
            w.segment(
                "UCM",
                &[
                    &[reference],
                    &["CUSDEC", "D", "96B", "UN"],
                    &[REJECTED],
                    &[&code],
                ],
            );
            // A missing segment is reported at the last segment before where it was expected.
            let position = if error.at.element.is_none() && error.code == codes::MISSING {
                error.at.segment.saturating_sub(1)
            } else {
                error.at.segment
            }
            .to_string();
            if error.at.element.is_some() {
                w.segment("UCS", &[&[&position]]);
                w.segment("UCD", &[&[&code], &[&element, &component]]);
            } else {
                w.segment("UCS", &[&[&position], &[&code]]);
            }
        }
        _ => {
            // An envelope error: the segment tag and the element in UCI itself.
            w.segment(
                "UCI",
                &[
                    &[&received.reference],
                    &[&received.sender],
                    &[&received.recipient],
                    &[REJECTED],
                    &[&code],
                    &[&error.at.tag],
                    &[&element, &component],
                ],
            );
        }
    }
    close_interchange(&mut w, envelope);
    w.finish()
}
