# The sweeper: EventBridge Scheduler runs the `sweep` function every few
# minutes; it queues again the events left RECEIVED and the deliveries left
# pending with no message in flight (shared/src/sweep/).

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-sweep-scheduler-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeSweep"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.fn["sweep"].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-sweep"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "sweep" {
  #checkov:skip=CKV_AWS_297:The schedule's payload is a constant with no data (`{"source": "leadpipe.sweep"}`); a CMK would add cost and nothing to protect.
  name                = "${var.name}-sweep"
  schedule_expression = var.sweep_schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.fn["sweep"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "leadpipe.sweep" })

    retry_policy {
      maximum_retry_attempts = 0
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
