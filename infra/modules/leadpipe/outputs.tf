locals {
  # API Gateway's invoke URL of the $default stage ends in "/": without it,
  # "${base_url}/v1/…" is a valid URL.
  base_url = trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
}

output "base_url" {
  description = "The API's base URL, without a trailing slash (https://<id>.execute-api.<region>.amazonaws.com)."
  value       = local.base_url
}

output "hook_url_template" {
  description = "Where forms post leads: replace {keyId} with a key's id."
  value       = "${local.base_url}/v1/hooks/{keyId}"
}

output "meta_webhook_url" {
  description = "The callback URL to give Meta (Webhooks product, Page object, leadgen field)."
  value       = "${local.base_url}/v1/providers/meta/webhook"
}

output "openapi_url" {
  description = "The API's OpenAPI 3.1 document (docs/openapi.json, served by admin)."
  value       = "${local.base_url}/v1/openapi.json"
}

output "api_id" {
  description = "The HTTP API's id (for a custom domain's API mapping)."
  value       = aws_apigatewayv2_api.http.id
}

output "function_names" {
  description = "Lambda function names by function (ingest, meta-verify, process, deliver, admin, sweep)."
  value       = { for k, f in aws_lambda_function.fn : k => f.function_name }
}

output "function_arns" {
  description = "Lambda function ARNs by function."
  value       = { for k, f in aws_lambda_function.fn : k => f.arn }
}

output "role_arns" {
  description = "Each function's IAM role ARN, to attach extra policies."
  value       = { for k, r in aws_iam_role.fn : k => r.arn }
}

output "table_name" {
  description = "The DynamoDB table."
  value       = aws_dynamodb_table.main.name
}

output "index_shards" {
  description = "Partitions each growing index listing (listing) and the work index (work) are written over; fixed by the code (shared/src/aws/table.rs)."
  value       = local.index_shards
}

output "table_arn" {
  description = "The DynamoDB table's ARN."
  value       = aws_dynamodb_table.main.arn
}

output "queue_urls" {
  description = "Work queue URLs: leads, deliveries."
  value       = { for k, q in aws_sqs_queue.work : k => q.url }
}

output "dlq_urls" {
  description = "Dead-letter queue URLs: leads, deliveries."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "queue_arns" {
  description = "Work queue ARNs: leads, deliveries."
  value       = { for k, q in aws_sqs_queue.work : k => q.arn }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs: leads, deliveries."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "leads_queue_url" {
  description = "The leads queue (process consumes it)."
  value       = aws_sqs_queue.work["leads"].url
}

output "deliveries_queue_url" {
  description = "The deliveries queue (deliver consumes it)."
  value       = aws_sqs_queue.work["deliveries"].url
}

output "leads_dlq_url" {
  description = "The leads DLQ."
  value       = aws_sqs_queue.dlq["leads"].url
}

output "deliveries_dlq_url" {
  description = "The deliveries DLQ."
  value       = aws_sqs_queue.dlq["deliveries"].url
}

output "secret_arn" {
  description = "Put the deployment secret's value (dataKey, Meta secrets) here (see the README)."
  value       = aws_secretsmanager_secret.deployment.arn
}

output "admin_secret_arn" {
  description = "Put the admin secret's value (adminToken) here (see the README)."
  value       = aws_secretsmanager_secret.admin.arn
}

output "egress_ips" {
  description = "deliver's fixed source addresses (one per NAT gateway, or the NAT instance's) when egress is nat_gateway or nat_instance; empty otherwise."
  value       = aws_eip.egress[*].public_ip
}

output "egress_ip" {
  description = "deliver's first fixed source address when egress is nat_gateway or nat_instance (null otherwise); with nat_gateway_per_az, allow-list every one of egress_ips."
  value       = local.egress_vpc ? aws_eip.egress[0].public_ip : null
}

output "egress" {
  description = "How deliver reaches receivers: none, nat_gateway or nat_instance (from egress, or static_egress_ip)."
  value       = local.egress_mode
}

output "nat_instance_id" {
  description = "The NAT instance's id when egress = \"nat_instance\" (null otherwise)."
  value       = local.nat_instance ? aws_instance.nat[0].id : null
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm notifies (subscribe a pager, chat or e-mail to it)."
  value       = local.alarm_topic_arn
}
