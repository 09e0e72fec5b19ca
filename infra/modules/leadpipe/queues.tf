# The two work queues and their dead-letter queues. Settings mirror
# shared/src/aws/resources.rs (checked by the parity test). Visibility timeout is
# at least six times the consumer's timeout, as AWS recommends.
locals {
  queues = {
    leads = {
      consumer          = "process"
      max_receive_count = 20 # LEADS_MAX_RECEIVES: 1 s doubling to 15 min outlasts an hour
    }
    deliveries = {
      consumer          = "deliver"
      max_receive_count = 51 # DELIVERIES_MAX_RECEIVES: the longest schedule's receives (1 + 20 steps × 2 hops of 12 h) + 10
    }
  }
  # The DLQs keep messages 14 days, the SQS maximum: more than the work
  # queues (var.message_retention_seconds, at most 12 days), because a
  # dead-lettered message keeps its first enqueue time and would otherwise
  # expire from the DLQ before anyone could redrive it.
  dlq_message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "dlq" {
  for_each                  = local.queues
  name                      = "${var.name}-${each.key}-dlq"
  message_retention_seconds = local.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "work" {
  for_each                   = local.queues
  name                       = "${var.name}-${each.key}"
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = max(180, 6 * local.timeout_seconds[each.value.consumer])
  sqs_managed_sse_enabled    = true
  tags                       = local.tags
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each  = local.queues
  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work[each.key].arn]
  })
}

# Lambda's event source mappings: batches, partial batch failures, bounded concurrency.
resource "aws_lambda_event_source_mapping" "consumer" {
  for_each                = local.queues
  event_source_arn        = aws_sqs_queue.work[each.key].arn
  function_name           = aws_lambda_function.fn[each.value.consumer].arn
  batch_size              = local.batch_size[each.value.consumer]
  function_response_types = ["ReportBatchItemFailures"]
  tags                    = local.tags

  scaling_config {
    maximum_concurrency = local.maximum_concurrency[each.value.consumer]
  }

  # Lambda checks the consumer's sqs:ReceiveMessage right when it creates the mapping.
  depends_on = [aws_iam_role_policy.fn]
}
