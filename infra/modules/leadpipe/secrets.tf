# The deployment's secrets, split so that each function can read only what it
# uses (shared/src/aws/secrets.rs; IAM in iam.tf):
#
# * deployment: dataKey and the Meta secrets, read by every function;
# * admin: adminToken, read by the admin function alone, so that ingest and
#   meta-verify (reached by the internet without a credential) cannot read it.
#
# After a destroy a secret's name stays taken for its recovery window
# (var.secret_recovery_window_days; 0 frees it at once).
#
# Terraform creates the containers only: their values are set outside
# Terraform so they never land in state. See the README's deploy section:
#
#   aws secretsmanager put-secret-value --secret-id <name>/deployment \
#     --secret-string '{"dataKey":"'$(openssl rand -base64 32)'",
#                       "metaAppSecret":"…","metaVerifyToken":"…","metaPageToken":"…"}'
#   aws secretsmanager put-secret-value --secret-id <name>/admin \
#     --secret-string '{"adminToken":"'$(openssl rand -hex 24)'"}'
resource "aws_secretsmanager_secret" "deployment" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key for Secrets Manager; a customer managed key is optional.
  #checkov:skip=CKV2_AWS_57:Rotating the data key would orphan every sealed value; Meta secrets are rotated by putting a new value.
  name                    = "${var.name}/deployment"
  description             = "Leadpipe deployment secret: dataKey, metaAppSecret, metaVerifyToken, metaPageToken"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret" "admin" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key for Secrets Manager; a customer managed key is optional.
  #checkov:skip=CKV2_AWS_57:The admin token is rotated by putting a new value (in force within the cache TTL).
  name                    = "${var.name}/admin"
  description             = "Leadpipe admin secret: adminToken (read by the admin function only)"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}
