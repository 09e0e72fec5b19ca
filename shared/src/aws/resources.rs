//! The deployment's AWS resources, defined once: the local stack and the
//! tests create them from these definitions, and the infra parity test checks
//! Terraform against them.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::secrets::SecretDocument;
use crate::aws::table::{GSIS, PK, SK, TTL_ATTRIBUTE};
use crate::error::Error;
use crate::model::subscriptions::MAX_MAX_ATTEMPTS;

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

/// Receives of one lead message before SQS gives up on it: enough that the
/// back-off of `process` (1 s doubling, capped at
/// [`crate::config::DEFAULT_LEAD_RETRY_MAX`]) outlasts a Graph API outage
/// of an hour (checked by a test below).
pub const LEADS_MAX_RECEIVES: u32 = 20;

/// Receives of one delivery message: every attempt of the longest round
/// ([`MAX_MAX_ATTEMPTS`]) plus room for waits behind another copy's claim
/// and transient AWS errors. `deliver` ends a delivery `dead` and parks it
/// itself at the last receive, so SQS never dead-letters a delivery that
/// still says `pending`.
pub const DELIVERIES_MAX_RECEIVES: u32 = MAX_MAX_ATTEMPTS + 10;
const _: () = assert!(DELIVERIES_MAX_RECEIVES > MAX_MAX_ATTEMPTS + 1);

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

/// Messages are kept 14 days, the SQS maximum, in every queue.
pub const MESSAGE_RETENTION_S: u32 = 1_209_600;

/// Resource names of one stack (`leadpipe` by default).
#[derive(Debug, Clone)]
pub struct StackNames {
    pub stack: String,
}

impl StackNames {
    pub fn new(stack: impl Into<String>) -> Self {
        StackNames {
            stack: stack.into(),
        }
    }
    pub fn table(&self) -> String {
        self.stack.clone()
    }
    pub fn queue(&self, q: &QueueDef) -> String {
        format!("{}-{}", self.stack, q.suffix)
    }
    pub fn dlq(&self, q: &QueueDef) -> String {
        format!("{}-{}-dlq", self.stack, q.suffix)
    }
    pub fn secret(&self) -> String {
        format!("{}/deployment", self.stack)
    }
}

/// What [`bootstrap`] created or found.
#[derive(Debug, Clone)]
pub struct Stack {
    pub table: String,
    pub leads_queue_url: String,
    pub leads_dlq_url: String,
    pub deliveries_queue_url: String,
    pub deliveries_dlq_url: String,
    pub secret_id: String,
    /// The secret in force (the existing one, with `overrides` applied).
    pub secret: SecretDocument,
}

impl Stack {
    /// Configuration for the functions of this stack.
    pub fn config(&self) -> crate::Config {
        crate::Config::for_resources(&self.env())
    }

    /// The environment variables that point the functions at this stack.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        use crate::config::vars;
        vec![
            (vars::TABLE, self.table.clone()),
            (vars::LEADS_QUEUE_URL, self.leads_queue_url.clone()),
            (
                vars::DELIVERIES_QUEUE_URL,
                self.deliveries_queue_url.clone(),
            ),
            (vars::LEADS_DLQ_URL, self.leads_dlq_url.clone()),
            (vars::DELIVERIES_DLQ_URL, self.deliveries_dlq_url.clone()),
            (vars::SECRET_ID, self.secret_id.clone()),
        ]
    }
}

/// Values to put into the deployment secret; `None` keeps what is there (or
/// generates a value when the secret is new).
#[derive(Debug, Clone, Default)]
pub struct SecretOverrides {
    pub admin_token: Option<String>,
    pub meta_app_secret: Option<String>,
    pub meta_verify_token: Option<String>,
    pub meta_page_token: Option<String>,
}

/// Creates the table, queues and secret when missing; idempotent.
pub async fn bootstrap(
    sdk: &SdkConfig,
    names: &StackNames,
    overrides: SecretOverrides,
) -> Result<Stack, Error> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let (table_name, secret_name) = (names.table(), names.secret());
    let (table, leads, deliveries, secret) = tokio::try_join!(
        ensure_table(&ddb, &table_name),
        ensure_queue(&sqs, names, &LEADS_QUEUE),
        ensure_queue(&sqs, names, &DELIVERIES_QUEUE),
        ensure_secret(&sm, &secret_name, overrides),
    )?;
    Ok(Stack {
        table,
        leads_queue_url: leads.0,
        leads_dlq_url: leads.1,
        deliveries_queue_url: deliveries.0,
        deliveries_dlq_url: deliveries.1,
        secret_id: names.secret(),
        secret,
    })
}

async fn ensure_table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<String, Error> {
    let exists = ddb.describe_table().table_name(name).send().await.is_ok();
    if !exists {
        let key = |attr: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(kind)
                .build()
                .map_err(|e| Error::request("dynamodb", "CreateTable", e))
        };
        let attr = |attr: &str| {
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| Error::request("dynamodb", "CreateTable", e))
        };
        let mut req = ddb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?);
        for gsi in GSIS {
            req = req
                .attribute_definitions(attr(gsi.pk)?)
                .attribute_definitions(attr(gsi.sk)?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(gsi.name)
                        .key_schema(key(gsi.pk, KeyType::Hash)?)
                        .key_schema(key(gsi.sk, KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(|e| Error::request("dynamodb", "CreateTable", e))?,
                );
        }
        if let Err(err) = req.send().await {
            // Lost a race with another bootstrap: fine.
            if !err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception())
            {
                return Err(Error::store("CreateTable", err));
            }
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| Error::request("dynamodb", "UpdateTimeToLive", e))?;
        ddb.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| Error::store("UpdateTimeToLive", e))?;
    }
    Ok(name.to_owned())
}

/// Creates (or updates) a queue and its DLQ; returns their URLs.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    names: &StackNames,
    def: &QueueDef,
) -> Result<(String, String), Error> {
    let retention = MESSAGE_RETENTION_S.to_string();
    let dlq_url = create_or_update_queue(
        sqs,
        &names.dlq(def),
        HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            retention.clone(),
        )]),
    )
    .await?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| Error::queue("GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| Error::request("sqs", "GetQueueAttributes", NoArn))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": def.max_receive_count,
    })
    .to_string();
    let url = create_or_update_queue(
        sqs,
        &names.queue(def),
        HashMap::from([
            (QueueAttributeName::MessageRetentionPeriod, retention),
            (
                QueueAttributeName::VisibilityTimeout,
                def.visibility_timeout_s.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ]),
    )
    .await?;
    Ok((url, dlq_url))
}

#[derive(Debug, thiserror::Error)]
#[error("queue has no ARN")]
struct NoArn;

async fn create_or_update_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, Error> {
    match sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await
    {
        Ok(out) => out
            .queue_url
            .ok_or_else(|| Error::request("sqs", "CreateQueue", NoArn)),
        Err(_) => {
            // It exists with other attributes: bring them up to date.
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| Error::queue("GetQueueUrl", e))?
                .queue_url
                .ok_or_else(|| Error::request("sqs", "GetQueueUrl", NoArn))?;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| Error::queue("SetQueueAttributes", e))?;
            Ok(url)
        }
    }
}

async fn ensure_secret(
    sm: &aws_sdk_secretsmanager::Client,
    name: &str,
    overrides: SecretOverrides,
) -> Result<SecretDocument, Error> {
    let existing = match sm.get_secret_value().secret_id(name).send().await {
        Ok(out) => out
            .secret_string()
            .and_then(|s| serde_json::from_str::<SecretDocument>(s).ok()),
        Err(_) => None,
    };
    let is_new = existing.is_none();
    let mut doc = existing.clone().unwrap_or_else(|| SecretDocument {
        admin_token: format!("adm_{}", crate::rules::crypto::random_token(24)),
        data_key: crate::rules::crypto::generate_data_key(),
        meta_app_secret: Some(crate::rules::crypto::random_token(16)),
        meta_verify_token: Some(crate::rules::crypto::random_token(16)),
        meta_page_token: Some("dev-page-token".into()),
    });
    if let Some(v) = overrides.admin_token {
        doc.admin_token = v;
    }
    if let Some(v) = overrides.meta_app_secret {
        doc.meta_app_secret = Some(v);
    }
    if let Some(v) = overrides.meta_verify_token {
        doc.meta_verify_token = Some(v);
    }
    if let Some(v) = overrides.meta_page_token {
        doc.meta_page_token = Some(v);
    }
    let text = serde_json::to_string(&doc).map_err(|e| Error::Secrets(e.to_string()))?;
    let secrets_err = |e: &dyn std::fmt::Display| Error::Secrets(format!("bootstrap {name}: {e}"));
    if is_new {
        sm.create_secret()
            .name(name)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| secrets_err(&aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?;
    } else if serde_json::to_string(&existing).ok() != serde_json::to_string(&Some(&doc)).ok() {
        sm.put_secret_value()
            .secret_id(name)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| secrets_err(&aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?;
    }
    Ok(doc)
}

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
