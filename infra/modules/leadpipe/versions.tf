# A module: no provider block (the caller configures the provider, its region
# and default_tags; see infra/examples/basic). Terraform 1.9 or later for
# validations that compare two inputs. The provider is held to the 5.x line
# this module is tested with (hashicorp/aws 5.100.0): 6.x deprecates the
# table's hash_key/range_key arguments.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}
