# The six functions, on provided.al2023, built by `make package`.
locals {
  functions = toset(["ingest", "meta-verify", "process", "deliver", "admin", "sweep"])

  # Per-function settings: the defaults, and what the caller's maps change
  # (variables.tf validates their keys, so a typo fails the plan).
  default_memory_mb = {
    ingest        = 256
    "meta-verify" = 128
    process       = 256
    deliver       = 256
    admin         = 256
    sweep         = 128
  }
  default_timeout_seconds = {
    ingest        = 10
    "meta-verify" = 5
    process       = 30
    deliver       = 30
    admin         = 29
    sweep         = 60
  }
  default_batch_size = {
    process = 10
    deliver = 10
  }
  default_maximum_concurrency = {
    process = 20
    deliver = 20
  }
  memory_mb           = merge(local.default_memory_mb, var.memory_mb)
  timeout_seconds     = merge(local.default_timeout_seconds, var.timeout_seconds)
  batch_size          = merge(local.default_batch_size, var.batch_size)
  maximum_concurrency = merge(local.default_maximum_concurrency, var.maximum_concurrency)

  package_dir = trimsuffix(var.lambda_package_dir, "/")
  packages    = { for f in local.functions : f => "${local.package_dir}/${f}/bootstrap.zip" }

  tags = merge({ Application = "leadpipe", Stack = var.name }, var.tags)

  # One environment for every function (the names are the code's
  # shared/src/config.rs vars; the parity test checks them).
  function_env = {
    LEADPIPE_TABLE                           = aws_dynamodb_table.main.name
    LEADPIPE_LEADS_QUEUE_URL                 = aws_sqs_queue.work["leads"].url
    LEADPIPE_DELIVERIES_QUEUE_URL            = aws_sqs_queue.work["deliveries"].url
    LEADPIPE_LEADS_DLQ_URL                   = aws_sqs_queue.dlq["leads"].url
    LEADPIPE_DELIVERIES_DLQ_URL              = aws_sqs_queue.dlq["deliveries"].url
    LEADPIPE_SECRET_ID                       = aws_secretsmanager_secret.deployment.arn
    LEADPIPE_PUBLIC_URL                      = var.public_url
    LEADPIPE_DEFAULT_REGION                  = var.default_region
    LEADPIPE_REENGAGE_DAYS                   = tostring(var.reengage_days)
    LEADPIPE_RETRY_BASE_MS                   = tostring(var.retry_base_ms)
    LEADPIPE_RETRY_MAX_MS                    = tostring(var.retry_max_ms)
    LEADPIPE_LEAD_RETRY_MAX_MS               = tostring(var.lead_retry_max_ms)
    LEADPIPE_META_GRAPH_URL                  = var.meta_graph_url
    LEADPIPE_WORKSPACE_RATE_LIMIT_PER_MINUTE = tostring(var.workspace_rate_limit_per_minute)
    # Claim windows (a delivery's lease, a stale Idempotency-Key claim)
    # outlast these timeouts.
    LEADPIPE_INGEST_TIMEOUT_SECONDS  = tostring(local.timeout_seconds["ingest"])
    LEADPIPE_DELIVER_TIMEOUT_SECONDS = tostring(local.timeout_seconds["deliver"])
    LEADPIPE_PROCESS_TIMEOUT_SECONDS = tostring(local.timeout_seconds["process"])
    # process makes a healthy destination's first attempt itself; with a
    # static egress IP every attempt leaves from deliver, which has it.
    LEADPIPE_FIRST_ATTEMPT_MS = tostring(local.egress_vpc ? 0 : var.first_attempt_ms)
    # A destination failing this many times in a row is held; all failing
    # this long, disabled (configuration kept).
    LEADPIPE_FAILING_AFTER         = tostring(var.failing_after_failures)
    LEADPIPE_DISABLE_AFTER_SECONDS = tostring(var.disable_after_days * 86400)
    RUST_LOG                       = var.log_level
  }

  # What one function reads beside function_env: the admin secret's id is
  # given to admin alone (its IAM grant is admin's alone too, iam.tf).
  function_env_extra = {
    admin = {
      LEADPIPE_ADMIN_SECRET_ID = aws_secretsmanager_secret.admin.arn
    }
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch's default encryption; the logs carry no secrets (they are never logged).
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); a year of function logs is a cost choice left to the operator.
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "fn" {
  #checkov:skip=CKV_AWS_116:Async invocation DLQs do not apply: HTTP functions are invoked synchronously and the SQS consumers use their queues' DLQs.
  #checkov:skip=CKV_AWS_117:Only deliver needs a VPC (and only for a fixed egress IP, var.egress); the others call AWS APIs alone.
  #checkov:skip=CKV_AWS_173:The environment holds resource names, not secrets (those are in Secrets Manager).
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the operator owns; zips are built reproducibly by make package.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the operator's choice (var.reserved_concurrency): AWS keeps 10 unreserved, so a default reservation would fail on new accounts; consumers are bounded per event source mapping (maximum_concurrency).
  for_each         = local.functions
  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.fn[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = local.packages[each.key]
  source_code_hash = fileexists(local.packages[each.key]) ? filebase64sha256(local.packages[each.key]) : null
  memory_size      = local.memory_mb[each.key]
  timeout          = local.timeout_seconds[each.key]
  tags             = local.tags

  # A flood of hook requests must not take the concurrency process and
  # deliver need: reserve for them, or cap ingest (see the variable).
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = merge(local.function_env, lookup(local.function_env_extra, each.key, {}))
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.fn[each.key].name
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = local.egress_vpc && each.key == "deliver" ? [1] : []
    content {
      subnet_ids         = aws_subnet.private[*].id
      security_group_ids = [aws_security_group.deliver[0].id]
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.packages[each.key])
      error_message = "No package for ${each.key}: ${local.packages[each.key]} does not exist. Run `make package` (ARCH=${var.architecture}) first, or point lambda_package_dir at the folder holding <function>/bootstrap.zip."
    }
    precondition {
      condition     = var.first_attempt_ms * 2 <= local.timeout_seconds["process"] * 1000
      error_message = "first_attempt_ms (${var.first_attempt_ms}) must be at most half of process's timeout (${local.timeout_seconds["process"]} s): process waits for the first attempts of a batch within it."
    }
  }

  # The role's policy first: Lambda checks a VPC function's ENI rights at
  # creation, and the first invocations need the rest.
  depends_on = [aws_cloudwatch_log_group.fn, aws_iam_role_policy.fn]
}
