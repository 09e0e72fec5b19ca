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
  mock_data "aws_ssm_parameter" {
    defaults = {
      insecure_value = "ami-0a1b2c3d4e5f60718"
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
    condition     = length(aws_vpc.egress) == 0 && length(aws_nat_gateway.egress) == 0 && length(aws_instance.nat) == 0 && output.egress_ip == null && output.egress == "none"
    error_message = "no VPC unless asked for a fixed egress address"
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.errors) == ["sweep"] && length(aws_cloudwatch_metric_alarm.throttles) == 0
    error_message = "by default the sweeper's errors alone have an alarm of their own"
  }
  assert {
    condition = (length(aws_cloudwatch_metric_alarm.dlq_depth) + length(aws_cloudwatch_metric_alarm.queue_age) + 1 + 3
    + length(aws_cloudwatch_metric_alarm.errors) + length(aws_cloudwatch_metric_alarm.throttles) + length(aws_cloudwatch_metric_alarm.nat_instance_recover) + length(aws_cloudwatch_metric_alarm.nat_instance_reboot)) == 9
    error_message = "nine alarm metrics by default, within CloudWatch's free ten"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.fn : f.tracing_config[0].mode == "PassThrough"])
    error_message = "no X-Ray active tracing unless asked"
  }
  assert {
    condition     = alltrue([for g in concat(values(aws_cloudwatch_log_group.fn), [aws_cloudwatch_log_group.api]) : g.retention_in_days == 30])
    error_message = "every log group has a retention"
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
  assert {
    condition     = output.egress == "nat_gateway" && length(aws_instance.nat) == 0 && length(aws_cloudwatch_metric_alarm.nat_instance_recover) == 0
    error_message = "static_egress_ip still means NAT gateways, without a NAT instance"
  }
}

run "egress_nat_gateway_by_name" {
  command = plan

  variables {
    egress = "nat_gateway"
  }

  assert {
    condition     = length(aws_nat_gateway.egress) == 1 && length(aws_eip.egress) == 1 && length(aws_subnet.public) == 1 && length(aws_instance.nat) == 0
    error_message = "egress = nat_gateway is static_egress_ip's one NAT gateway"
  }
}

run "egress_nat_instance" {
  command = plan

  variables {
    egress = "nat_instance"
  }

  # What AWS would compute at apply, so the plan can be checked against it.
  override_resource {
    target          = aws_instance.nat
    override_during = plan
    values          = { id = "i-0123456789abcdef0", primary_network_interface_id = "eni-0123456789abcdef0" }
  }
  override_resource {
    target          = aws_eip.egress
    override_during = plan
    values          = { id = "eipalloc-0123456789abcdef0", public_ip = "198.51.100.7" }
  }
  override_resource {
    target          = aws_sns_topic.alarms
    override_during = plan
    values          = { arn = "arn:aws:sns:eu-west-1:123456789012:leadpipe-alarms" }
  }
  override_resource {
    target          = aws_subnet.public
    override_during = plan
    values          = { id = "subnet-0123456789abcdef0" }
  }

  assert {
    condition     = length(aws_instance.nat) == 1 && length(aws_nat_gateway.egress) == 0 && length(aws_eip.egress) == 1 && length(aws_subnet.public) == 1 && length(aws_subnet.private) == 2
    error_message = "one NAT instance, one address, one public subnet, private subnets in two zones"
  }
  assert {
    condition     = aws_instance.nat[0].instance_type == "t4g.nano" && aws_instance.nat[0].source_dest_check == false && aws_instance.nat[0].ami == "ami-0a1b2c3d4e5f60718"
    error_message = "t4g.nano from the latest Amazon Linux 2023 arm64 image, source/destination check off"
  }
  assert {
    condition     = aws_instance.nat[0].subnet_id == aws_subnet.public[0].id && aws_instance.nat[0].metadata_options[0].http_tokens == "required" && aws_instance.nat[0].root_block_device[0].encrypted && aws_instance.nat[0].credit_specification[0].cpu_credits == "standard"
    error_message = "in the public subnet, IMDSv2 only, encrypted root volume, no surplus CPU credits billed"
  }
  assert {
    condition     = strcontains(aws_instance.nat[0].user_data, "MASQUERADE") && strcontains(aws_instance.nat[0].user_data, "net.ipv4.ip_forward = 1") && strcontains(aws_instance.nat[0].user_data, "service iptables save")
    error_message = "the instance forwards and masquerades, and keeps it across a reboot"
  }
  assert {
    condition     = alltrue([for rt in aws_route_table.private : one([for r in rt.route : r.network_interface_id if r.cidr_block == "0.0.0.0/0"]) == aws_instance.nat[0].primary_network_interface_id])
    error_message = "every private subnet's default route goes to the NAT instance's interface"
  }
  assert {
    condition     = aws_eip_association.nat[0].instance_id == aws_instance.nat[0].id && aws_eip_association.nat[0].allocation_id == aws_eip.egress[0].id && output.egress_ip == aws_eip.egress[0].public_ip && output.nat_instance_id == aws_instance.nat[0].id
    error_message = "the Elastic IP is the NAT instance's, and it is the egress address"
  }
  assert {
    condition     = contains(aws_cloudwatch_metric_alarm.nat_instance_recover[0].alarm_actions, "arn:aws:automate:eu-west-1:ec2:recover") && aws_cloudwatch_metric_alarm.nat_instance_recover[0].metric_name == "StatusCheckFailed_System" && aws_cloudwatch_metric_alarm.nat_instance_recover[0].dimensions.InstanceId == aws_instance.nat[0].id
    error_message = "a failed host recovers the instance (same interface, same address)"
  }
  assert {
    condition     = contains(aws_cloudwatch_metric_alarm.nat_instance_reboot[0].alarm_actions, "arn:aws:automate:eu-west-1:ec2:reboot") && contains(aws_cloudwatch_metric_alarm.nat_instance_reboot[0].alarm_actions, aws_sns_topic.alarms[0].arn)
    error_message = "a failed guest is rebooted, and both tell the alarm topic"
  }
  assert {
    condition     = toset(one([for r in aws_security_group.nat[0].ingress : r.cidr_blocks])) == toset(aws_subnet.private[*].cidr_block)
    error_message = "the NAT takes traffic from the private subnets only"
  }
  assert {
    condition     = length(aws_lambda_function.fn["deliver"].vpc_config) == 1 && length(aws_lambda_function.fn["ingest"].vpc_config) == 0 && length(aws_vpc_endpoint.dynamodb) == 1
    error_message = "deliver runs in the VPC, DynamoDB through its gateway endpoint"
  }
}

run "egress_nat_instance_own_ami" {
  command = plan

  variables {
    static_egress_ip    = true
    egress              = "nat_instance"
    nat_instance_type   = "t4g.micro"
    nat_instance_ami_id = "ami-0123456789abcdef0"
  }

  assert {
    condition     = aws_instance.nat[0].ami == "ami-0123456789abcdef0" && aws_instance.nat[0].instance_type == "t4g.micro" && length(data.aws_ssm_parameter.nat_ami) == 0
    error_message = "the caller's image and type; no SSM look-up"
  }
  assert {
    condition     = length(aws_nat_gateway.egress) == 0
    error_message = "egress wins over static_egress_ip's NAT gateway"
  }
}

run "rejects_bad_egress" {
  command = plan

  variables {
    static_egress_ip    = true
    egress              = "none"
    nat_instance_type   = "t3.nano"
    nat_instance_ami_id = "ubuntu"
  }

  expect_failures = [var.egress, var.nat_instance_type, var.nat_instance_ami_id]
}

run "rejects_unknown_egress" {
  command = plan

  variables {
    egress = "nat"
  }

  expect_failures = [var.egress]
}

run "per_function_alarms_and_tracing" {
  command = plan

  variables {
    per_function_alarms = true
    tracing             = true
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.errors) == 6 && length(aws_cloudwatch_metric_alarm.throttles) == 6
    error_message = "errors and throttles for every function"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.fn : f.tracing_config[0].mode == "Active"])
    error_message = "X-Ray active tracing when asked"
  }
}

run "process_makes_the_first_attempt" {
  command = plan

  assert {
    condition     = aws_lambda_function.fn["process"].environment[0].variables["LEADPIPE_FIRST_ATTEMPT_MS"] == "3000" && aws_lambda_function.fn["process"].environment[0].variables["LEADPIPE_PROCESS_TIMEOUT_SECONDS"] == "30"
    error_message = "process makes a healthy destination's first attempt within 3 s, its claim leased past process's timeout"
  }
}

run "first_attempt_fits_in_process" {
  command = plan

  variables {
    first_attempt_ms = 6000
    timeout_seconds  = { process = 10 }
  }

  expect_failures = [aws_lambda_function.fn]
}

run "first_attempt_bounds" {
  command = plan

  variables {
    first_attempt_ms = 10001
  }

  expect_failures = [var.first_attempt_ms]
}

run "static_egress_ip_one_nat" {
  command = plan

  variables {
    static_egress_ip      = true
    availability_zone_ids = ["euw1-az2", "euw1-az3", "euw1-az1"]
    vpc_cidr              = "10.8.0.0/20"
  }

  assert {
    condition     = aws_lambda_function.fn["process"].environment[0].variables["LEADPIPE_FIRST_ATTEMPT_MS"] == "0"
    error_message = "with a static egress IP every attempt leaves from deliver"
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
    condition     = toset([for r in aws_apigatewayv2_stage.default.route_settings : r.route_key]) == toset(["POST /v1/hooks/{keyId}", "OPTIONS /v1/hooks/{keyId}", "GET /v1/hooks/{keyId}", "GET /v1/providers/meta/webhook", "POST /v1/providers/meta/webhook", "POST /v1/meta/data-deletion", "GET /v1/meta/data-deletion/{code}"])
    error_message = "the hook and Meta routes (webhook, data deletion), and only those, have their own limits"
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
