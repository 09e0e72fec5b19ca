variable "region" {
  description = "AWS region to deploy into, e.g. eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1 or us-east-2."
  }
}

variable "lambda_package_dir" {
  description = "Where `make package` put <function>/bootstrap.zip; null: the repository's target/lambda."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_package_dir == null || try(length(var.lambda_package_dir) > 0, false)
    error_message = "lambda_package_dir must be null or a path."
  }
}

variable "name" {
  description = "Name prefix of every resource (the module's name input)."
  type        = string
  default     = "leadpipe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "architecture" {
  description = "arm64 (default) or x86_64: as packaged by `make package ARCH=…`."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "static_egress_ip" {
  description = "Run deliver behind a NAT gateway with a fixed address (costs a NAT gateway per hour); egress = \"nat_instance\" is the cheaper way."
  type        = bool
  default     = false

  validation {
    condition     = var.static_egress_ip != null
    error_message = "static_egress_ip must be true or false."
  }
}

variable "egress" {
  description = "How deliver reaches receivers: none, nat_gateway or nat_instance (a fixed address for ~$7.40 a month); null follows static_egress_ip."
  type        = string
  default     = null
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for the alarms; empty: alarms without actions."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_sns_topic_arn == "" || startswith(var.alarm_sns_topic_arn, "arn:")
    error_message = "alarm_sns_topic_arn must be empty or an ARN."
  }
}

variable "deletion_protection" {
  description = "Protect the table from deletion; set false and apply before a destroy."
  type        = bool
  default     = true

  validation {
    condition     = var.deletion_protection != null
    error_message = "deletion_protection must be true or false."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a destroyed secret can be restored (0: deleted at once, its name free again)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Extra default tags for everything this root creates."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "tags: keys 1-128 characters, values at most 256."
  }
}
