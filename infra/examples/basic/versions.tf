terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The version the module is tested with; .terraform.lock.hcl pins it.
      version = "~> 5.100.0"
    }
  }

  # State stays local (terraform.tfstate, git-ignored) until you copy
  # backend.tf.example to backend.tf: an S3 bucket with S3-native locking.
}
