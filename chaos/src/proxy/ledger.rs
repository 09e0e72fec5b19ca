//! What the proxy learns from the calls it forwards:
//!
//! * the SQS ledger — which messages exist in the emulator now, counted by
//!   (queue, body): a `SendMessage`/`SendMessageBatch` the emulator took
//!   adds one, a `DeleteMessage`/`DeleteMessageBatch` it took removes the
//!   one whose receipt handle a `ReceiveMessage` answer named. An emulator
//!   restart replays only the sends still alive ([`Ledger::filter_replay`]),
//!   so no message already consumed and deleted comes back;
//! * which DynamoDB writes are conditional, and on which kind of item
//!   ([`conditional_write`]): the lost-answer faults aim at them.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde_json::Value;

/// (queue URL, message body).
type MessageKey = (String, String);

/// Live SQS messages by (queue, body), and receipt handles → their message.
#[derive(Debug, Default)]
pub struct Ledger {
    live: HashMap<MessageKey, i64>,
    handles: HashMap<String, MessageKey>,
    pub sent: u64,
    pub deleted: u64,
    /// Deletes from a queue the message was never sent to (SQS's redrive
    /// moved it to a DLQ): taken off the queue it was sent to.
    pub deleted_after_move: u64,
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

impl Ledger {
    /// Records a call the emulator answered 2xx: `request` and `answer` are
    /// the JSON bodies (SQS JSON protocol).
    pub fn record(&mut self, op: &str, request: &[u8], answer: &[u8]) {
        let (Ok(req), Ok(ans)) = (
            serde_json::from_slice::<Value>(request),
            serde_json::from_slice::<Value>(answer),
        ) else {
            return;
        };
        let queue = queue_name(req["QueueUrl"].as_str().unwrap_or("")).to_owned();
        match op {
            "AmazonSQS.SendMessage" => {
                if let Some(body) = req["MessageBody"].as_str() {
                    self.add((queue, body.to_owned()));
                }
            }
            "AmazonSQS.SendMessageBatch" => {
                let ok: Vec<&str> = ans["Successful"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s["Id"].as_str()).collect())
                    .unwrap_or_default();
                for e in req["Entries"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(body)) = (e["Id"].as_str(), e["MessageBody"].as_str())
                        && ok.contains(&id)
                    {
                        self.add((queue.clone(), body.to_owned()));
                    }
                }
            }
            "AmazonSQS.ReceiveMessage" => {
                for m in ans["Messages"].as_array().into_iter().flatten() {
                    if let (Some(h), Some(body)) = (m["ReceiptHandle"].as_str(), m["Body"].as_str())
                    {
                        self.handles
                            .insert(h.to_owned(), (queue.clone(), body.to_owned()));
                    }
                }
            }
            "AmazonSQS.DeleteMessage" => {
                if let Some(h) = req["ReceiptHandle"].as_str() {
                    self.delete(h);
                }
            }
            "AmazonSQS.DeleteMessageBatch" => {
                let ok: Vec<&str> = ans["Successful"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s["Id"].as_str()).collect())
                    .unwrap_or_default();
                for e in req["Entries"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(h)) = (e["Id"].as_str(), e["ReceiptHandle"].as_str())
                        && ok.contains(&id)
                    {
                        self.delete(h);
                    }
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, key: MessageKey) {
        self.sent += 1;
        *self.live.entry(key).or_default() += 1;
    }

    fn delete(&mut self, handle: &str) {
        // A handle deletes once; a second delete of it changes nothing.
        let Some(key) = self.handles.remove(handle) else {
            return;
        };
        self.deleted += 1;
        if let Some(n) = self.live.get_mut(&key).filter(|n| **n > 0) {
            *n -= 1;
            return;
        }
        // Received from a DLQ it was never sent to: SQS moved it there.
        let moved = self
            .live
            .iter_mut()
            .find(|((_, body), n)| *body == key.1 && **n > 0);
        if let Some((_, n)) = moved {
            *n -= 1;
            self.deleted_after_move += 1;
        }
    }

    /// Every (queue, body) with its count of live messages (non-zero).
    pub fn alive_keys(&self) -> Vec<(String, String, i64)> {
        let mut v: Vec<_> = self
            .live
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((q, b), n)| (q.clone(), b.clone(), *n))
            .collect();
        v.sort();
        v
    }

    /// Messages alive now, by queue name.
    pub fn live_by_queue(&self) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for ((q, _), n) in &self.live {
            *out.entry(q.clone()).or_default() += *n;
        }
        out
    }

    /// Cuts the SQS sends of a moto recording down to the messages alive
    /// now (the last ones sent of each (queue, body)); other lines stay.
    pub fn filter_replay(&self, recording: &str) -> Replay {
        // Sends per key in the recording, to keep the last `live` of them.
        let mut total: HashMap<MessageKey, i64> = HashMap::new();
        let lines: Vec<(String, Option<Value>)> = recording
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| (l.to_owned(), sqs_send(l)))
            .collect();
        for (_, send) in &lines {
            for key in send.iter().flat_map(send_keys) {
                *total.entry(key).or_default() += 1;
            }
        }
        let mut seen: HashMap<MessageKey, i64> = HashMap::new();
        let mut keep = |key: &MessageKey| -> bool {
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            let live = self.live.get(key).copied().unwrap_or(0);
            *n > total.get(key).copied().unwrap_or(0) - live
        };
        let mut out = Replay::default();
        for (line, send) in lines {
            let Some(mut entry) = send else {
                out.text.push_str(&line);
                out.text.push('\n');
                continue;
            };
            let keys = send_keys(&entry);
            let mut req = entry["request"].take();
            let kept = if let Some(entries) = req["Entries"].as_array() {
                let queue = queue_name(req["QueueUrl"].as_str().unwrap_or("")).to_owned();
                let alive: Vec<Value> = entries
                    .iter()
                    .filter(|e| {
                        e["MessageBody"]
                            .as_str()
                            .is_some_and(|b| keep(&(queue.clone(), b.to_owned())))
                    })
                    .cloned()
                    .collect();
                out.dropped_sends += entries.len() - alive.len();
                out.kept_sends += alive.len();
                if alive.len() == entries.len() {
                    Some(line)
                } else if alive.is_empty() {
                    None
                } else {
                    req["Entries"] = Value::Array(alive);
                    rewrite(&entry["line"], &req)
                }
            } else {
                let k = keys.into_iter().next();
                if k.as_ref().is_some_and(&mut keep) {
                    out.kept_sends += 1;
                    Some(line)
                } else {
                    out.dropped_sends += 1;
                    None
                }
            };
            if let Some(l) = kept {
                out.text.push_str(&l);
                out.text.push('\n');
            }
        }
        out
    }
}

/// A recording cut down by [`Ledger::filter_replay`].
#[derive(Debug, Default)]
pub struct Replay {
    pub text: String,
    pub kept_sends: usize,
    /// Sends of messages consumed and deleted before the restart.
    pub dropped_sends: usize,
}

fn target(v: &Value) -> Option<String> {
    v["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    })
}

/// A recording line that sends SQS messages: `{"line": …, "request": …}`.
fn sqs_send(line: &str) -> Option<Value> {
    let v = serde_json::from_str::<Value>(line).ok()?;
    let t = target(&v)?;
    if t != "AmazonSQS.SendMessage" && t != "AmazonSQS.SendMessageBatch" {
        return None;
    }
    let body = v["body"].as_str()?;
    let bytes = if v["body_encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?
    } else {
        body.as_bytes().to_vec()
    };
    let request = serde_json::from_slice::<Value>(&bytes).ok()?;
    Some(serde_json::json!({"line": v, "request": request}))
}

fn send_keys(entry: &Value) -> Vec<MessageKey> {
    let req = &entry["request"];
    let queue = queue_name(req["QueueUrl"].as_str().unwrap_or("")).to_owned();
    match req["Entries"].as_array() {
        Some(es) => es
            .iter()
            .filter_map(|e| Some((queue.clone(), e["MessageBody"].as_str()?.to_owned())))
            .collect(),
        None => req["MessageBody"]
            .as_str()
            .map(|b| vec![(queue, b.to_owned())])
            .unwrap_or_default(),
    }
}

/// `line` with `request` as its body (plain text; the length header goes,
/// the replay computes it).
fn rewrite(line: &Value, request: &Value) -> Option<String> {
    let mut l = line.clone();
    l["body"] = Value::String(request.to_string());
    l["body_encoded"] = Value::Bool(false);
    if let Some(h) = l["headers"].as_object_mut() {
        h.retain(|k, _| !k.eq_ignore_ascii_case("content-length"));
    }
    serde_json::to_string(&l).ok()
}

/// `Some("PutItem EVT/EVT")` when `op` with `request` is a conditional
/// DynamoDB write (a `ConditionExpression`, or any TransactWriteItems): the
/// operation and the kind of item (its key's prefixes, workspace left out).
pub fn conditional_write(op: &str, request: &[u8]) -> Option<String> {
    let short = op.strip_prefix("DynamoDB_20120810.")?;
    if !matches!(
        short,
        "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems"
    ) {
        return None;
    }
    let req = serde_json::from_slice::<Value>(request).ok()?;
    if short == "TransactWriteItems" {
        let kinds: Vec<String> = req["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let (verb, inner) = t.as_object()?.iter().next()?;
                let key = if inner.get("Item").is_some() {
                    &inner["Item"]
                } else {
                    &inner["Key"]
                };
                Some(format!("{verb} {}", item_kind(key)))
            })
            .collect();
        return Some(format!("TransactWriteItems [{}]", kinds.join(", ")));
    }
    req.get("ConditionExpression")?;
    let key = if short == "PutItem" {
        &req["Item"]
    } else {
        &req["Key"]
    };
    Some(format!("{short} {}", item_kind(key)))
}

/// `EVT/EVT`, `DLV/ATT`…: the kind of an item from its `pk`/`sk`.
fn item_kind(key: &Value) -> String {
    let part = |name: &str| -> String {
        let s = key[name]["S"].as_str().unwrap_or("?");
        let s = match s.strip_prefix("W#") {
            Some(rest) => rest.split_once('#').map_or(rest, |(_, r)| r),
            None => s,
        };
        s.split('#').next().unwrap_or(s).to_owned()
    };
    format!("{}/{}", part("pk"), part("sk"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(target: &str, req: &Value) -> String {
        json!({"headers": {"X-Amz-Target": target, "Content-Length": "9"}, "method": "POST",
               "url": "http://127.0.0.1:1/", "body": req.to_string(), "body_encoded": false})
        .to_string()
    }

    #[test]
    fn a_deleted_message_is_not_replayed_and_a_live_one_is() {
        let mut l = Ledger::default();
        let q = "http://127.0.0.1:1/000000000000/leads";
        let send = |b: &str| json!({"QueueUrl": q, "MessageBody": b});
        l.record(
            "AmazonSQS.SendMessage",
            send("a").to_string().as_bytes(),
            b"{}",
        );
        l.record(
            "AmazonSQS.SendMessage",
            send("b").to_string().as_bytes(),
            b"{}",
        );
        l.record(
            "AmazonSQS.SendMessage",
            send("c").to_string().as_bytes(),
            b"{}",
        );
        l.record(
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": q}).to_string().as_bytes(),
            json!({"Messages": [{"ReceiptHandle": "h1", "Body": "a"}]})
                .to_string()
                .as_bytes(),
        );
        l.record(
            "AmazonSQS.DeleteMessage",
            json!({"QueueUrl": q, "ReceiptHandle": "h1"})
                .to_string()
                .as_bytes(),
            b"{}",
        );
        let batch = json!({"QueueUrl": q, "Entries": [{"Id": "0", "MessageBody": "a"}, {"Id": "1", "MessageBody": "b"}]});
        let rec = [
            line("AmazonSQS.CreateQueue", &json!({"QueueName": "leads"})),
            line("AmazonSQS.SendMessage", &send("a")),
            line("AmazonSQS.SendMessage", &send("b")),
            line("AmazonSQS.SendMessageBatch", &batch),
            line("AmazonSQS.SendMessage", &send("c")),
        ]
        .join("\n");
        let r = l.filter_replay(&rec);
        // "a" was deleted, "b" (sent twice in the recording, once alive)
        // is kept once: the last send; "c" is alive.
        assert_eq!((r.kept_sends, r.dropped_sends), (2, 3));
        let kept: Vec<&str> = r.text.lines().collect();
        assert_eq!(kept.len(), 3);
        assert!(kept[1].contains("SendMessageBatch") && !kept[1].contains("Content-Length"));
        assert!(kept[2].contains("SendMessage") && kept[2].contains("\\\"c\\\""));
        assert_eq!(l.live_by_queue()["leads"], 2);
    }

    #[test]
    fn conditional_writes_are_named_by_operation_and_item() {
        let put = json!({"Item": {"pk": {"S": "W#acme#EVT#1"}, "sk": {"S": "EVT"}}, "ConditionExpression": "attribute_not_exists(pk)"});
        assert_eq!(
            conditional_write("DynamoDB_20120810.PutItem", put.to_string().as_bytes()).as_deref(),
            Some("PutItem EVT/EVT")
        );
        let plain = json!({"Item": {"pk": {"S": "EVT#1"}, "sk": {"S": "EVT"}}});
        assert_eq!(
            conditional_write("DynamoDB_20120810.PutItem", plain.to_string().as_bytes()),
            None
        );
        let tx = json!({"TransactItems": [{"Update": {"Key": {"pk": {"S": "DLV#x"}, "sk": {"S": "ATT#000001"}}}}]});
        assert_eq!(
            conditional_write(
                "DynamoDB_20120810.TransactWriteItems",
                tx.to_string().as_bytes()
            )
            .as_deref(),
            Some("TransactWriteItems [Update DLV/ATT]")
        );
    }
}
