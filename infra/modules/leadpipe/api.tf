# The HTTP API. `routes` must equal the code's route table
# (shared/src/http/routes.rs ROUTES); the parity test checks both ways.
locals {
  routes = {
    "POST /v1/hooks/{keyId}"                      = "ingest"
    "OPTIONS /v1/hooks/{keyId}"                   = "ingest"
    "GET /v1/hooks/{keyId}"                       = "ingest"
    "POST /v1/providers/meta/webhook"             = "ingest"
    "GET /v1/providers/meta/webhook"              = "meta-verify"
    "POST /v1/meta/data-deletion"                 = "ingest"
    "GET /v1/meta/data-deletion/{code}"           = "ingest"
    "GET /healthz"                                = "admin"
    "POST /v1/keys"                               = "admin"
    "GET /v1/keys"                                = "admin"
    "GET /v1/keys/{id}"                           = "admin"
    "PATCH /v1/keys/{id}"                         = "admin"
    "DELETE /v1/keys/{id}"                        = "admin"
    "POST /v1/keys/{id}/rotate"                   = "admin"
    "POST /v1/keys/{id}/test-lead"                = "admin"
    "GET /v1/events"                              = "admin"
    "GET /v1/events/{eventId}"                    = "admin"
    "POST /v1/events/{eventId}/replay"            = "admin"
    "GET /v1/leads"                               = "admin"
    "GET /v1/leads/export"                        = "admin"
    "GET /v1/leads/{id}"                          = "admin"
    "PATCH /v1/leads/{id}"                        = "admin"
    "POST /v1/subscriptions"                      = "admin"
    "GET /v1/subscriptions"                       = "admin"
    "GET /v1/subscriptions/{id}"                  = "admin"
    "PATCH /v1/subscriptions/{id}"                = "admin"
    "DELETE /v1/subscriptions/{id}"               = "admin"
    "POST /v1/subscriptions/{id}/rotate-secret"   = "admin"
    "POST /v1/subscriptions/{id}/test"            = "admin"
    "GET /v1/deliveries"                          = "admin"
    "GET /v1/deliveries/{id}"                     = "admin"
    "POST /v1/deliveries/{id}/retry"              = "admin"
    "GET /v1/dlq"                                 = "admin"
    "POST /v1/dlq/redrive"                        = "admin"
    "POST /v1/listeners"                          = "admin"
    "DELETE /v1/listeners/{id}"                   = "admin"
    "GET /v1/listeners/{id}/deliveries"           = "admin"
    "POST /v1/listeners/{id}/ack"                 = "admin"
    "POST /v1/maintenance/backfill"               = "admin"
    "POST /v1/leads/{id}/erase"                   = "admin"
    "POST /v1/workspaces"                         = "admin"
    "GET /v1/workspaces"                          = "admin"
    "GET /v1/workspaces/{id}"                     = "admin"
    "PATCH /v1/workspaces/{id}"                   = "admin"
    "DELETE /v1/workspaces/{id}"                  = "admin"
    "GET /v1/workspace"                           = "admin"
    "POST /v1/workspaces/{id}/tokens"             = "admin"
    "GET /v1/workspaces/{id}/tokens"              = "admin"
    "DELETE /v1/workspaces/{id}/tokens/{tokenId}" = "admin"
    "GET /v1/audit"                               = "admin"
    "GET /v1/meta/pages"                          = "admin"
    "PUT /v1/meta/pages/{pageId}"                 = "admin"
    "DELETE /v1/meta/pages/{pageId}"              = "admin"
    "GET /console"                                = "admin"
    "GET /console/sign-in"                        = "admin"
    "POST /console/sign-in"                       = "admin"
    "POST /console/sign-out"                      = "admin"
    "GET /console/assets/{file}"                  = "admin"
    "GET /console/keys"                           = "admin"
    "POST /console/keys"                          = "admin"
    "GET /console/keys/{id}"                      = "admin"
    "POST /console/keys/{id}"                     = "admin"
    "POST /console/keys/{id}/reveal"              = "admin"
    "POST /console/keys/{id}/rotate"              = "admin"
    "POST /console/keys/{id}/test-lead"           = "admin"
    "POST /console/keys/{id}/delete"              = "admin"
    "GET /console/destinations"                   = "admin"
    "POST /console/destinations"                  = "admin"
    "GET /console/destinations/{id}"              = "admin"
    "POST /console/destinations/{id}"             = "admin"
    "POST /console/destinations/{id}/test"        = "admin"
    "POST /console/destinations/{id}/rotate"      = "admin"
    "POST /console/destinations/{id}/toggle"      = "admin"
    "POST /console/destinations/{id}/delete"      = "admin"
    "GET /console/leads"                          = "admin"
    "GET /console/leads/export.csv"               = "admin"
    "GET /console/leads/{id}"                     = "admin"
    "POST /console/leads/{id}"                    = "admin"
    "GET /console/events"                         = "admin"
    "GET /console/events/{id}"                    = "admin"
    "POST /console/events/{id}/replay"            = "admin"
    "GET /console/deliveries"                     = "admin"
    "GET /console/deliveries/{id}"                = "admin"
    "POST /console/deliveries/{id}/retry"         = "admin"
    "POST /console/dlq/redrive"                   = "admin"
    "POST /console/leads/{id}/erase"              = "admin"
    "GET /console/workspaces"                     = "admin"
    "POST /console/workspaces"                    = "admin"
    "POST /console/workspaces/{id}/switch"        = "admin"
    "POST /console/tokens"                        = "admin"
    "POST /console/tokens/{id}/revoke"            = "admin"
    "GET /console/audit"                          = "admin"
    "GET /favicon.ico"                            = "admin"
    "GET /v1/openapi.json"                        = "admin"
  }
  http_functions = toset(distinct(values(local.routes)))
}

resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "Leadpipe: inbound lead webhooks, Meta Lead Ads, admin API"
  tags          = local.tags
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Access logs use CloudWatch's default encryption.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days).
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
  tags        = local.tags

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      method    = "$context.httpMethod"
      route     = "$context.routeKey"
      status    = "$context.status"
      latencyMs = "$context.responseLatency"
      error     = "$context.integrationErrorMessage"
    })
  }

  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }

  # The public routes (hooks, Meta) get their own, lower limits: a flood on
  # them is answered 429 by API Gateway before it reaches a function or the
  # table, and the admin API stays reachable. Per-key limits are the app's
  # (`rateLimitPerMinute`).
  dynamic "route_settings" {
    for_each = { for k, fn in local.routes : k => fn if contains(["ingest", "meta-verify"], fn) }
    content {
      route_key              = route_settings.key
      throttling_burst_limit = var.public_route_throttling.burst_limit
      throttling_rate_limit  = var.public_route_throttling.rate_limit
    }
  }

  depends_on = [aws_apigatewayv2_route.route]
}

resource "aws_apigatewayv2_integration" "fn" {
  for_each               = local.http_functions
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, local.timeout_seconds[each.key] * 1000)
}

resource "aws_apigatewayv2_route" "route" {
  #checkov:skip=CKV_AWS_309:Each route authenticates in its function: webhook tokens, Meta signatures, the admin bearer token (constant-time checks).
  for_each  = local.routes
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.fn[each.value].id}"
}

# Everything no route matches (another method on a known path, an unknown
# path) goes to admin, which answers from the same route table as the local
# stack: 405 with Allow, or 404, in the error envelope, instead of API
# Gateway's own {"message":"Not Found"}.
resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:admin answers unmatched requests with 404/405 before any authorisation matters.
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.fn["admin"].id}"
}

resource "aws_lambda_permission" "api" {
  for_each      = local.http_functions
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
