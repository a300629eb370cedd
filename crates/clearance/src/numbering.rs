//! Serials for declaration numbers, reserved from the store in blocks so that numbering does not
//! cost a durable write per declaration. Numbers are unique across processes and restarts;
//! serials of a block left unused at shutdown are skipped, never reused.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Mutex;

use store::Store;

use crate::error::ClearanceError;

#[derive(Default)]
pub(crate) struct SerialPool {
    blocks: Mutex<HashMap<String, VecDeque<Range<u64>>>>,
}

impl SerialPool {
    fn take(&self, counter_key: &str) -> Option<u64> {
        let mut blocks = self
            .blocks
            .lock()
            .expect("the serial pool lock is never poisoned");
        let queue = blocks.get_mut(counter_key)?;
        while let Some(range) = queue.front_mut() {
            if let Some(serial) = range.next() {
                return Some(serial);
            }
            queue.pop_front();
        }
        None
    }

    pub(crate) async fn next<S: Store>(
        &self,
        store: &S,
        counter_key: &str,
        block: u64,
    ) -> Result<u64, ClearanceError> {
        assert!(block >= 1, "a serial block holds at least one serial");
        if let Some(serial) = self.take(counter_key) {
            return Ok(serial);
        }
        // Concurrent callers may each reserve a block; both blocks are kept, none is lost.
        let first = store.reserve_serials(counter_key, block).await?;
        let mut blocks = self
            .blocks
            .lock()
            .expect("the serial pool lock is never poisoned");
        blocks
            .entry(counter_key.to_owned())
            .or_default()
            .push_back(first + 1..first + block);
        Ok(first)
    }
}
