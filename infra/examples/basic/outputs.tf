output "base_url" {
  description = "The API's base URL (no trailing slash)."
  value       = module.leadpipe.base_url
}

output "hook_url_template" {
  description = "Where forms post leads: replace {keyId} with a key's id."
  value       = module.leadpipe.hook_url_template
}

output "meta_webhook_url" {
  description = "Meta's callback URL (Webhooks product, Page object, leadgen field)."
  value       = module.leadpipe.meta_webhook_url
}

output "openapi_url" {
  description = "The API's OpenAPI 3.1 document."
  value       = module.leadpipe.openapi_url
}

output "secret_arn" {
  description = "The deployment secret: put dataKey and the Meta secrets in it."
  value       = module.leadpipe.secret_arn
}

output "admin_secret_arn" {
  description = "The admin secret: put adminToken in it."
  value       = module.leadpipe.admin_secret_arn
}

output "function_names" {
  description = "Lambda function names."
  value       = module.leadpipe.function_names
}

output "table_name" {
  description = "The DynamoDB table."
  value       = module.leadpipe.table_name
}

output "queue_urls" {
  description = "Work queues."
  value       = module.leadpipe.queue_urls
}

output "dlq_urls" {
  description = "Dead-letter queues."
  value       = module.leadpipe.dlq_urls
}

output "egress_ips" {
  description = "deliver's fixed source addresses (egress nat_gateway or nat_instance, or static_egress_ip)."
  value       = module.leadpipe.egress_ips
}
