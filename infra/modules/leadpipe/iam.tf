# One role per function, granting exactly what its code calls. The table of
# actions below mirrors shared/src/aws/permissions.rs (the parity test fails on
# any difference).
locals {
  function_permissions = {
    ingest = {
      table  = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      leads  = ["sqs:SendMessage"]
      secret = ["secretsmanager:GetSecretValue"]
    }
    "meta-verify" = {
      secret = ["secretsmanager:GetSecretValue"]
    }
    process = {
      table      = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      leads      = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      deliveries = ["sqs:SendMessage"]
      secret     = ["secretsmanager:GetSecretValue"]
    }
    deliver = {
      table          = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      deliveries     = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      deliveries_dlq = ["sqs:SendMessage"]
      secret         = ["secretsmanager:GetSecretValue"]
    }
    admin = {
      table          = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      leads          = ["sqs:SendMessage"]
      deliveries     = ["sqs:SendMessage"]
      leads_dlq      = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      deliveries_dlq = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      secret         = ["secretsmanager:GetSecretValue"]
      admin_secret   = ["secretsmanager:GetSecretValue"]
    }
    sweep = {
      table      = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      leads      = ["sqs:SendMessage"]
      deliveries = ["sqs:SendMessage"]
      secret     = ["secretsmanager:GetSecretValue"]
    }
  }

  resource_arns = {
    table          = [aws_dynamodb_table.main.arn, "${aws_dynamodb_table.main.arn}/index/*"]
    leads          = [aws_sqs_queue.work["leads"].arn]
    deliveries     = [aws_sqs_queue.work["deliveries"].arn]
    leads_dlq      = [aws_sqs_queue.dlq["leads"].arn]
    deliveries_dlq = [aws_sqs_queue.dlq["deliveries"].arn]
    secret         = [aws_secretsmanager_secret.deployment.arn]
    admin_secret   = [aws_secretsmanager_secret.admin.arn]
  }
}

data "aws_region" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# IAM is global: the region in the name lets one account run a stack of the
# same name in two regions (at most 32 + 12 + 15 = 59 of IAM's 64 characters).
resource "aws_iam_role" "fn" {
  for_each           = local.functions
  name               = "${var.name}-${each.key}-${data.aws_region.current.name}"
  description        = "Leadpipe ${each.key} function (${var.name})"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "fn" {
  #checkov:skip=CKV_AWS_111:Only X-Ray and (for deliver in a VPC) ENI management use "*"; AWS does not scope those actions to resources.
  #checkov:skip=CKV_AWS_356:Same: xray:PutTraceSegments and ec2 ENI actions cannot be scoped to a resource.
  for_each = local.functions

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn[each.key].arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.function_permissions[each.key]
    content {
      sid       = replace(title(replace(statement.key, "_", " ")), " ", "")
      actions   = statement.value
      resources = local.resource_arns[statement.key]
    }
  }

  dynamic "statement" {
    for_each = local.egress_vpc && each.key == "deliver" ? [1] : []
    content {
      sid       = "VpcNetworkInterfaces"
      actions   = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "fn" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.fn[each.key].id
  policy   = data.aws_iam_policy_document.fn[each.key].json
}
