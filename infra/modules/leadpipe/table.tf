# One table, single-table design (see shared/src/aws/resources.rs, which the
# parity test compares this with): pk/sk, three GSIs, TTL on expiresAt.

locals {
  # Index partitions the code writes every growing listing (events, leads,
  # deliveries; shared/src/aws/table.rs LISTING_SHARDS) and the work index
  # (WORK_SHARDS) over, so a burst of leads is not throttled at one
  # partition (~1,000 write units/s each; BENCHMARKS.md, "Partitions").
  # Fixed by the code, not a setting: an item's shard comes from its id and
  # listings read exactly these shards, so a different number here would
  # strand items. Stated for operators (output index_shards) and checked
  # against the code by the infra parity test.
  index_shards = {
    listing = 8
    work    = 8
  }
}
resource "aws_dynamodb_table" "main" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS owned key; a customer managed key is an opt-in cost most small teams do not need.
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "gsi1pk"
    type = "S"
  }
  attribute {
    name = "gsi1sk"
    type = "S"
  }
  attribute {
    name = "gsi2pk"
    type = "S"
  }
  attribute {
    name = "gsi2sk"
    type = "S"
  }
  attribute {
    name = "gsi3pk"
    type = "S"
  }
  attribute {
    name = "gsi3sk"
    type = "S"
  }

  # The indexes keep the keys and what listings filter on (status, tags);
  # listings read the items from the table. See shared/src/aws/table.rs.
  global_secondary_index {
    name               = "gsi1v2"
    hash_key           = "gsi1pk"
    range_key          = "gsi1sk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "tags"]
  }

  global_secondary_index {
    name               = "gsi2v2"
    hash_key           = "gsi2pk"
    range_key          = "gsi2sk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "tags"]
  }

  # The work index: an entry only while a delivery is pending (the sweeper
  # reads it instead of every recent delivery).
  global_secondary_index {
    name               = "gsi3v2"
    hash_key           = "gsi3pk"
    range_key          = "gsi3sk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "tags"]
  }

  # The first layout's indexes, kept while a deployment upgrades (README,
  # "Upgrading"): nothing reads them.
  dynamic "global_secondary_index" {
    for_each = var.keep_legacy_indexes ? ["gsi1", "gsi2"] : []
    content {
      name            = global_secondary_index.value
      hash_key        = "${global_secondary_index.value}pk"
      range_key       = "${global_secondary_index.value}sk"
      projection_type = "ALL"
    }
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}
