//! The embedded default: events go to subscribers inside this process, no NATS.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::{BusError, BusEvent, PublishOutcome, Publisher, Resume};

/// Events a slow in-process subscriber may fall behind by before it misses some (it is told:
/// `RecvError::Lagged`, and can read the rest from the store). A broadcast channel's capacity
/// is allocated up front, so it stays modest.
pub const IN_PROCESS_CAPACITY: usize = 1024;

/// An in-process bus: a broadcast channel the relay publishes into.
#[derive(Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<BusEvent>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        InProcessBus::new()
    }
}

impl InProcessBus {
    pub fn new() -> InProcessBus {
        let (sender, _) = broadcast::channel(IN_PROCESS_CAPACITY);
        InProcessBus { sender }
    }

    /// A subscription to the events published from now on, in seq order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.sender.subscribe()
    }
}

#[async_trait::async_trait]
impl Publisher for InProcessBus {
    async fn resume(&self) -> Result<Resume, BusError> {
        Ok(Resume::Head)
    }

    async fn publish(&self, events: &[BusEvent]) -> PublishOutcome {
        for event in events {
            // No subscriber is not a failure: the event is committed and stays in the store.
            let _ = self.sender.send(Arc::new(event.clone()));
        }
        PublishOutcome {
            acked: events.len(),
            error: None,
        }
    }
}
