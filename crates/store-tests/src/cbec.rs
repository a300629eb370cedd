//! Chapter 5: the CBEC buyer's annual ledger (26,000 CNY per person per calendar year).

use store::{AppendOutcome, CbecBooking, CbecBookingOutcome, Projection, Store};

use crate::Story;
use crate::fixtures::{T0, actor, append, officer};

/// 26,000.00 CNY in fen.
const ANNUAL_LIMIT_FEN: i64 = 2_600_000;

/// A buyer as the store sees one: a 64-hex hash, never an ID-card number.
fn buyer(tag: char) -> String {
    tag.to_string().repeat(64)
}

fn booking(buyer_id: &str, year: i32, amount_fen: i64, order_ref: &str) -> CbecBooking {
    CbecBooking {
        buyer_id: buyer_id.to_owned(),
        year,
        amount_fen,
        annual_limit_fen: ANNUAL_LIMIT_FEN,
        order_ref: order_ref.to_owned(),
        actor: actor(&officer()),
        recorded_at_ms: T0 + 20_000,
    }
}

impl<S: Store> Story<'_, S> {
    /// A CBEC retail declaration's event carrying its purchase: booked in the same transaction,
    /// or nothing written at all.
    pub(crate) async fn append_with_cbec_purchases(&mut self) {
        let c = buyer('c');
        let with_purchase = |key: &str, amount_fen: i64, order_ref: &str| {
            let mut event = append(
                &actor(&officer()),
                key,
                &format!("D-{key}"),
                "declaration.assessed",
                Projection::OriginProofUses {
                    declaration_id: format!("D-{key}"),
                    proof_keys: Vec::new(),
                },
            );
            event.cbec_purchase = Some(booking(&c, 2025, amount_fen, order_ref));
            event
        };
        let fits = with_purchase("cbec-1", 2_000_000, "O-10");
        let outcome = self.store.append(fits.clone()).await.unwrap();
        // The booking's event comes first, then the append's own.
        self.events_appended += 2;
        let AppendOutcome::Appended { seq } = outcome else {
            panic!("a purchase that fits is appended, got {outcome:?}");
        };
        let booked = self.store.events(&format!("cbec:{c}:2025")).await.unwrap();
        assert!(
            booked.last().is_some_and(|e| e.seq < seq),
            "the booking first"
        );
        self.saw_newest(seq, "an append with a purchase");
        assert_eq!(
            self.store.cbec_year_to_date(&c, 2025).await.unwrap(),
            2_000_000
        );
        // An honest retry is the first append again and books nothing more.
        assert!(matches!(
            self.store.append(fits).await.unwrap(),
            AppendOutcome::Duplicate {
                same_request: true,
                ..
            }
        ));

        // Past the allowance: nothing written, neither the booking nor the event.
        let outcome = self
            .store
            .append(with_purchase("cbec-2", 600_001, "O-11"))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            AppendOutcome::CbecLimitExceeded {
                year_to_date_fen: 2_000_000,
                room_fen: 600_000
            }
        );
        let officer_scope = actor(&officer()).user_id;
        let written = self.store.event_by_idempotency(&officer_scope, "cbec-2");
        assert!(written.await.unwrap().is_none());

        // The order booked by another declaration: nothing written.
        let outcome = self
            .store
            .append(with_purchase("cbec-3", 100, "O-10"))
            .await
            .unwrap();
        let AppendOutcome::CbecOrderBooked { first } = outcome else {
            panic!("O-10 again should be refused, got {outcome:?}");
        };
        assert_eq!(
            (first.order_ref.as_str(), first.amount_fen),
            ("O-10", 2_000_000)
        );
        let written = self.store.event_by_idempotency(&officer_scope, "cbec-3");
        assert!(written.await.unwrap().is_none());
        assert_eq!(
            self.store.cbec_year_to_date(&c, 2025).await.unwrap(),
            2_000_000
        );
    }

    /// Books and insists it was booked; returns the year to date after it.
    async fn cbec_booked(&mut self, booking: CbecBooking) -> i64 {
        let what = format!("CBEC order {}", booking.order_ref);
        match self.store.book_cbec_purchase(booking).await {
            Ok(CbecBookingOutcome::Booked {
                seq,
                year_to_date_fen,
            }) => {
                self.events_appended += 1;
                self.saw_newest(seq, &what);
                year_to_date_fen
            }
            other => panic!("{what} should be booked, got {other:?}"),
        }
    }

    async fn cbec_outcome(&self, booking: CbecBooking) -> CbecBookingOutcome {
        self.store.book_cbec_purchase(booking).await.unwrap()
    }

    pub(crate) async fn book_cbec_purchases(&mut self) {
        let (a, b) = (buyer('a'), buyer('b'));
        let ytd = |year| self.store.cbec_year_to_date(&a, year);
        assert_eq!(ytd(2025).await.unwrap(), 0, "nothing booked yet");

        // Within the limit, then exactly up to it: 4,999.99 + 15,000.01 + 6,000.00 = 26,000.00.
        assert_eq!(
            self.cbec_booked(booking(&a, 2025, 499_999, "O-1")).await,
            499_999
        );
        assert_eq!(
            self.cbec_booked(booking(&a, 2025, 1_500_001, "O-2")).await,
            2_000_000
        );
        assert_eq!(
            self.cbec_booked(booking(&a, 2025, 600_000, "O-3")).await,
            ANNUAL_LIMIT_FEN
        );
        let first_full = self.last_seq;
        assert_eq!(
            self.store.cbec_year_to_date(&a, 2025).await.unwrap(),
            ANNUAL_LIMIT_FEN
        );

        // One fen more is refused, with no room left, and writes nothing.
        assert_eq!(
            self.cbec_outcome(booking(&a, 2025, 1, "O-4")).await,
            CbecBookingOutcome::Exceeded {
                year_to_date_fen: ANNUAL_LIMIT_FEN,
                room_fen: 0
            }
        );
        assert_eq!(
            self.store.cbec_year_to_date(&a, 2025).await.unwrap(),
            ANNUAL_LIMIT_FEN
        );

        // The same order again returns the first booking and books nothing more; a reused
        // reference with other terms says so.
        let CbecBookingOutcome::Duplicate {
            first,
            same_booking,
        } = self.cbec_outcome(booking(&a, 2025, 600_000, "O-3")).await
        else {
            panic!("O-3 again should be a duplicate");
        };
        assert!(same_booking);
        assert_eq!(
            (first.seq, first.order_ref.as_str(), first.amount_fen),
            (first_full, "O-3", 600_000)
        );
        assert_eq!((first.buyer_id.as_str(), first.year), (a.as_str(), 2025));
        assert_eq!(first.year_to_date_fen, ANNUAL_LIMIT_FEN);
        assert_eq!(first.recorded_at_ms, T0 + 20_000);
        let reused = self.cbec_outcome(booking(&b, 2025, 100, "O-3")).await;
        assert!(matches!(
            reused,
            CbecBookingOutcome::Duplicate {
                same_booking: false,
                ..
            }
        ));
        assert_eq!(self.store.cbec_year_to_date(&b, 2025).await.unwrap(), 0);

        // A refused order's reference stays free: it books next year.
        assert_eq!(self.cbec_booked(booking(&a, 2026, 1, "O-4")).await, 1);
        assert_eq!(self.store.cbec_year_to_date(&a, 2026).await.unwrap(), 1);
        assert_eq!(
            self.store.cbec_year_to_date(&a, 2025).await.unwrap(),
            ANNUAL_LIMIT_FEN
        );

        // Another buyer has its own allowance; room is reported when an order does not fit.
        assert_eq!(
            self.cbec_booked(booking(&b, 2025, 1_100_000, "O-5")).await,
            1_100_000
        );
        assert_eq!(
            self.cbec_outcome(booking(&b, 2025, 1_500_001, "O-6")).await,
            CbecBookingOutcome::Exceeded {
                year_to_date_fen: 1_100_000,
                room_fen: 1_500_000
            }
        );
        assert_eq!(
            self.cbec_booked(booking(&b, 2025, 1_500_000, "O-6")).await,
            ANNUAL_LIMIT_FEN
        );

        // What the store refuses outright: no amount, and a buyer that is not a hash (an
        // ID-card number must never reach the chain).
        assert!(
            self.store
                .book_cbec_purchase(booking(&b, 2025, 0, "O-7"))
                .await
                .is_err()
        );
        let id_card = booking("11010519491231002X", 2025, 100, "O-8");
        assert!(self.store.book_cbec_purchase(id_card).await.is_err());

        // Each booking is an event of the buyer's year, carrying the amount and the total.
        let history = self.store.events(&format!("cbec:{a}:2025")).await.unwrap();
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["cbec.purchase_booked"; 3]);
        assert_eq!(history[2].seq, first_full);
        assert_eq!(history[2].idempotency_key, "O-3");
        assert_eq!(
            history[2].payload,
            format!(
                r#"{{"amount_fen":600000,"annual_limit_fen":2600000,"buyer_id":"{a}","order_ref":"O-3","year":2025,"year_to_date_fen":2600000}}"#
            )
        );
    }
}
