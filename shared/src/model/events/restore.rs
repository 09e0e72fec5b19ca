//! Events put back into a new emulator by the local stack (`make dev`).

use super::{EventStatus, LEGACY_STATUS, STATUS, status_partition};
use crate::aws::table;
use crate::rules::ids::EventId;

/// An item of a saved table, put back into a new emulator by the local
/// stack (`make dev`), whose queues start empty: an event still `RECEIVED`
/// goes on the `RECEIVED` status listing, so the sweeper queues it again
/// even where its cursor has passed it (its message was lost with the old
/// queue). Any other item is left as it is.
pub fn restored(item: &mut serde_json::Value) {
    let Some(fields) = item.as_object_mut() else {
        return;
    };
    let text = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let status = text(STATUS).or_else(|| text(LEGACY_STATUS));
    let (Some(pk), Some(sk), Some(status), Some(id)) = (text("pk"), text("sk"), status, text("id"))
    else {
        return;
    };
    let Some(id) = EventId::parse(&id) else {
        return;
    };
    let Some((ws, _)) = table::workspace_of(&pk) else {
        return;
    };
    let key = table::event(&ws, id.as_str());
    if key.pk != pk
        || key.sk != sk
        || status != EventStatus::Received.as_str()
        || fields.contains_key("gsi2pk")
    {
        return;
    }
    let partition = status_partition(&ws, EventStatus::Received, &id);
    fields.insert("gsi2pk".into(), partition.into());
    fields.insert("gsi2sk".into(), id.as_str().into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ids::WorkspaceId;

    #[test]
    fn a_restored_received_event_goes_on_the_status_listing_and_nothing_else_changes() {
        let id = EventId::generate();
        let ws = WorkspaceId::generate();
        let key = table::event(&ws, id.as_str());
        let received = serde_json::json!({"pk": key.pk, "sk": key.sk, "id": id.as_str(), "eventStatus": "RECEIVED"});
        let mut item = received.clone();
        restored(&mut item);
        assert_eq!(
            item["gsi2pk"],
            status_partition(&ws, EventStatus::Received, &id).as_str()
        );
        assert!(item["gsi2pk"].as_str().unwrap().contains("EVENTS#RECEIVED"));
        assert_eq!(item["gsi2sk"], id.as_str());
        // Written before the status moved to `eventStatus`: the same.
        let mut legacy = serde_json::json!({"pk": key.pk, "sk": key.sk, "id": id.as_str(), "status": "RECEIVED"});
        restored(&mut legacy);
        assert_eq!(legacy["gsi2pk"], item["gsi2pk"]);
        for other in [
            serde_json::json!({"pk": key.pk, "sk": key.sk, "id": id.as_str(), "status": "PROCESSED"}),
            serde_json::json!({"pk": key.pk, "sk": "INPUT", "id": id.as_str(), "status": "RECEIVED"}),
            serde_json::json!({"pk": "LEAD#x", "sk": "LEAD", "id": id.as_str(), "status": "RECEIVED"}),
            serde_json::json!({"pk": key.pk, "sk": key.sk, "id": id.as_str(), "status": "RECEIVED", "gsi2pk": "kept"}),
            serde_json::json!(["not", "an", "item"]),
        ] {
            let mut item = other.clone();
            restored(&mut item);
            assert_eq!(item, other);
        }
    }
}
