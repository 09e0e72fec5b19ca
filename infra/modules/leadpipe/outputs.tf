output "base_url" {
  description = "The API's base URL."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "hook_url_template" {
  description = "Where forms post leads: replace {keyId} with a key's id."
  value       = "${trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")}/v1/hooks/{keyId}"
}

output "meta_webhook_url" {
  description = "The callback URL to give Meta (Webhooks product, Page object, leadgen field)."
  value       = "${trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")}/v1/providers/meta/webhook"
}

output "leads_queue_url" {
  value = aws_sqs_queue.work["leads"].url
}

output "deliveries_queue_url" {
  value = aws_sqs_queue.work["deliveries"].url
}

output "leads_dlq_url" {
  value = aws_sqs_queue.dlq["leads"].url
}

output "deliveries_dlq_url" {
  value = aws_sqs_queue.dlq["deliveries"].url
}

output "secret_arn" {
  description = "Put the deployment secret's value (dataKey, Meta secrets) here (see the README)."
  value       = aws_secretsmanager_secret.deployment.arn
}

output "admin_secret_arn" {
  description = "Put the admin secret's value (adminToken) here (see the README)."
  value       = aws_secretsmanager_secret.admin.arn
}

output "egress_ip" {
  description = "deliver's fixed source address, when static_egress_ip is on."
  value       = var.static_egress_ip ? aws_eip.egress[0].public_ip : null
}
