terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
  }
}

provider "aws" {
  default_tags {
    tags = merge({ Application = "leadpipe", Stack = var.name }, var.tags)
  }
}
