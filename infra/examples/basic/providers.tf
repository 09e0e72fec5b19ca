provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "leadpipe", Stack = var.name, ManagedBy = "terraform" }, var.tags)
  }
}
