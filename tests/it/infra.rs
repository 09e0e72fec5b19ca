//! Infra parity: `infra/modules/leadpipe/*.tf` (parsed with hcl-rs) against the code. Routes
//! and their functions, the functions, the environment they read, the
//! table's keys, GSIs and TTL, the queues' redrive and mappings, and IAM
//! actions per function. A change on one side only fails here.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Block, Body, Expression, ObjectKey};
use leadpipe::aws::permissions::PERMISSIONS;
use leadpipe::aws::resources::{DELIVERIES_QUEUE, INDEX_SHARDS, LEADS_QUEUE};
use leadpipe::aws::table::{GSIS, INDEX_INCLUDES, PK, SK, TTL_ATTRIBUTE};
use leadpipe::config::vars;
use leadpipe::http::routes::{Function, ROUTES};
use leadpipe_tests::leadpipe;
use serde_json::{Value, json};

fn infra() -> Body {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/modules/leadpipe");
    let mut blocks = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        blocks.extend(body.into_blocks());
    }
    Body::from_iter(blocks)
}

/// A literal expression as JSON (function calls yield their first argument,
/// so `toset([...])` reads as the list; anything else as its text).
fn json_of(expr: &Expression) -> Value {
    match expr {
        Expression::Null => Value::Null,
        Expression::Bool(b) => json!(b),
        Expression::Number(n) => serde_json::to_value(n).unwrap(),
        Expression::String(s) => json!(s),
        Expression::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        Expression::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Identifier(i) => i.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, json_of(v))
                })
                .collect(),
        ),
        Expression::FuncCall(f) => f.args.first().map(json_of).unwrap_or(Value::Null),
        other => json!(other.to_string()),
    }
}

fn local(body: &Body, name: &str) -> Value {
    for block in body.blocks().filter(|b| b.identifier() == "locals") {
        if let Some(attr) = block.body().attributes().find(|a| a.key() == name) {
            return json_of(attr.expr());
        }
    }
    panic!("no local {name}")
}

fn resource<'a>(body: &'a Body, kind: &str, name: &str) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().len() == 2
                && b.labels()[0].as_str() == kind
                && b.labels()[1].as_str() == name
        })
        .unwrap_or_else(|| panic!("no resource {kind}.{name}"))
}

fn attr(block: &Block, name: &str) -> Value {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| json_of(a.expr()))
        .unwrap_or(Value::Null)
}

fn variable_default(body: &Body, name: &str) -> Value {
    let block = body
        .blocks()
        .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == name)
        .unwrap_or_else(|| panic!("no variable {name}"));
    attr(block, "default")
}

#[test]
fn routes_match_the_route_table() {
    let body = infra();
    let tf: BTreeMap<String, String> = serde_json::from_value(local(&body, "routes")).unwrap();
    let code: BTreeMap<String, String> = ROUTES
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.path),
                r.function.name().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tf, code,
        "infra/modules/leadpipe/api.tf routes differ from shared/src/http/routes.rs"
    );
}

#[test]
fn functions_and_their_environment() {
    let body = infra();
    let tf: BTreeSet<String> = serde_json::from_value(local(&body, "functions")).unwrap();
    let code: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(tf, code);
    for dir in &code {
        let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(dir);
        assert!(
            crate_dir.join("src/main.rs").exists(),
            "functions/{dir} is missing"
        );
    }
    let env: BTreeMap<String, Value> =
        serde_json::from_value(local(&body, "function_env")).unwrap();
    for required in vars::REQUIRED {
        assert!(
            env.contains_key(required),
            "{required} is not set by Terraform"
        );
    }
    for name in env.keys() {
        assert!(
            vars::ALL.contains(&name.as_str()),
            "Terraform sets {name}, which no function reads"
        );
    }
    // The admin secret's id goes to admin alone, beside the shared variables.
    assert!(
        !env.contains_key(vars::ADMIN_SECRET_ID),
        "{} must not be in the environment every function gets",
        vars::ADMIN_SECRET_ID
    );
    let extra: BTreeMap<String, BTreeMap<String, Value>> =
        serde_json::from_value(local(&body, "function_env_extra")).unwrap();
    for (function, vars_of) in &extra {
        assert!(
            code.contains(function),
            "function_env_extra names {function}"
        );
        for name in vars_of.keys() {
            assert!(
                vars::ALL.contains(&name.as_str()),
                "Terraform sets {name} for {function}, which no function reads"
            );
        }
    }
    let admin_secret_readers: Vec<&String> = extra
        .iter()
        .filter(|(_, v)| v.contains_key(vars::ADMIN_SECRET_ID))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(admin_secret_readers, vec!["admin"]);
    let f = resource(&body, "aws_lambda_function", "fn");
    let variables = f
        .body()
        .blocks()
        .find(|b| b.identifier() == "environment")
        .and_then(|b| b.body().attributes().find(|a| a.key() == "variables"))
        .map(|a| a.expr().to_string())
        .unwrap_or_default();
    assert!(
        variables.contains("local.function_env") && variables.contains("local.function_env_extra"),
        "the functions' environment is not function_env merged with function_env_extra: {variables}"
    );
    assert_eq!(attr(f, "runtime"), "provided.al2023");
    assert_eq!(attr(f, "handler"), "bootstrap");
    assert_eq!(variable_default(&body, "architecture"), "arm64");
}

#[test]
fn table_matches_the_resource_definitions() {
    let body = infra();
    let t = resource(&body, "aws_dynamodb_table", "main");
    assert_eq!(attr(t, "hash_key"), PK);
    assert_eq!(attr(t, "range_key"), SK);
    assert_eq!(attr(t, "billing_mode"), "PAY_PER_REQUEST");
    let mut gsis = BTreeSet::new();
    let mut attributes = BTreeSet::new();
    let mut ttl = None;
    let mut pitr = None;
    for block in t.body().blocks() {
        match block.identifier() {
            "global_secondary_index" => {
                gsis.insert((
                    attr(block, "name").as_str().unwrap().to_owned(),
                    attr(block, "hash_key").as_str().unwrap().to_owned(),
                    attr(block, "range_key").as_str().unwrap().to_owned(),
                    attr(block, "projection_type").as_str().unwrap().to_owned(),
                    attr(block, "non_key_attributes").to_string(),
                ));
            }
            "attribute" => {
                attributes.insert(attr(block, "name").as_str().unwrap().to_owned());
            }
            "ttl" => ttl = Some((attr(block, "attribute_name"), attr(block, "enabled"))),
            "point_in_time_recovery" => pitr = Some(attr(block, "enabled")),
            _ => {}
        }
    }
    let code: BTreeSet<_> = GSIS
        .iter()
        .map(|g| {
            (
                g.name.to_owned(),
                g.pk.to_owned(),
                g.sk.to_owned(),
                "INCLUDE".to_owned(),
                json!(INDEX_INCLUDES).to_string(),
            )
        })
        .collect();
    assert_eq!(
        gsis, code,
        "infra/modules/leadpipe/table.tf GSIs differ from shared/src/aws/table.rs"
    );
    let mut keys: BTreeSet<String> = [PK, SK].iter().map(|s| s.to_string()).collect();
    for g in GSIS {
        keys.insert(g.pk.into());
        keys.insert(g.sk.into());
    }
    assert_eq!(attributes, keys);
    assert_eq!(ttl, Some((json!(TTL_ATTRIBUTE), json!(true))));
    assert_eq!(pitr, Some(json!(true)));
}

#[test]
fn index_shards_match_the_code() {
    let body = infra();
    assert_eq!(
        local(&body, "index_shards"),
        json!({"listing": INDEX_SHARDS.listing, "work": INDEX_SHARDS.work}),
        "infra/modules/leadpipe/table.tf local.index_shards differs from shared/src/aws/table.rs"
    );
    let output = body
        .blocks()
        .find(|b| b.identifier() == "output" && b.labels()[0].as_str() == "index_shards")
        .expect("output index_shards");
    assert_eq!(attr(output, "value"), json!("local.index_shards"));
}

#[test]
fn queues_and_event_source_mappings() {
    let body = infra();
    let queues = local(&body, "queues");
    for (name, def, consumer) in [
        ("leads", LEADS_QUEUE, "process"),
        ("deliveries", DELIVERIES_QUEUE, "deliver"),
    ] {
        assert_eq!(
            queues[name]["max_receive_count"],
            json!(def.max_receive_count),
            "{name}"
        );
        assert_eq!(queues[name]["consumer"], json!(consumer), "{name}");
        let timeout = local(&body, "default_timeout_seconds")[consumer]
            .as_u64()
            .unwrap();
        assert_eq!(
            timeout,
            u64::from(def.consumer_timeout_s),
            "{consumer} timeout"
        );
        assert!(
            u64::from(def.visibility_timeout_s) >= 6 * timeout,
            "{name} visibility < 6 × timeout"
        );
        assert_eq!(
            local(&body, "default_batch_size")[consumer],
            json!(def.batch_size)
        );
    }
    // A round of the longest schedule (7 days) fits in a message's life.
    let retention = variable_default(&body, "message_retention_seconds")
        .as_u64()
        .unwrap();
    assert!(
        retention >= leadpipe::rules::schedule::MIN_QUEUE_RETENTION_S,
        "message_retention_seconds default {retention} is shorter than the longest schedule and a day"
    );
    let variables = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../infra/modules/leadpipe/variables.tf"),
    )
    .unwrap();
    assert!(
        variables.contains(&format!(
            "var.message_retention_seconds >= {}",
            leadpipe::rules::schedule::MIN_QUEUE_RETENTION_S
        )),
        "variables.tf must refuse a retention shorter than the longest schedule"
    );
    let work = resource(&body, "aws_sqs_queue", "work");
    assert!(
        attr(work, "redrive_policy")
            .to_string()
            .contains("max_receive_count")
    );
    let esm = resource(&body, "aws_lambda_event_source_mapping", "consumer");
    assert_eq!(
        attr(esm, "function_response_types"),
        json!(["ReportBatchItemFailures"])
    );
    assert!(
        esm.body()
            .blocks()
            .any(|b| b.identifier() == "scaling_config")
    );
}

#[test]
fn iam_grants_exactly_what_the_code_calls() {
    let body = infra();
    let tf: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> =
        serde_json::from_value(local(&body, "function_permissions")).unwrap();
    let mut code: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (function, resource, actions) in PERMISSIONS {
        code.entry(function.name().to_owned())
            .or_default()
            .entry(resource.name().to_owned())
            .or_default()
            .extend(actions.iter().map(|a| a.to_string()));
    }
    assert_eq!(
        tf, code,
        "infra/modules/leadpipe/iam.tf differs from shared/src/aws/permissions.rs"
    );
    // Each secret's grant is on its own secret.
    let arns = local(&body, "resource_arns");
    assert_eq!(
        arns["secret"],
        json!(["aws_secretsmanager_secret.deployment.arn"])
    );
    assert_eq!(
        arns["admin_secret"],
        json!(["aws_secretsmanager_secret.admin.arn"])
    );
    let readers: Vec<&String> = tf
        .iter()
        .filter(|(_, grants)| grants.contains_key("admin_secret"))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        readers,
        vec!["admin"],
        "only admin may read the admin secret"
    );
}

#[test]
fn variables_are_described_and_validated() {
    let body = infra();
    let variables: Vec<&Block> = body
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .collect();
    assert!(variables.len() > 20, "{} variables", variables.len());
    for block in variables {
        let name = block.labels()[0].as_str();
        assert!(
            attr(block, "description")
                .as_str()
                .is_some_and(|d| d.len() > 10),
            "variable {name} has no description"
        );
        assert!(
            block
                .body()
                .blocks()
                .any(|b| b.identifier() == "validation"),
            "variable {name} has no validation"
        );
    }
    // The per-function maps accept exactly the function names as keys.
    let functions: BTreeSet<&str> = Function::ALL.iter().map(|f| f.name()).collect();
    for (name, allowed) in [
        ("memory_mb", functions.clone()),
        ("timeout_seconds", functions.clone()),
        ("batch_size", BTreeSet::from(["process", "deliver"])),
        (
            "maximum_concurrency",
            BTreeSet::from(["process", "deliver"]),
        ),
    ] {
        assert_eq!(variable_default(&body, name), json!({}), "{name}");
        let block = body
            .blocks()
            .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == name)
            .unwrap();
        let keys_rule = block
            .body()
            .blocks()
            .filter(|b| b.identifier() == "validation")
            .filter_map(|b| attr(b, "condition").as_str().map(str::to_owned))
            .find(|c| c.contains("keys("))
            .unwrap_or_else(|| panic!("{name}: no validation of its keys"));
        let named: BTreeSet<&str> = Function::ALL
            .iter()
            .map(|f| f.name())
            .filter(|f| keys_rule.contains(&format!("\"{f}\"")))
            .collect();
        assert_eq!(named, allowed, "{name}: keys allowed by its validation");
        let defaults = local(&body, &format!("default_{name}"));
        let default_keys: BTreeSet<&str> = defaults
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(default_keys, allowed, "{name}: defaults");
    }
}

#[test]
fn unmatched_requests_reach_admin() {
    // API Gateway's $default route sends every request no route matches to
    // admin, which answers 404 or 405 with Allow from the route table.
    let body = infra();
    let default = resource(&body, "aws_apigatewayv2_route", "default");
    assert_eq!(attr(default, "route_key"), "$default");
    assert!(
        attr(default, "target")
            .to_string()
            .contains(r#"aws_apigatewayv2_integration.fn[\"admin\"]"#),
        "{}",
        attr(default, "target")
    );
}

/// The alarms on log lines (events stuck RECEIVED, FAILED events, dead
/// deliveries) match messages the code logs, and every alarm notifies.
#[test]
fn log_metric_filters_match_the_code_and_every_alarm_notifies() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let alarms = std::fs::read_to_string(root.join("infra/modules/leadpipe/alarms.tf")).unwrap();
    let code: String = [
        "shared/src/sweep/mod.rs",
        "shared/src/process/mod.rs",
        "shared/src/deliver/mod.rs",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(root.join(p)).unwrap())
    .collect();
    for message in [
        "sweeper queued stuck work again",
        "event failed",
        "delivery dead",
    ] {
        assert!(
            alarms.contains(&format!("$.fields.message = \\\"{message}\\\"")),
            "alarms.tf has no filter on {message:?}"
        );
        assert!(
            code.contains(&format!("\"{message}\"")),
            "the code no longer logs {message:?}"
        );
    }
    let body = infra();
    let alarms_without_actions: Vec<String> = body
        .blocks()
        .filter(|b| {
            b.identifier() == "resource" && b.labels()[0].as_str() == "aws_cloudwatch_metric_alarm"
        })
        .filter(|b| {
            b.body()
                .attributes()
                .find(|a| a.key() == "alarm_actions")
                .is_none_or(|a| {
                    // The topic alone, or the topic beside an EC2 action
                    // (the NAT instance's recover and reboot alarms).
                    let expr = a.expr().to_string();
                    expr != "local.alarm_actions"
                        && !expr.starts_with("concat(local.alarm_actions,")
                })
        })
        .map(|b| b.labels()[1].as_str().to_owned())
        .collect();
    assert!(
        alarms_without_actions.is_empty(),
        "{alarms_without_actions:?}"
    );
}
