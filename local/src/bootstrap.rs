//! Creates the stack's table, queues and secrets when missing (the local
//! stack, the tests, the bench and the chaos run), from the definitions in
//! `leadpipe::aws::resources` and `leadpipe::aws::table`. Idempotent. Not
//! part of the library: a deployment's resources are Terraform's.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use leadpipe::aws::resources::{DELIVERIES_QUEUE, LEADS_QUEUE, MESSAGE_RETENTION_S, QueueDef};
use leadpipe::aws::secrets::{AdminSecretDocument, SecretDocument};
use leadpipe::aws::table::{GSIS, INDEX_INCLUDES, PK, SK, TTL_ATTRIBUTE};
use leadpipe::error::Error;
use serde::Serialize;

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
    pub fn admin_secret(&self) -> String {
        format!("{}/admin", self.stack)
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
    /// The deployment secret in force (the existing one, with `overrides`
    /// applied).
    pub secret: SecretDocument,
    pub admin_secret_id: String,
    /// The admin secret in force.
    pub admin_secret: AdminSecretDocument,
}

impl Stack {
    /// Configuration for the functions of this stack.
    pub fn config(&self) -> leadpipe::Config {
        leadpipe::Config::for_resources(&self.env())
    }

    /// The environment variables that point the functions at this stack.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        use leadpipe::config::vars;
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
            // The local stack runs every function in one process, admin
            // included; in the cloud only admin is given this one.
            (vars::ADMIN_SECRET_ID, self.admin_secret_id.clone()),
        ]
    }
}

/// Values to put into the deployment and admin secrets; `None` keeps what is
/// there (or generates a value when the secret is new).
#[derive(Debug, Clone, Default)]
pub struct SecretOverrides {
    pub admin_token: Option<String>,
    pub meta_app_secret: Option<String>,
    pub meta_verify_token: Option<String>,
    pub meta_page_token: Option<String>,
    pub meta_app_id: Option<String>,
}

/// The Meta app id a new local deployment secret names (the page health
/// check looks for it in `subscribed_apps`).
pub const DEV_META_APP_ID: &str = "1000000000000001";

/// Creates the table, queues and both secrets when missing; idempotent.
pub async fn bootstrap(
    sdk: &SdkConfig,
    names: &StackNames,
    overrides: SecretOverrides,
) -> Result<Stack, Error> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let table_name = names.table();
    let (table, leads, deliveries, (secret, admin_secret)) = tokio::try_join!(
        ensure_table(&ddb, &table_name),
        ensure_queue(&sqs, names, &LEADS_QUEUE),
        ensure_queue(&sqs, names, &DELIVERIES_QUEUE),
        ensure_secrets(&sm, names, overrides),
    )?;
    Ok(Stack {
        table,
        leads_queue_url: leads.0,
        leads_dlq_url: leads.1,
        deliveries_queue_url: deliveries.0,
        deliveries_dlq_url: deliveries.1,
        secret_id: names.secret(),
        secret,
        admin_secret_id: names.admin_secret(),
        admin_secret,
    })
}

async fn ensure_table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<String, Error> {
    let exists = ddb.describe_table().table_name(name).send().await.is_ok();
    if !exists {
        let key = |attr: &str, kind: KeyType| key_element(attr, kind, "CreateTable");
        let attr = |attr: &str| string_attribute(attr, "CreateTable");
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
                        .projection(projection())
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
    } else {
        ensure_indexes(ddb, name).await?;
    }
    Ok(name.to_owned())
}

fn key_element(attr: &str, kind: KeyType, op: &'static str) -> Result<KeySchemaElement, Error> {
    KeySchemaElement::builder()
        .attribute_name(attr)
        .key_type(kind)
        .build()
        .map_err(|e| Error::request("dynamodb", op, e))
}

fn string_attribute(attr: &str, op: &'static str) -> Result<AttributeDefinition, Error> {
    AttributeDefinition::builder()
        .attribute_name(attr)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| Error::request("dynamodb", op, e))
}

/// What every index keeps: the keys and [`INDEX_INCLUDES`].
fn projection() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(
            INDEX_INCLUDES.iter().map(|a| (*a).to_owned()).collect(),
        ))
        .build()
}

/// Upgrades a table of an earlier layout in place: adds each index of
/// [`GSIS`] it lacks, one at a time (DynamoDB fills a new index from the
/// items already there), and waits for it to become active. The earlier
/// indexes are left alone.
async fn ensure_indexes(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), Error> {
    let describe = || async {
        ddb.describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| Error::store("DescribeTable", e))
    };
    let existing = describe().await?;
    let have: Vec<String> = existing
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g.index_name().map(str::to_owned))
        .collect();
    for gsi in GSIS.iter().filter(|g| !have.iter().any(|h| h == g.name)) {
        let key = |attr: &str, kind: KeyType| key_element(attr, kind, "UpdateTable");
        let attr = |attr: &str| string_attribute(attr, "UpdateTable");
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(gsi.name)
            .key_schema(key(gsi.pk, KeyType::Hash)?)
            .key_schema(key(gsi.sk, KeyType::Range)?)
            .projection(projection())
            .build()
            .map_err(|e| Error::request("dynamodb", "UpdateTable", e))?;
        ddb.update_table()
            .table_name(name)
            .attribute_definitions(attr(gsi.pk)?)
            .attribute_definitions(attr(gsi.sk)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| Error::store("UpdateTable", e))?;
        tracing::info!(
            table = name,
            index = gsi.name,
            "adding an index of the current layout"
        );
        let mut waited = 0;
        loop {
            let active = describe()
                .await?
                .table()
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .any(|g| {
                    g.index_name() == Some(gsi.name)
                        && g.index_status() == Some(&IndexStatus::Active)
                });
            if active {
                break;
            }
            waited += 1;
            if waited > 600 {
                return Err(Error::Data(format!(
                    "index {} of table {name} is still being built; run again when it is active",
                    gsi.name
                )));
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    Ok(())
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

/// Both secrets. A deployment secret written before the split may still
/// hold `adminToken`: it moves to the admin secret (unless one exists) and
/// leaves the deployment secret, which every function can read.
async fn ensure_secrets(
    sm: &aws_sdk_secretsmanager::Client,
    names: &StackNames,
    overrides: SecretOverrides,
) -> Result<(SecretDocument, AdminSecretDocument), Error> {
    let (deployment_name, admin_name) = (names.secret(), names.admin_secret());
    let (existing, existing_admin) = tokio::join!(
        read_secret(sm, &deployment_name),
        read_secret(sm, &admin_name),
    );
    let legacy_token = existing
        .as_ref()
        .and_then(|v| v.get("adminToken"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut doc = existing
        .clone()
        .and_then(|v| serde_json::from_value::<SecretDocument>(v).ok())
        .unwrap_or_else(|| SecretDocument {
            data_key: leadpipe::rules::crypto::generate_data_key(),
            meta_app_secret: Some(leadpipe::rules::crypto::random_token(16)),
            meta_verify_token: Some(leadpipe::rules::crypto::random_token(16)),
            meta_page_token: Some("dev-page-token".into()),
            meta_app_id: Some(DEV_META_APP_ID.into()),
        });
    if let Some(v) = overrides.meta_app_secret {
        doc.meta_app_secret = Some(v);
    }
    if let Some(v) = overrides.meta_verify_token {
        doc.meta_verify_token = Some(v);
    }
    if let Some(v) = overrides.meta_page_token {
        doc.meta_page_token = Some(v);
    }
    if let Some(v) = overrides.meta_app_id {
        doc.meta_app_id = Some(v);
    }
    let mut admin = existing_admin
        .clone()
        .and_then(|v| serde_json::from_value::<AdminSecretDocument>(v).ok())
        .unwrap_or_else(|| AdminSecretDocument {
            admin_token: legacy_token
                .unwrap_or_else(|| format!("adm_{}", leadpipe::rules::crypto::random_token(24))),
        });
    if let Some(v) = overrides.admin_token {
        admin.admin_token = v;
    }
    // Admin first: a legacy token leaves the deployment secret only once it
    // is safe in the admin secret.
    write_secret(sm, &admin_name, existing_admin, &admin).await?;
    write_secret(sm, &deployment_name, existing, &doc).await?;
    Ok((doc, admin))
}

/// A secret's current JSON value, if it exists and is JSON.
async fn read_secret(sm: &aws_sdk_secretsmanager::Client, name: &str) -> Option<serde_json::Value> {
    let out = sm.get_secret_value().secret_id(name).send().await.ok()?;
    serde_json::from_str(out.secret_string()?).ok()
}

/// Creates the secret with `doc`, or puts `doc` when it differs from
/// `existing`.
async fn write_secret<T: Serialize>(
    sm: &aws_sdk_secretsmanager::Client,
    name: &str,
    existing: Option<serde_json::Value>,
    doc: &T,
) -> Result<(), Error> {
    let value = serde_json::to_value(doc).map_err(|e| Error::Secrets(e.to_string()))?;
    let secrets_err = |e: &dyn std::fmt::Display| Error::Secrets(format!("bootstrap {name}: {e}"));
    match existing {
        None => {
            sm.create_secret()
                .name(name)
                .secret_string(value.to_string())
                .send()
                .await
                .map_err(|e| secrets_err(&aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?;
        }
        Some(old) if old != value => {
            sm.put_secret_value()
                .secret_id(name)
                .secret_string(value.to_string())
                .send()
                .await
                .map_err(|e| secrets_err(&aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?;
        }
        Some(_) => {}
    }
    Ok(())
}
