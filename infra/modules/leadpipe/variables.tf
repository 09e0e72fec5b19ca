# Every input of the module. Per-function maps are merged over the defaults
# in locals.tf (function_defaults): set only the keys you change.

variable "name" {
  description = "Name prefix of every resource (the table is named after it). 3-32 lower-case letters, digits or hyphens."
  type        = string
  default     = "leadpipe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "lambda_package_dir" {
  description = "Directory holding the zips `make package` built: <dir>/<function>/bootstrap.zip for ingest, meta-verify, process, deliver, admin and sweep (in the repository: target/lambda)."
  type        = string

  validation {
    condition     = length(trimspace(var.lambda_package_dir)) > 0
    error_message = "lambda_package_dir must not be empty."
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

variable "memory_mb" {
  description = "Memory per function, MB, merged over the defaults (ingest 256, meta-verify 128, process 256, deliver 256, admin 256, sweep 128): e.g. { ingest = 512 }."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.memory_mb) : contains(["ingest", "meta-verify", "process", "deliver", "admin", "sweep"], k)])
    error_message = "memory_mb keys must be function names: ingest, meta-verify, process, deliver, admin, sweep."
  }
  validation {
    condition     = alltrue([for m in values(var.memory_mb) : m >= 128 && m <= 10240 && floor(m) == m])
    error_message = "memory_mb values must be whole numbers between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Timeout per function, seconds, merged over the defaults (ingest 10, meta-verify 5, process 30, deliver 30, admin 29, sweep 60). A queue's visibility timeout is max(180, 6 × its consumer's timeout); the API waits at most 30 s."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.timeout_seconds) : contains(["ingest", "meta-verify", "process", "deliver", "admin", "sweep"], k)])
    error_message = "timeout_seconds keys must be function names: ingest, meta-verify, process, deliver, admin, sweep."
  }
  validation {
    condition     = alltrue([for t in values(var.timeout_seconds) : t >= 1 && t <= 900 && floor(t) == t])
    error_message = "timeout_seconds values must be whole numbers between 1 and 900."
  }
}

variable "batch_size" {
  description = "Records per invocation of each queue consumer, merged over the defaults (process 10, deliver 10)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.batch_size) : contains(["process", "deliver"], k)])
    error_message = "batch_size keys must be queue consumers: process, deliver."
  }
  validation {
    condition     = alltrue([for b in values(var.batch_size) : b >= 1 && b <= 10 && floor(b) == b])
    error_message = "batch_size values must be whole numbers between 1 and 10 (no batching window is configured)."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations of each queue consumer, merged over the defaults (process 20, deliver 20). Protects CRMs and the table from a burst; a new account's Lambda concurrency limit may be 10 in all."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.maximum_concurrency) : contains(["process", "deliver"], k)])
    error_message = "maximum_concurrency keys must be queue consumers: process, deliver."
  }
  validation {
    condition     = alltrue([for c in values(var.maximum_concurrency) : c >= 2 && c <= 1000 && floor(c) == c])
    error_message = "maximum_concurrency values must be whole numbers between 2 and 1000 (Lambda's limits for SQS mappings)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (ingest, meta-verify, admin, process, deliver, sweep); absent: unreserved. Reserving capacity for process and deliver (or capping ingest) keeps a flood of hook requests from taking the account's whole concurrency while the pipeline behind it starves. AWS keeps at least 10 unreserved, so on a new account (limit 10) leave this empty; the per-workspace budget and the route throttle then bound a flood."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.reserved_concurrency) : contains(["ingest", "meta-verify", "admin", "process", "deliver", "sweep"], k)])
    error_message = "reserved_concurrency keys must be function names: ingest, meta-verify, admin, process, deliver, sweep."
  }
  validation {
    condition     = alltrue([for c in values(var.reserved_concurrency) : c >= 0 && floor(c) == c])
    error_message = "reserved_concurrency values must be whole numbers, 0 or more."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of every function's and the API's log group, days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, … 3653)."
  }
}

variable "log_level" {
  description = "RUST_LOG of every function."
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
    error_message = "default_region must be two upper-case letters (ISO 3166 alpha-2)."
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

variable "workspace_rate_limit_per_minute" {
  description = "Hook requests a minute one workspace may make across its keys unless the workspace sets its own (0: no limit). Keeps one flooded form from spending every other client's share of the API throttle."
  type        = number
  default     = 6000

  validation {
    condition     = var.workspace_rate_limit_per_minute >= 0 && var.workspace_rate_limit_per_minute <= 30000
    error_message = "workspace_rate_limit_per_minute must be between 0 and 30000."
  }
}

variable "retry_base_ms" {
  description = "Delivery and Graph API back-off base, ms (the first retry waits about this long)."
  type        = number
  default     = 1000

  validation {
    condition     = var.retry_base_ms >= 100 && var.retry_base_ms <= 60000
    error_message = "retry_base_ms must be between 100 and 60000."
  }
}

variable "retry_max_ms" {
  description = "Delivery back-off cap, ms. Must be at least retry_base_ms (the functions refuse to start otherwise), and a delivery's longest round (20 attempts) must fit in the queue's retention."
  type        = number
  default     = 15000

  validation {
    condition     = var.retry_max_ms >= 1000 && var.retry_max_ms <= 43200000
    error_message = "retry_max_ms must be between 1000 and 43200000 (SQS's 12 h visibility limit)."
  }
  validation {
    condition     = var.retry_max_ms >= var.retry_base_ms
    error_message = "retry_max_ms must be at least retry_base_ms: the functions refuse to start with a cap below the base."
  }
  validation {
    condition     = var.retry_max_ms / 1000 * 20 < var.message_retention_seconds
    error_message = "retry_max_ms × 20 attempts must stay below message_retention_seconds, or a delivery's message would expire mid-round."
  }
}

variable "lead_retry_max_ms" {
  description = "Cap of the back-off between tries of one lead (Graph API outages), ms. With the leads queue's 20 receives the default waits out more than an hour."
  type        = number
  default     = 900000

  validation {
    condition     = var.lead_retry_max_ms >= 1000 && var.lead_retry_max_ms <= 43200000
    error_message = "lead_retry_max_ms must be between 1000 and 43200000 (SQS's 12 h visibility limit)."
  }
  validation {
    condition     = var.lead_retry_max_ms >= var.retry_base_ms
    error_message = "lead_retry_max_ms must be at least retry_base_ms."
  }
  validation {
    condition     = var.lead_retry_max_ms / 1000 * 20 < var.message_retention_seconds
    error_message = "lead_retry_max_ms × 20 receives must stay below message_retention_seconds, or a lead's message would expire while it is retried."
  }
}

variable "message_retention_seconds" {
  description = "How long the two work queues keep a message, seconds (default 10 days). At least 8 days: a delivery's retry schedule may last 7 days (shared/src/rules/schedule.rs), all on one message. Their DLQs keep messages 14 days, the SQS maximum, which must exceed this: SQS keeps a message's first enqueue time when it dead-letters it."
  type        = number
  default     = 864000

  validation {
    condition     = var.message_retention_seconds >= 691200 && var.message_retention_seconds <= 1036800
    error_message = "message_retention_seconds must be between 691200 (8 days: the longest retry schedule and a day) and 1036800 (12 days, so that the DLQs' 14 days exceed it by two days at least)."
  }
}

variable "meta_graph_url" {
  description = "Meta Graph API base URL, without a trailing slash."
  type        = string
  default     = "https://graph.facebook.com/v25.0"

  validation {
    condition     = can(regex("^https://[^/]+(/.*[^/])?$", var.meta_graph_url))
    error_message = "meta_graph_url must be an https URL without a trailing slash."
  }
}

variable "public_url" {
  description = "Public base URL (a custom domain in front of the API) used in keys' url, e.g. https://leads.example.com; empty uses the API's own URL."
  type        = string
  default     = ""

  validation {
    condition     = var.public_url == "" || can(regex("^https://[^/]+(/.*[^/])?$", var.public_url))
    error_message = "public_url must be empty or an https URL without a trailing slash."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the alarms notify (DLQ depth, queue age, API 5xx, events stuck RECEIVED, FAILED events, dead deliveries, the sweeper's errors; with per_function_alarms every function's errors and throttles; with egress = nat_instance its recovery). Empty: the module creates one (output alarm_topic_arn)."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_sns_topic_arn == "" || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be empty or an SNS topic ARN."
  }
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when a work queue's oldest message is older than this, seconds (a stuck consumer or a long outage of a CRM or the Graph API)."
  type        = number
  default     = 1800

  validation {
    condition     = var.queue_age_alarm_seconds >= 60 && var.queue_age_alarm_seconds <= 1209600
    error_message = "queue_age_alarm_seconds must be between 60 and 1209600."
  }
}

variable "api_5xx_alarm_threshold" {
  description = "Alarm when the API answers more than this many 5xx in 5 minutes (the app's `internal` errors, API Gateway's integration failures and throttles)."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_alarm_threshold >= 0 && floor(var.api_5xx_alarm_threshold) == var.api_5xx_alarm_threshold
    error_message = "api_5xx_alarm_threshold must be a whole number, 0 or more."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the API accepts before answering 429 (API Gateway stage throttling)."
  type        = number
  default     = 1000

  validation {
    condition     = var.api_throttling_rate_limit >= 1 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be between 1 and 10000 (the account's default regional limit)."
  }
}

variable "public_route_throttling" {
  description = "Requests per second (rate_limit) and burst each public route (POST /v1/hooks/{keyId}, the Meta webhook) accepts before API Gateway answers 429; at most the stage's limits."
  type = object({
    rate_limit  = optional(number, 200)
    burst_limit = optional(number, 400)
  })
  default  = {}
  nullable = false

  validation {
    condition = (
      var.public_route_throttling.rate_limit >= 1 && var.public_route_throttling.rate_limit <= var.api_throttling_rate_limit &&
      var.public_route_throttling.burst_limit >= 1 && var.public_route_throttling.burst_limit <= var.api_throttling_burst_limit
    )
    error_message = "public_route_throttling: rate_limit and burst_limit must be at least 1 and at most api_throttling_rate_limit and api_throttling_burst_limit."
  }
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the API accepts above the rate limit."
  type        = number
  default     = 2000

  validation {
    condition     = var.api_throttling_burst_limit >= 1 && var.api_throttling_burst_limit <= 5000
    error_message = "api_throttling_burst_limit must be between 1 and 5000 (the account's default regional burst)."
  }
}

variable "keep_legacy_indexes" {
  description = "Keep the first layout's indexes (gsi1, gsi2, every attribute projected) beside the current ones. Set it for the first apply of an upgrade from a deployment made before the gsi1v2/gsi2v2 indexes, then unset it and apply again to drop them (README, Upgrading)."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = contains([true, false], var.keep_legacy_indexes)
    error_message = "keep_legacy_indexes must be true or false."
  }
}

variable "deletion_protection" {
  description = "Protect the table from deletion (turn off, apply, then destroy to tear down)."
  type        = bool
  default     = true

  validation {
    condition     = var.deletion_protection != null
    error_message = "deletion_protection must be true or false."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a destroyed secret can be restored, during which its name cannot be reused (0 deletes at once, so the same name can be deployed again right away)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30 (Secrets Manager's limits)."
  }
}

variable "sweep_schedule" {
  description = "How often the sweeper queues again what a lost message left stuck (an EventBridge Scheduler rate() or cron() expression)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.sweep_schedule))
    error_message = "sweep_schedule must be rate(N minutes|hours|days) or cron(…)."
  }
}

variable "static_egress_ip" {
  description = "Run deliver in a VPC whose traffic leaves through a fixed address, for receivers that allow-list source addresses (output egress_ips). Kept for compatibility: with egress unset, true means egress = \"nat_gateway\"."
  type        = bool
  default     = false

  validation {
    condition     = var.static_egress_ip != null
    error_message = "static_egress_ip must be true or false."
  }
}

variable "egress" {
  description = "How deliver reaches receivers. \"none\": Lambda's own, changing addresses (no VPC, nothing billed by the hour). \"nat_gateway\": a VPC behind managed NAT gateways with Elastic IPs (~$36.50 a month each, us-east-1). \"nat_instance\": a VPC behind one small ARM instance doing NAT with an Elastic IP (~$7.60 a month with t4g.nano, its address, disk and two alarms; EC2 auto-recovery on a failed host). Null (the default): \"nat_gateway\" when static_egress_ip is true, else \"none\". BENCHMARKS.md, \"Idle and static-IP costs\"."
  type        = string
  default     = null

  validation {
    condition     = var.egress == null || contains(["none", "nat_gateway", "nat_instance"], coalesce(var.egress, "none"))
    error_message = "egress must be \"none\", \"nat_gateway\" or \"nat_instance\" (or unset)."
  }
  validation {
    condition     = !(var.static_egress_ip && var.egress == "none")
    error_message = "static_egress_ip = true asks for a fixed address, egress = \"none\" for none: set one of them."
  }
}

variable "nat_instance_type" {
  description = "With egress = \"nat_instance\": the instance type, an ARM (Graviton) one since the image is Amazon Linux 2023 for arm64. t4g.nano (2 vCPU burstable, up to 5 Gbit/s) carries webhook traffic many times over."
  type        = string
  default     = "t4g.nano"

  validation {
    condition     = can(regex("^[a-z]+[0-9]+g[a-z]*\\.[a-z0-9]+$", var.nat_instance_type))
    error_message = "nat_instance_type must be a Graviton (arm64) type such as t4g.nano or t4g.micro."
  }
}

variable "nat_instance_ami_id" {
  description = "With egress = \"nat_instance\": an arm64 AMI to run instead of the latest Amazon Linux 2023 (read from AWS's public SSM parameter at the first apply; later AMI releases do not replace a running instance). Its user data must behave like Amazon Linux 2023's (dnf, systemd)."
  type        = string
  default     = ""

  validation {
    condition     = var.nat_instance_ami_id == "" || can(regex("^ami-[0-9a-f]{8,17}$", var.nat_instance_ami_id))
    error_message = "nat_instance_ami_id must be empty or an AMI id (ami-…)."
  }
}

variable "nat_gateway_per_az" {
  description = "With egress = \"nat_gateway\" (or static_egress_ip): one NAT gateway (and egress address) per availability zone, so deliver survives the loss of a zone; false: one NAT gateway for all (cheaper, one address)."
  type        = bool
  default     = false

  validation {
    condition     = var.nat_gateway_per_az != null
    error_message = "nat_gateway_per_az must be true or false."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when static_egress_ip is on: /16 to /20, split into /24 to /28 subnets."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition = (
      can(cidrnetmask(var.vpc_cidr))
      && can(regex("^[0-9.]+/(1[6-9]|20)$", var.vpc_cidr))
      && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false)
    )
    error_message = "vpc_cidr must be an IPv4 network address with a /16 to /20 prefix (e.g. 10.42.0.0/16): its subnets are /prefix+8."
  }
}

variable "availability_zone_ids" {
  description = "With static_egress_ip: the zone ids (e.g. [\"use1-az1\", \"use1-az2\"]) for deliver's subnets. Empty: the region's first two zones that are not in excluded_zone_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zone_ids) == 0 || (length(var.availability_zone_ids) >= 2 && length(var.availability_zone_ids) <= 6 && length(distinct(var.availability_zone_ids)) == length(var.availability_zone_ids))
    error_message = "availability_zone_ids must be empty or 2 to 6 distinct zone ids."
  }
}

variable "excluded_zone_ids" {
  description = "Zone ids never picked automatically: zones where Lambda cannot place a VPC function's network interfaces (use1-az3)."
  type        = list(string)
  default     = ["use1-az3"]

  validation {
    condition     = alltrue([for z in var.excluded_zone_ids : can(regex("^[a-z0-9]+-az[0-9]+$", z))])
    error_message = "excluded_zone_ids must be zone ids such as use1-az3."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates (beside Application and Stack; the provider's default_tags apply too)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags: keys 1-128 characters and not starting with aws:, values at most 256 characters."
  }
}

variable "failing_after_failures" {
  description = "Failed attempts in a row after which a subscription is failing: one probe delivery keeps retrying on its schedule, the others wait and are released in order on its first success."
  type        = number
  default     = 5

  validation {
    condition     = var.failing_after_failures >= 1 && var.failing_after_failures <= 1000 && floor(var.failing_after_failures) == var.failing_after_failures
    error_message = "failing_after_failures must be a whole number between 1 and 1000."
  }
}

variable "first_attempt_ms" {
  description = "How long process waits for a delivery's first attempt, which it makes itself when the destination is healthy (no queue hop; 5 fewer DynamoDB write units per delivered lead). 0 sends every attempt through the deliveries queue. Forced to 0 with a static egress IP (egress), which only deliver has. At most 10000 and half of process's timeout."
  type        = number
  default     = 3000

  validation {
    condition     = var.first_attempt_ms >= 0 && var.first_attempt_ms <= 10000 && floor(var.first_attempt_ms) == var.first_attempt_ms
    error_message = "first_attempt_ms must be a whole number of milliseconds between 0 and 10000."
  }
}

variable "disable_after_days" {
  description = "A subscription whose deliveries have all failed for this many days is disabled, keeping its URL and secret."
  type        = number
  default     = 5

  validation {
    condition     = var.disable_after_days >= 1 && var.disable_after_days <= 30 && floor(var.disable_after_days) == var.disable_after_days
    error_message = "disable_after_days must be a whole number between 1 and 30."
  }
}

variable "alarm_email" {
  description = "An address subscribed to the alarm topic (AWS mails it a confirmation link first). Empty: none; subscribe a pager or chat integration to the topic yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

variable "failed_events_alarm_threshold" {
  description = "The FAILED-events alarm fires when more than this many events end FAILED in 15 minutes (default 0: any)."
  type        = number
  default     = 0

  validation {
    condition     = var.failed_events_alarm_threshold >= 0 && floor(var.failed_events_alarm_threshold) == var.failed_events_alarm_threshold
    error_message = "failed_events_alarm_threshold must be a whole number, 0 or more."
  }
}

variable "per_function_alarms" {
  description = "Add an errors and a throttles alarm for every function (12 alarm metrics, $1.20 a month past CloudWatch's free ten). Off: the default set (9 alarms: both DLQs, both queues' age, API 5xx, events stuck RECEIVED, FAILED events, dead deliveries, the sweeper's errors) stays within the free ten and covers the same failures through their effects (BENCHMARKS.md, \"Idle and static-IP costs\")."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = contains([true, false], var.per_function_alarms)
    error_message = "per_function_alarms must be true or false."
  }
}

variable "tracing" {
  description = "X-Ray active tracing of every function. Off (PassThrough) by default: the functions emit no subsegments of their own, and at X-Ray's $5 per million traces recorded (past 100,000 a month free) with its default sampling (the first request each second, then 5 %) a lead's three traces cost $0.75–15 per million leads (BENCHMARKS.md, \"All-in cost\")."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = contains([true, false], var.tracing)
    error_message = "tracing must be true or false."
  }
}
