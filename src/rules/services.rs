//! The services a mapping must reach and what it asks of each: the shared vocabulary of the
//! service-path rules, the endpoint rules, the planner and the collector.

use std::collections::BTreeMap;

use crate::model::{EventSourceMapping, Partition, Subnet};
use crate::policy;

/// Who makes a request through an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The Lambda service principal (`lambda.amazonaws.com`): invoking the function,
    /// assuming the execution role.
    LambdaService,
    /// The function's execution role: reading the secret, writing to the destination.
    ExecutionRole,
}

/// A request the mapping makes of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub action: &'static str,
    pub caller: Caller,
    /// The resource the request names; `None` when it is the execution role and that is
    /// not known.
    pub resource: Option<String>,
}

/// A service the mapping must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The last part of the endpoint service name: `lambda`, `sts`, `secretsmanager`, ...
    pub short: &'static str,
    pub label: &'static str,
    pub uses: Vec<Use>,
    /// The guide requires `"Resource": "*"` in this endpoint's policy (Lambda and STS).
    pub resource_star: bool,
}

/// The service Lambda's own principal is called in every partition.
pub const LAMBDA_PRINCIPAL: &str = "lambda.amazonaws.com";

/// Lambda and STS always; Secrets Manager with a secret; the on-failure destination's service
/// (Lambda's own error text: "Your event source VPC must be able to connect to Lambda and
/// STS, Secrets Manager (if event source authentication is required), and the OnFailure
/// Destination (if one is configured)").
pub fn required_services(esm: &EventSourceMapping) -> Vec<Service> {
    let mut services = vec![
        Service {
            short: "lambda",
            label: "Lambda",
            uses: vec![Use {
                action: "lambda:InvokeFunction",
                caller: Caller::LambdaService,
                resource: Some(esm.function_arn.clone()),
            }],
            resource_star: true,
        },
        Service {
            short: "sts",
            label: "STS",
            uses: vec![Use {
                action: "sts:AssumeRole",
                caller: Caller::LambdaService,
                resource: esm.execution_role.clone(),
            }],
            resource_star: true,
        },
    ];
    let secrets = esm.secret_arns();
    if !secrets.is_empty() {
        services.push(Service {
            short: "secretsmanager",
            label: "Secrets Manager",
            uses: secrets
                .iter()
                .map(|s| Use {
                    action: "secretsmanager:GetSecretValue",
                    caller: Caller::ExecutionRole,
                    resource: Some(s.to_string()),
                })
                .collect(),
            resource_star: false,
        });
    }
    services.extend(destination_service(esm));
    services
}

/// The service of the mapping's on-failure destination (SQS, SNS or S3), if it has one.
pub fn destination_service(esm: &EventSourceMapping) -> Option<Service> {
    let dest = esm.on_failure_destination.as_ref()?;
    let (short, label, action, resource) = match dest.split(':').nth(2)? {
        "sqs" => ("sqs", "SQS", "sqs:SendMessage", dest.clone()),
        "sns" => ("sns", "SNS", "sns:Publish", dest.clone()),
        "s3" => ("s3", "S3", "s3:PutObject", format!("{dest}/*")),
        _ => return None,
    };
    Some(Service {
        short,
        label,
        uses: vec![Use {
            action,
            caller: Caller::ExecutionRole,
            resource: Some(resource),
        }],
        resource_star: false,
    })
}

impl Service {
    /// The full endpoint service name in `region`.
    pub fn endpoint_name(&self, region: &str) -> String {
        Partition::of_region(region).endpoint_service_name(region, self.short)
    }

    /// The guide's restrictive endpoint policy for this service, or why none can be written.
    pub fn guide_policy(&self, execution_role: Option<&str>) -> Result<String, String> {
        if self.short == "s3" {
            return Err(
                "S3 destinations are served by a gateway endpoint, not an interface endpoint"
                    .into(),
            );
        }
        if self.uses.iter().all(|u| u.caller == Caller::LambdaService) {
            return Ok(policy::service_principal_policy(self.uses[0].action));
        }
        let Some(role) = execution_role.filter(|r| !r.is_empty()) else {
            return Err("the function's execution role is not known".into());
        };
        let mut grants = Vec::new();
        for u in &self.uses {
            let Some(resource) = &u.resource else {
                return Err("the resource the mapping uses is not known".into());
            };
            grants.push((u.action.to_string(), role.to_string(), resource.clone()));
        }
        Ok(policy::role_policy(&grants))
    }
}

/// One subnet per AZ (the lowest id), as an endpoint takes at most one subnet per AZ.
pub fn one_subnet_per_az(subnets: &[&Subnet]) -> Vec<String> {
    let mut by_az: BTreeMap<&str, &str> = BTreeMap::new();
    for s in subnets {
        let entry = by_az.entry(&s.availability_zone).or_insert(&s.id);
        if s.id.as_str() < *entry {
            *entry = &s.id;
        }
    }
    by_az.values().map(|s| s.to_string()).collect()
}
