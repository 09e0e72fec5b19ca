# `terraform test` for the module, offline: the AWS provider is mocked (no
# credentials, no network), so these runs check what Terraform itself
# decides: inputs, validations, preconditions, counts, and the values the
# module computes. Run by `make infra-check` (scripts/infra-check.sh).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
      zone_ids = ["euw1-az1", "euw1-az2", "euw1-az3"]
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  lambda_package_dir = "./tests/fixtures/lambda"
}

run "default_plan" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.fn) == 6
    error_message = "six functions"
  }
  assert {
    condition     = aws_lambda_function.fn["ingest"].memory_size == 256 && aws_lambda_function.fn["meta-verify"].memory_size == 128 && aws_lambda_function.fn["sweep"].timeout == 60
    error_message = "per-function defaults"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.fn : f.architectures == tolist(["arm64"]) && f.runtime == "provided.al2023"])
    error_message = "arm64 on provided.al2023 by default"
  }
  assert {
    condition     = length(aws_apigatewayv2_route.route) == length(local.routes) && aws_apigatewayv2_route.default.route_key == "$default"
    error_message = "every route, and $default"
  }
  assert {
    condition     = aws_iam_role.fn["meta-verify"].name == "leadpipe-meta-verify-eu-west-1" && aws_iam_role.scheduler.name == "leadpipe-sweep-scheduler-eu-west-1"
    error_message = "IAM role names carry the region"
  }
  assert {
    condition     = alltrue([for k, q in aws_sqs_queue.work : aws_sqs_queue.dlq[k].message_retention_seconds > q.message_retention_seconds])
    error_message = "each DLQ keeps messages longer than its source queue"
  }
  assert {
    condition     = aws_sqs_queue.work["leads"].visibility_timeout_seconds == 180 && aws_lambda_event_source_mapping.consumer["deliveries"].batch_size == 10
    error_message = "queue defaults"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.queue_age) == 2 && aws_cloudwatch_metric_alarm.api_5xx.metric_name == "5xx"
    error_message = "queue age and API 5xx alarms"
  }
  assert {
    condition     = aws_secretsmanager_secret.deployment.recovery_window_in_days == 7
    error_message = "secret recovery window default"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && length(aws_sns_topic_subscription.alarm_email) == 0
    error_message = "the module's own alarm topic, no e-mail unless asked"
  }
  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq_depth), values(aws_cloudwatch_metric_alarm.errors), [aws_cloudwatch_metric_alarm.api_5xx, aws_cloudwatch_metric_alarm.stuck_events, aws_cloudwatch_metric_alarm.failed_events, aws_cloudwatch_metric_alarm.dead_deliveries]) : length(a.alarm_actions) == 1])
    error_message = "every alarm notifies the topic"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.stuck_events.metric_name == aws_cloudwatch_log_metric_filter.stuck_events.metric_transformation[0].name && aws_cloudwatch_metric_alarm.dead_deliveries.namespace == "Leadpipe/leadpipe"
    error_message = "stuck, failed and dead alarms read the log metric filters"
  }
  assert {
    condition     = length(aws_vpc.egress) == 0 && length(aws_nat_gateway.egress) == 0 && output.egress_ip == null
    error_message = "no VPC unless static_egress_ip"
  }
  assert {
    condition     = aws_lambda_function.fn["admin"].tags["Application"] == "leadpipe" && aws_dynamodb_table.main.tags["Stack"] == "leadpipe"
    error_message = "the module tags what it creates"
  }
}

run "static_egress_ip_plan" {
  command = plan

  variables {
    static_egress_ip   = true
    nat_gateway_per_az = true
  }

  assert {
    condition     = length(aws_nat_gateway.egress) == 2 && length(aws_eip.egress) == 2 && length(aws_subnet.private) == 2
    error_message = "one NAT gateway and Elastic IP per zone, two zones"
  }
  assert {
    condition     = aws_subnet.private[0].availability_zone_id == "euw1-az1" && aws_subnet.private[1].availability_zone_id == "euw1-az2"
    error_message = "subnets in distinct zones, by zone id"
  }
  assert {
    condition     = aws_vpc_endpoint.dynamodb[0].service_name == "com.amazonaws.eu-west-1.dynamodb" && aws_vpc_endpoint.dynamodb[0].vpc_endpoint_type == "Gateway"
    error_message = "a DynamoDB gateway endpoint"
  }
  assert {
    condition     = one([for e in aws_security_group.deliver[0].egress : e.from_port == 1 && e.to_port == 65535 && e.protocol == "tcp"])
    error_message = "deliver may reach receivers on any TCP port"
  }
  assert {
    condition     = length(aws_lambda_function.fn["deliver"].vpc_config) == 1 && length(aws_lambda_function.fn["process"].vpc_config) == 0
    error_message = "only deliver runs in the VPC"
  }
  assert {
    condition     = length(aws_route_table.private) == 2
    error_message = "a private route table per zone"
  }
}

run "static_egress_ip_one_nat" {
  command = plan

  variables {
    static_egress_ip      = true
    availability_zone_ids = ["euw1-az2", "euw1-az3", "euw1-az1"]
    vpc_cidr              = "10.8.0.0/20"
  }

  assert {
    condition     = length(aws_nat_gateway.egress) == 1 && length(aws_subnet.private) == 3 && length(aws_route_table.private) == 3
    error_message = "one NAT gateway for three zones"
  }
  assert {
    condition     = aws_subnet.private[2].cidr_block == "10.8.0.192/28" && aws_subnet.public[0].cidr_block == "10.8.0.0/28"
    error_message = "a /20 splits into /28 subnets"
  }
}

run "table_indexes_and_upgrade" {
  command = plan

  assert {
    condition     = toset([for g in aws_dynamodb_table.main.global_secondary_index : g.name]) == toset(["gsi1v2", "gsi2v2", "gsi3v2"])
    error_message = "the current indexes only"
  }
  assert {
    condition     = alltrue([for g in aws_dynamodb_table.main.global_secondary_index : g.projection_type == "INCLUDE" && toset(g.non_key_attributes) == toset(["status", "tags"])])
    error_message = "indexes keep the keys, status and tags"
  }
  assert {
    condition     = output.index_shards.listing == 8 && output.index_shards.work == 8
    error_message = "listings and the work index are written over 8 partitions each (shared/src/aws/table.rs)"
  }
}

run "upgrade_keeps_the_legacy_indexes" {
  command = plan

  variables {
    keep_legacy_indexes = true
  }

  assert {
    condition     = toset([for g in aws_dynamodb_table.main.global_secondary_index : g.name]) == toset(["gsi1", "gsi2", "gsi1v2", "gsi2v2", "gsi3v2"])
    error_message = "during an upgrade both layouts' indexes exist"
  }
}

run "public_routes_are_throttled" {
  command = plan

  variables {
    public_route_throttling = { rate_limit = 50 }
  }

  assert {
    condition     = toset([for r in aws_apigatewayv2_stage.default.route_settings : r.route_key]) == toset(["POST /v1/hooks/{keyId}", "OPTIONS /v1/hooks/{keyId}", "GET /v1/hooks/{keyId}", "GET /v1/providers/meta/webhook", "POST /v1/providers/meta/webhook"])
    error_message = "the hook and Meta routes, and only those, have their own limits"
  }
  assert {
    condition     = alltrue([for r in aws_apigatewayv2_stage.default.route_settings : r.throttling_rate_limit == 50 && r.throttling_burst_limit == 400])
    error_message = "one key overridden, the other kept"
  }
}

run "per_function_override" {
  command = plan

  variables {
    memory_mb           = { ingest = 512 }
    timeout_seconds     = { deliver = 60 }
    batch_size          = { process = 5 }
    maximum_concurrency = { deliver = 5 }
    architecture        = "x86_64"
  }

  assert {
    condition     = aws_lambda_function.fn["ingest"].memory_size == 512 && aws_lambda_function.fn["process"].memory_size == 256
    error_message = "one key overridden, the others kept"
  }
  assert {
    condition     = aws_lambda_function.fn["deliver"].timeout == 60 && aws_sqs_queue.work["deliveries"].visibility_timeout_seconds == 360 && aws_sqs_queue.work["leads"].visibility_timeout_seconds == 180
    error_message = "a longer consumer timeout lengthens its queue's visibility timeout only"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.consumer["leads"].batch_size == 5 && aws_lambda_event_source_mapping.consumer["deliveries"].batch_size == 10
    error_message = "batch size per consumer"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.consumer["deliveries"].scaling_config[0].maximum_concurrency == 5 && aws_lambda_event_source_mapping.consumer["leads"].scaling_config[0].maximum_concurrency == 20
    error_message = "maximum concurrency per consumer"
  }
  assert {
    condition     = aws_lambda_function.fn["admin"].architectures == tolist(["x86_64"])
    error_message = "x86_64"
  }
}

run "reserved_concurrency_protects_the_pipeline" {
  command = plan

  variables {
    reserved_concurrency = { ingest = 50, process = 20, deliver = 20 }
  }

  assert {
    condition     = aws_lambda_function.fn["ingest"].reserved_concurrent_executions == 50 && aws_lambda_function.fn["deliver"].reserved_concurrent_executions == 20
    error_message = "reserved per function"
  }
  assert {
    condition     = aws_lambda_function.fn["admin"].reserved_concurrent_executions == -1
    error_message = "unreserved where not set"
  }
}

run "rejects_bad_reserved_concurrency" {
  command = plan

  variables {
    reserved_concurrency = { injest = 5 }
  }

  expect_failures = [var.reserved_concurrency]
}

run "rejects_unknown_function_keys" {
  command = plan

  variables {
    memory_mb       = { ingset = 512 }
    timeout_seconds = { nope = 3 }
    batch_size      = { ingest = 5 }
  }

  expect_failures = [var.memory_mb, var.timeout_seconds, var.batch_size]
}

run "rejects_bad_retry_and_network_inputs" {
  command = plan

  variables {
    retry_base_ms = 5000
    retry_max_ms  = 2000
    vpc_cidr      = "10.0.0.0/24"
    public_url    = "https://leads.example.com/"
  }

  expect_failures = [var.retry_max_ms, var.vpc_cidr, var.public_url]
}

run "rejects_bad_names_and_windows" {
  command = plan

  variables {
    name                        = "Leadpipe_Prod"
    secret_recovery_window_days = 3
    message_retention_seconds   = 1209600
    vpc_cidr                    = "10.0.0.1/16"
  }

  expect_failures = [var.name, var.secret_recovery_window_days, var.message_retention_seconds, var.vpc_cidr]
}

run "missing_package_is_named" {
  command = plan

  variables {
    lambda_package_dir = "./tests/fixtures/nowhere"
  }

  expect_failures = [aws_lambda_function.fn]
}

run "secret_recovery_window_zero" {
  command = plan

  variables {
    secret_recovery_window_days = 0
    name                        = "lp-staging"
  }

  assert {
    condition     = aws_secretsmanager_secret.admin.recovery_window_in_days == 0 && aws_secretsmanager_secret.admin.name == "lp-staging/admin"
    error_message = "a destroyed stack's secret names can be reused at once"
  }
}

run "alarm_email_to_an_own_topic" {
  command = plan

  variables {
    alarm_sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:pager"
    alarm_email         = "ops@example.com"
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && aws_sns_topic_subscription.alarm_email[0].endpoint == "ops@example.com" && aws_sns_topic_subscription.alarm_email[0].topic_arn == "arn:aws:sns:eu-west-1:123456789012:pager"
    error_message = "the e-mail subscribes to the given topic"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.failed_events.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:pager"])
    error_message = "alarms notify the given topic"
  }
}

run "a_bad_alarm_email_is_refused" {
  command = plan

  variables {
    alarm_email = "not an address"
  }

  expect_failures = [var.alarm_email]
}
