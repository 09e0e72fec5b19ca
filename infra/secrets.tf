# The deployment secret. Terraform creates the container only: its value
# (admin token, data key, Meta secrets) is set outside Terraform so it never
# lands in state. See the README's deploy section:
#
#   aws secretsmanager put-secret-value --secret-id <name>/deployment \
#     --secret-string '{"adminToken":"…","dataKey":"'$(openssl rand -base64 32)'",
#                       "metaAppSecret":"…","metaVerifyToken":"…","metaPageToken":"…"}'
resource "aws_secretsmanager_secret" "deployment" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key for Secrets Manager; a customer managed key is optional.
  #checkov:skip=CKV2_AWS_57:Rotating the data key would orphan every sealed value; the admin token is rotated by putting a new value.
  name                    = "${var.name}/deployment"
  description             = "Leadpipe deployment secret: adminToken, dataKey, metaAppSecret, metaVerifyToken, metaPageToken"
  recovery_window_in_days = 7
}
