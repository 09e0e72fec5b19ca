//! The deployment's AWS resources, defined once: the local stack
//! (`leadpipe_local::bootstrap`) creates them from these definitions, and
//! the infra parity test checks Terraform against them.

use crate::aws::table::{LISTING_SHARDS, WORK_SHARDS};

/// A work queue with its dead-letter queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueDef {
    /// Suffix after the stack name: `leadpipe-leads`.
    pub suffix: &'static str,
    /// Receives before SQS moves a message to the DLQ.
    pub max_receive_count: u32,
    /// Visibility timeout of the source queue, seconds (≥ 6 × the consumer's timeout).
    pub visibility_timeout_s: u32,
    /// Batch size of the event source mapping.
    pub batch_size: u32,
    /// The consumer function's timeout, seconds.
    pub consumer_timeout_s: u32,
}

/// Receive counts live with the retry rules they follow (a pure module,
/// which configuration reads too).
pub use crate::rules::retry::{DELIVERIES_MAX_RECEIVES, LEADS_MAX_RECEIVES};

pub const LEADS_QUEUE: QueueDef = QueueDef {
    suffix: "leads",
    max_receive_count: LEADS_MAX_RECEIVES,
    visibility_timeout_s: 180,
    batch_size: 10,
    consumer_timeout_s: 30,
};

pub const DELIVERIES_QUEUE: QueueDef = QueueDef {
    suffix: "deliveries",
    max_receive_count: DELIVERIES_MAX_RECEIVES,
    visibility_timeout_s: 180,
    batch_size: 10,
    consumer_timeout_s: 30,
};

/// How many partitions of its index a growing listing and the work index
/// are written over (see [`crate::aws::table::LISTING_SHARDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexShards {
    /// Each of events, leads, deliveries, and their status and subscription
    /// listings, on the first and second index.
    pub listing: u32,
    /// Pending deliveries, on the work index.
    pub work: u32,
}

/// The table's index sharding: fixed by the code (an item's shard comes
/// from its id, listings read exactly these shards), stated in Terraform
/// (`local.index_shards`) and compared by the infra parity test.
pub const INDEX_SHARDS: IndexShards = IndexShards {
    listing: LISTING_SHARDS,
    work: WORK_SHARDS,
};

/// Messages are kept 14 days, the SQS maximum, in every queue.
pub const MESSAGE_RETENTION_S: u32 = 1_209_600;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_leads_queue_outlasts_an_hour_of_graph_outage() {
        use crate::rules::retry::backoff_floor;
        let base = Duration::from_secs(1);
        let waited: Duration = (1..LEADS_QUEUE.max_receive_count)
            .map(|n| backoff_floor(n, base, crate::config::DEFAULT_LEAD_RETRY_MAX))
            .sum();
        assert!(waited >= Duration::from_secs(3600), "{waited:?}");
    }
}
