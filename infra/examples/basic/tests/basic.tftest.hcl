# The example root plans with the module's fixture zips and a mocked provider.
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "us-east-2"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

run "example_plans" {
  command = plan

  variables {
    region             = "us-east-2"
    lambda_package_dir = "../../modules/leadpipe/tests/fixtures/lambda"
  }

  assert {
    condition     = length(module.leadpipe.function_names) == 6 && module.leadpipe.function_names["ingest"] == "leadpipe-ingest"
    error_message = "the example deploys the six functions"
  }
}

run "example_rejects_a_bad_region" {
  command = plan

  variables {
    region             = "Frankfurt"
    lambda_package_dir = "../../modules/leadpipe/tests/fixtures/lambda"
  }

  expect_failures = [var.region]
}
