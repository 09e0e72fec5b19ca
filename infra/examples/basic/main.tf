# Leadpipe in one root module: `make package`, then
#   terraform -chdir=infra/examples/basic init
#   terraform -chdir=infra/examples/basic apply -var region=eu-west-1
# (README.md, "Deploying to AWS"). In your own Terraform, copy this block and
# point source at a copy of infra/modules/leadpipe (or a git URL with ?ref=).
module "leadpipe" {
  source = "../../modules/leadpipe"

  name                        = var.name
  lambda_package_dir          = coalesce(var.lambda_package_dir, "${path.root}/../../../target/lambda")
  architecture                = var.architecture
  static_egress_ip            = var.static_egress_ip
  egress                      = var.egress
  alarm_sns_topic_arn         = var.alarm_sns_topic_arn
  deletion_protection         = var.deletion_protection
  secret_recovery_window_days = var.secret_recovery_window_days

  # Per-function settings are merged over the module's defaults, e.g.:
  # memory_mb           = { ingest = 512 }
  # maximum_concurrency = { deliver = 5 }
}
