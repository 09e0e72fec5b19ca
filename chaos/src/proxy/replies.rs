//! The answers the fault proxy makes up, each in the shape its service
//! sends (DynamoDB and SQS JSON protocols).

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

pub(super) fn json_reply(
    status: u16,
    headers: &[(&str, &str)],
    body: Value,
) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "chaos-proxy");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// The throttling error of the service that owns `op`.
pub(super) fn throttle(op: &str) -> hyper::Response<Full<Bytes>> {
    if op.starts_with("DynamoDB_") {
        json_reply(
            400,
            &[],
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                   "message": "Rate of requests exceeds the allowed throughput. (chaos proxy)"}),
        )
    } else if op.starts_with("AmazonSQS.") {
        // SQS's JSON protocol is query-compatible: the SDK reads the code
        // from x-amzn-query-error.
        json_reply(
            400,
            &[("x-amzn-query-error", "RequestThrottled;Sender")],
            json!({"__type": "com.amazonaws.sqs#RequestThrottled",
                   "message": "Request is throttled. (chaos proxy)"}),
        )
    } else {
        json_reply(
            400,
            &[],
            json!({"__type": "ThrottlingException", "message": "Rate exceeded (chaos proxy)"}),
        )
    }
}

/// A TransactionCanceledException whose reasons name one item as in
/// conflict (one reason per item of the request, as DynamoDB answers).
pub(super) fn tx_conflict(request: &[u8]) -> hyper::Response<Full<Bytes>> {
    let items = serde_json::from_slice::<Value>(request)
        .ok()
        .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
        .unwrap_or(1)
        .max(1);
    let hit = fastrand::usize(0..items);
    let reasons: Vec<Value> = (0..items)
        .map(|i| {
            if i == hit {
                json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    let codes: Vec<&str> = (0..items)
        .map(|i| {
            if i == hit {
                "TransactionConflict"
            } else {
                "None"
            }
        })
        .collect();
    json_reply(
        400,
        &[],
        json!({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
               "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
               "CancellationReasons": reasons}),
    )
}

pub(super) fn internal_error() -> hyper::Response<Full<Bytes>> {
    json_reply(
        500,
        &[],
        json!({"__type": "InternalFailure", "message": "injected internal error (chaos proxy)"}),
    )
}
