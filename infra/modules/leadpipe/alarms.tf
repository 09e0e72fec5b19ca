# Alarms: anything in a DLQ, a work queue's oldest message too old, API 5xx,
# events stuck RECEIVED, FAILED events, dead deliveries, the sweeper's
# errors: nine alarm metrics, within CloudWatch's free ten (each beyond is
# $0.10 a month). A function's errors show in these effects: ingest's,
# meta-verify's and admin's as API 5xx; process's and deliver's as retried
# messages (queue age) and, once spent, the DLQs; the sweeper alone has no
# effect another alarm sees (the stuck-events alarm reads its logs), so its
# errors have their own alarm. var.per_function_alarms adds errors and
# throttles for every function (12 more). Every one notifies an SNS topic: var.alarm_sns_topic_arn when
# set, else the module's own; var.alarm_email subscribes an address to it
# (AWS mails a confirmation link first).
locals {
  alarm_topic_arn = var.alarm_sns_topic_arn == "" ? aws_sns_topic.alarms[0].arn : var.alarm_sns_topic_arn
  alarm_actions   = [local.alarm_topic_arn]
  # Custom metrics from the functions' JSON log lines (shared/src: the
  # messages are checked by the infra parity test).
  log_metric_namespace = "Leadpipe/${var.name}"
}

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Alarm notifications carry alarm names and states only, no data; CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key for this alone costs more than the topic.
  count = var.alarm_sns_topic_arn == "" ? 1 : 0
  name  = "${var.name}-alarms"
  tags  = local.tags
}

resource "aws_sns_topic_policy" "alarms" {
  count  = var.alarm_sns_topic_arn == "" ? 1 : 0
  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarms_publish.json
}

data "aws_iam_policy_document" "alarms_publish" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = ["arn:aws:sns:*:*:${var.name}-alarms"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = local.alarm_topic_arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Events left RECEIVED past the grace: the sweeper queues them again and
# says how many ("sweeper queued stuck work again", field `events`).
resource "aws_cloudwatch_log_metric_filter" "stuck_events" {
  name           = "${var.name}-stuck-events"
  log_group_name = aws_cloudwatch_log_group.fn["sweep"].name
  pattern        = "{ $.fields.message = \"sweeper queued stuck work again\" && $.fields.events > 0 }"
  metric_transformation {
    name      = "StuckEvents"
    namespace = local.log_metric_namespace
    value     = "$.fields.events"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "stuck_events" {
  alarm_name          = "${var.name}-events-stuck-received"
  alarm_description   = "Events stayed RECEIVED past the sweeper's grace (their message was lost or dead-lettered): GET /v1/events?status=RECEIVED; the sweeper has queued them again."
  namespace           = local.log_metric_namespace
  metric_name         = "StuckEvents"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Events that ended FAILED ("event failed" from process): no lead was made.
resource "aws_cloudwatch_log_metric_filter" "failed_events" {
  name           = "${var.name}-failed-events"
  log_group_name = aws_cloudwatch_log_group.fn["process"].name
  pattern        = "{ $.fields.message = \"event failed\" }"
  metric_transformation {
    name      = "FailedEvents"
    namespace = local.log_metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_events" {
  alarm_name          = "${var.name}-failed-events"
  alarm_description   = "More than ${var.failed_events_alarm_threshold} events ended FAILED in 15 minutes (a Graph API 4xx, a rejected page token, an unwritable lead): GET /v1/events?status=FAILED, fix the cause, POST /v1/events/{id}/replay."
  namespace           = local.log_metric_namespace
  metric_name         = "FailedEvents"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.failed_events_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Deliveries that ended dead ("delivery dead" from deliver, with the lead
# and subscription ids in the line): the schedule was spent, a 410, or the
# subscription is off.
resource "aws_cloudwatch_log_metric_filter" "dead_deliveries" {
  name           = "${var.name}-dead-deliveries"
  log_group_name = aws_cloudwatch_log_group.fn["deliver"].name
  pattern        = "{ $.fields.message = \"delivery dead\" }"
  metric_transformation {
    name      = "DeadDeliveries"
    namespace = local.log_metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_deliveries" {
  alarm_name          = "${var.name}-dead-deliveries"
  alarm_description   = "Deliveries ended dead (their retry schedule spent, 410 Gone, or the subscription disabled): GET /v1/deliveries?status=dead, then POST /v1/dlq/redrive once the receiver is back."
  namespace           = local.log_metric_namespace
  metric_name         = "DeadDeliveries"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.queues
  alarm_name          = "${var.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages are waiting in the ${each.key} DLQ: inspect them (GET /v1/deliveries?status=dead, /v1/events?status=FAILED) and POST /v1/dlq/redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each            = local.queues
  alarm_name          = "${var.name}-${each.key}-queue-age"
  alarm_description   = "The oldest message of the ${each.key} queue is older than ${var.queue_age_alarm_seconds} s: ${each.value.consumer} is stuck or failing, or a receiver (CRM, Graph API) has been down that long."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.work[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The API answered more than ${var.api_5xx_alarm_threshold} 5xx in 5 minutes: see the functions' logs (the error envelope's requestId) and the API's access log."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = aws_apigatewayv2_api.http.id, Stage = aws_apigatewayv2_stage.default.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.api_5xx_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = var.per_function_alarms ? local.functions : toset(["sweep"])
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "The ${each.key} function is failing invocations."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each            = var.per_function_alarms ? local.functions : toset([])
  alarm_name          = "${var.name}-${each.key}-throttles"
  alarm_description   = "The ${each.key} function is being throttled (a new account's concurrency limit may be 10 in all)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
