//! The AWS actions each function's code calls, on which resource. This
//! table is the source of truth for least-privilege IAM: the infra parity
//! test fails when `infra/iam.tf` grants anything else (or less).
//!
//! SQS batch calls are covered by their single-message actions, and
//! DynamoDB transactions by the actions of their parts (`PutItem`,
//! `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).

use crate::http::routes::Function;

/// The resources a function touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Table,
    LeadsQueue,
    LeadsDlq,
    DeliveriesQueue,
    DeliveriesDlq,
    /// The deployment secret: data key and Meta secrets.
    Secret,
    /// The admin secret: the admin token, for `admin` alone.
    AdminSecret,
}

impl Resource {
    /// Its name in `infra/iam.tf`'s `function_permissions`.
    pub const fn name(self) -> &'static str {
        match self {
            Resource::Table => "table",
            Resource::LeadsQueue => "leads",
            Resource::LeadsDlq => "leads_dlq",
            Resource::DeliveriesQueue => "deliveries",
            Resource::DeliveriesDlq => "deliveries_dlq",
            Resource::Secret => "secret",
            Resource::AdminSecret => "admin_secret",
        }
    }
}

/// The SQS consumer functions (event source mappings need these).
const CONSUME: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
];
const SECRET: &[&str] = &["secretsmanager:GetSecretValue"];

/// What each function may do: `(function, resource, actions)`.
pub const PERMISSIONS: &[(Function, Resource, &[&str])] = &[
    (
        Function::Ingest,
        Resource::Table,
        &[
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::Ingest, Resource::LeadsQueue, &["sqs:SendMessage"]),
    (Function::Ingest, Resource::Secret, SECRET),
    (Function::MetaVerify, Resource::Secret, SECRET),
    (
        Function::Process,
        Resource::Table,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::Process, Resource::LeadsQueue, CONSUME),
    (
        Function::Process,
        Resource::DeliveriesQueue,
        &["sqs:SendMessage"],
    ),
    (Function::Process, Resource::Secret, SECRET),
    (
        Function::Deliver,
        Resource::Table,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::Deliver, Resource::DeliveriesQueue, CONSUME),
    (
        Function::Deliver,
        Resource::DeliveriesDlq,
        &["sqs:SendMessage"],
    ),
    (Function::Deliver, Resource::Secret, SECRET),
    (
        Function::Admin,
        Resource::Table,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::Admin, Resource::LeadsQueue, &["sqs:SendMessage"]),
    (
        Function::Admin,
        Resource::DeliveriesQueue,
        &["sqs:SendMessage"],
    ),
    (
        Function::Admin,
        Resource::LeadsDlq,
        &[
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
    ),
    (
        Function::Admin,
        Resource::DeliveriesDlq,
        &[
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
    ),
    (Function::Admin, Resource::Secret, SECRET),
    (Function::Admin, Resource::AdminSecret, SECRET),
    (
        Function::Sweep,
        Resource::Table,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::Sweep, Resource::LeadsQueue, &["sqs:SendMessage"]),
    // The Meta page check opens each page's sealed token.
    (Function::Sweep, Resource::Secret, SECRET),
    (
        Function::Sweep,
        Resource::DeliveriesQueue,
        &["sqs:SendMessage"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The functions the internet reaches without a credential (and every
    /// other but admin) cannot read the admin token.
    #[test]
    fn only_admin_reads_the_admin_secret() {
        let readers: Vec<Function> = PERMISSIONS
            .iter()
            .filter(|(_, r, _)| *r == Resource::AdminSecret)
            .map(|(f, _, _)| *f)
            .collect();
        assert_eq!(readers, vec![Function::Admin]);
    }
}
