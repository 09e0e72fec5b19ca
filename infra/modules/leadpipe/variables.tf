variable "name" {
  description = "Name prefix of every resource (the table is named after it)."
  type        = string
  default     = "leadpipe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "architecture" {
  description = "Lambda architecture: arm64 (cheaper, the default) or x86_64. Must match `make package ARCH=…`."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "lambda_package_dir" {
  description = "Where `make package` put the zips (<dir>/<function>/bootstrap.zip)."
  type        = string
  default     = "../target/lambda"

  validation {
    condition     = length(var.lambda_package_dir) > 0
    error_message = "lambda_package_dir must not be empty."
  }
}

variable "memory_mb" {
  description = "Memory of each function, MB."
  type        = map(number)
  default = {
    ingest        = 256
    "meta-verify" = 128
    process       = 256
    deliver       = 256
    admin         = 256
    sweep         = 128
  }

  validation {
    condition     = alltrue([for m in values(var.memory_mb) : m >= 128 && m <= 10240])
    error_message = "memory_mb values must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Timeout of each function, seconds. The queues' visibility timeout is six times the consumer's."
  type        = map(number)
  default = {
    ingest        = 10
    "meta-verify" = 5
    process       = 30
    deliver       = 30
    admin         = 29
    sweep         = 60
  }

  validation {
    condition     = alltrue([for t in values(var.timeout_seconds) : t >= 1 && t <= 900])
    error_message = "timeout_seconds values must be between 1 and 900."
  }
}

variable "batch_size" {
  description = "Records per invocation for the queue consumers."
  type        = map(number)
  default = {
    process = 10
    deliver = 10
  }

  validation {
    condition     = alltrue([for b in values(var.batch_size) : b >= 1 && b <= 10])
    error_message = "batch_size values must be between 1 and 10 (no batching window is configured)."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations per queue consumer (protects CRMs and the table from a burst)."
  type        = map(number)
  default = {
    process = 20
    deliver = 20
  }

  validation {
    condition     = alltrue([for c in values(var.maximum_concurrency) : c >= 2 && c <= 1000])
    error_message = "maximum_concurrency values must be between 2 and 1000."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of every function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, … 3653)."
  }
}

variable "log_level" {
  description = "RUST_LOG for every function."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "log_level must be error, warn, info, debug or trace."
  }
}

variable "default_region" {
  description = "Region (ISO 3166 alpha-2) for phone numbers sent without +."
  type        = string
  default     = "US"

  validation {
    condition     = can(regex("^[A-Z]{2}$", var.default_region))
    error_message = "default_region must be two upper-case letters."
  }
}

variable "reengage_days" {
  description = "Days of silence after which a returning lead fires lead.re_engaged."
  type        = number
  default     = 30

  validation {
    condition     = var.reengage_days >= 1 && var.reengage_days <= 3650
    error_message = "reengage_days must be between 1 and 3650."
  }
}

variable "retry_base_ms" {
  description = "Delivery and Graph API back-off base, ms."
  type        = number
  default     = 1000

  validation {
    condition     = var.retry_base_ms >= 100 && var.retry_base_ms <= 60000
    error_message = "retry_base_ms must be between 100 and 60000."
  }
}

variable "retry_max_ms" {
  description = "Delivery and Graph API back-off cap, ms."
  type        = number
  default     = 15000

  validation {
    condition     = var.retry_max_ms >= 1000 && var.retry_max_ms <= 43200000
    error_message = "retry_max_ms must be between 1000 and 43200000 (SQS's 12 h visibility limit)."
  }
}

variable "meta_graph_url" {
  description = "Meta Graph API base URL."
  type        = string
  default     = "https://graph.facebook.com/v25.0"

  validation {
    condition     = can(regex("^https://", var.meta_graph_url))
    error_message = "meta_graph_url must be an https URL."
  }
}

variable "public_url" {
  description = "Public base URL (custom domain) used in keys' url; empty uses the API's own URL."
  type        = string
  default     = ""
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarms (DLQ depth, errors, throttles). Empty: alarms without actions."
  type        = string
  default     = ""
}

variable "static_egress_ip" {
  description = "Run deliver in a VPC behind a NAT gateway with an Elastic IP, for receivers that allow-list source addresses."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when static_egress_ip is on."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "lead_retry_max_ms" {
  description = "Cap of the back-off between tries of one lead (Graph API outages), ms. With the leads queue's 20 receives the default waits out more than an hour."
  type        = number
  default     = 900000

  validation {
    condition     = var.lead_retry_max_ms >= 1000 && var.lead_retry_max_ms <= 43200000
    error_message = "lead_retry_max_ms must be between 1000 and 43200000 (SQS's 12 h visibility limit)."
  }
}

variable "sweep_schedule" {
  description = "How often the sweeper queues again what a lost message left stuck (an EventBridge Scheduler expression)."
  type        = string
  default     = "rate(5 minutes)"
}
