use std::time::Duration;

use crate::relay::{BACKOFF_MAX, BACKOFF_MIN, BATCH_MAX, RelayOptions, backoff_after};
use crate::*;

fn event(seq: u64, payload: &str) -> BusEvent {
    BusEvent {
        chain: "00112233aabbccdd".to_owned(),
        seq,
        chain_index: 0,
        subject: "dec-1".to_owned(),
        action: "declaration.accepted".to_owned(),
        actor: "usr-1".to_owned(),
        role: "declarant".to_owned(),
        recorded_at_ms: 1_767_225_600_123,
        payload: payload.to_owned(),
    }
}

#[test]
fn a_message_carries_the_payload_byte_for_byte() {
    // Decimal amounts and key order survive: the payload is embedded unparsed.
    let payload = r#"{"z":1,"amount":"12.30","rate":0.100000000000000000001}"#;
    let json = event(7, payload).to_json();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.contains(payload), "{text}");
    assert!(
        text.contains(r#""recorded_at":"2026-01-01T00:00:00.123Z""#),
        "{text}"
    );
    assert_eq!(BusEvent::from_json(&json).unwrap(), event(7, payload));
}

#[test]
fn a_payload_that_is_not_json_travels_as_a_string() {
    let json = event(1, "not json").to_json();
    assert_eq!(BusEvent::from_json(&json).unwrap().payload, r#""not json""#);
}

#[test]
fn a_message_that_is_not_an_event_is_refused_in_words() {
    let error = BusEvent::from_json(b"{}").unwrap_err();
    assert!(error.to_string().contains("not a bus event"), "{error}");
}

#[test]
fn the_message_id_is_the_chain_and_the_seq() {
    assert_eq!(event(42, "{}").message_id(), "00112233aabbccdd:42");
    assert_eq!(chain_id(&[0xab; 32]), "abababababababab");
}

#[test]
fn each_action_has_its_subject_under_the_prefix() {
    assert_eq!(
        subject_for("customs.events", "declaration.accepted"),
        "customs.events.declaration.accepted"
    );
    // Wildcards, spaces and empty tokens cannot widen or break the subject.
    assert_eq!(subject_for("p", "a.*.>"), "p.a._._");
    assert_eq!(subject_for("p", "a..b c"), "p.a._.b_c");
}

#[test]
fn the_batch_is_bounded_at_its_edge() {
    let batch = |batch| {
        RelayOptions {
            batch,
            ..Default::default()
        }
        .effective_batch()
    };
    assert_eq!(batch(BATCH_MAX), BATCH_MAX);
    assert_eq!(batch(BATCH_MAX + 1), BATCH_MAX);
    assert_eq!(batch(0), 1);
}

#[test]
fn the_back_off_doubles_up_to_its_bound() {
    assert_eq!(backoff_after(0), BACKOFF_MIN);
    assert_eq!(backoff_after(1), BACKOFF_MIN);
    assert_eq!(backoff_after(2), BACKOFF_MIN * 2);
    assert_eq!(backoff_after(6), Duration::from_millis(3200));
    assert_eq!(backoff_after(7), BACKOFF_MAX);
    assert_eq!(backoff_after(u32::MAX), BACKOFF_MAX);
}

#[test]
fn the_consumer_acts_on_each_seq_once_and_in_order() {
    let mut consumer = DedupConsumer::after(0);
    assert_eq!(consumer.accept(1), Ok(Delivery::New));
    assert_eq!(consumer.accept(2), Ok(Delivery::New));
    assert_eq!(consumer.accept(1), Ok(Delivery::Duplicate));
    assert_eq!(consumer.accept(2), Ok(Delivery::Duplicate));
    assert_eq!(
        consumer.accept(4),
        Err(OutOfOrder {
            expected: 3,
            got: 4
        })
    );
    assert_eq!(consumer.accept(3), Ok(Delivery::New));
    assert_eq!((consumer.last_seq(), consumer.duplicates()), (3, 2));
}

#[tokio::test]
async fn the_in_process_bus_delivers_to_every_subscriber_in_order() {
    let bus = InProcessBus::new();
    let mut first = bus.subscribe();
    let mut second = bus.subscribe();
    assert_eq!(bus.resume().await.unwrap(), Resume::Head);
    let outcome = bus.publish(&[event(1, "{}"), event(2, "{}")]).await;
    assert_eq!(outcome.acked, 2);
    assert!(outcome.error.is_none());
    for receiver in [&mut first, &mut second] {
        assert_eq!(receiver.recv().await.unwrap().seq, 1);
        assert_eq!(receiver.recv().await.unwrap().seq, 2);
    }
}

#[tokio::test]
async fn the_in_process_bus_tells_a_subscriber_that_fell_behind() {
    let bus = InProcessBus::new();
    let mut slow = bus.subscribe();
    let events: Vec<_> = (1..=IN_PROCESS_CAPACITY as u64 + 1)
        .map(|seq| event(seq, "{}"))
        .collect();
    bus.publish(&events[..IN_PROCESS_CAPACITY]).await;
    assert_eq!(
        slow.recv().await.unwrap().seq,
        1,
        "at capacity nothing is lost"
    );
    bus.publish(&events[IN_PROCESS_CAPACITY..]).await;
    bus.publish(&[event(IN_PROCESS_CAPACITY as u64 + 2, "{}")])
        .await;
    assert!(matches!(
        slow.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
    ));
}
