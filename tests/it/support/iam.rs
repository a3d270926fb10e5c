//! The IAM check: every request an account made (the emulator's request log), authorized as
//! AWS authorizes it against the function role's policy that `template.yaml` renders. moto
//! enforces no IAM, so without this a grant the template lacks only shows in a real account.
//!
//! Each logged call becomes the authorizations AWS makes for it (the Service Authorization
//! Reference's resource rows): the call on each resource it names, and, when it tags what it
//! creates, `ec2:CreateTags` on the new resource with `ec2:CreateAction` (tag-on-create). The
//! condition keys are filled in as AWS fills them; a key this check does not know stays
//! unknown, and an unknown never allows: the check fails rather than guess.

use std::collections::HashMap;
use std::process::Command;

use esm_guard::policy::{Decision, KeyValue, Policy, Principal, Request};
use serde_json::Value;

use super::emulator::{control, Account};

/// One request of the log.
#[derive(Debug, Clone)]
pub struct Logged {
    pub service: String,
    pub action: String,
    pub region: String,
    pub params: Value,
}

impl Logged {
    fn call(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }
    fn param(&self, name: &str) -> Result<&str, String> {
        self.params[name]
            .as_str()
            .ok_or_else(|| format!("{}: the log has no {name}", self.call()))
    }
    fn list(&self, name: &str) -> Vec<&str> {
        self.params[name]
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// Every request `account` made since its log was last cleared, in order.
pub fn logged(account: &Account) -> Vec<Logged> {
    let log = control(
        "GET",
        &format!("/_esm_guard/requests?account={}", account.id),
        None,
    );
    log.as_array()
        .expect("request log")
        .iter()
        .map(|e| Logged {
            service: e["service"].as_str().unwrap_or("?").to_string(),
            action: e["action"].as_str().unwrap_or("?").to_string(),
            region: e["region"].as_str().unwrap_or("?").to_string(),
            params: e["params"].clone(),
        })
        .collect()
}

/// The function role's policy for `mode` as `scripts/check_template.py --render-policy`
/// renders it for `account` in us-east-1, without the statements named in `without`.
pub fn role_policy(mode: &str, account: &str, without: &[&str]) -> Policy {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(format!("{root}/.venv/bin/python"));
    command
        .current_dir(root)
        .args(["scripts/check_template.py", "--render-policy", mode])
        .args(["--account", account, "--region", "us-east-1"]);
    for sid in without {
        command.args(["--without-statement", sid]);
    }
    let out = command
        .output()
        .expect("run scripts/check_template.py (scripts/setup makes .venv)");
    assert!(
        out.status.success(),
        "check_template.py --render-policy {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Policy::parse(&String::from_utf8(out.stdout).expect("UTF-8 policy")).expect("policy parses")
}

/// The tags of the account's VPCs, subnets and security groups (what `aws:ResourceTag/...`
/// reads), by resource id.
#[derive(Debug, Default)]
pub struct ResourceTags(pub HashMap<String, Vec<(String, String)>>);

impl ResourceTags {
    pub async fn read(account: &Account) -> ResourceTags {
        let ec2 = aws_sdk_ec2::Client::new(&account.config);
        let mut tags = HashMap::new();
        let pairs = |t: &[aws_sdk_ec2::types::Tag]| -> Vec<(String, String)> {
            t.iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        let vpcs = ec2.describe_vpcs().send().await.expect("DescribeVpcs");
        for v in vpcs.vpcs() {
            tags.insert(v.vpc_id().unwrap().to_string(), pairs(v.tags()));
        }
        let subnets = ec2
            .describe_subnets()
            .send()
            .await
            .expect("DescribeSubnets");
        for s in subnets.subnets() {
            tags.insert(s.subnet_id().unwrap().to_string(), pairs(s.tags()));
        }
        let groups = ec2
            .describe_security_groups()
            .send()
            .await
            .expect("DescribeSecurityGroups");
        for g in groups.security_groups() {
            tags.insert(g.group_id().unwrap().to_string(), pairs(g.tags()));
        }
        ResourceTags(tags)
    }

    fn of(&self, id: &str) -> Result<&[(String, String)], String> {
        self.0
            .get(id)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("the tags of {id} are not known"))
    }
}

/// One authorization AWS makes for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub action: String,
    pub resource: String,
    /// The tags the request puts on this resource (`aws:RequestTag/...`, `aws:TagKeys`);
    /// `None` when it tags nothing here.
    pub request_tags: Option<Vec<(String, String)>>,
    /// The resource's own tags (`aws:ResourceTag/...`).
    pub resource_tags: Held,
    /// Service-specific keys with their values, lower case.
    pub keys: Vec<(String, String)>,
}

/// What is known of a resource's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Read from the account.
    Read(Vec<(String, String)>),
    /// It has none: it is being created, or the call names no resource (`*`).
    Nothing,
    /// Not read here: a condition on them cannot be decided.
    Unread,
}

impl Authorization {
    fn on(action: &str, resource: String) -> Authorization {
        Authorization {
            action: action.to_string(),
            resource_tags: if resource == "*" {
                Held::Nothing
            } else {
                Held::Unread
            },
            resource,
            request_tags: None,
            keys: Vec::new(),
        }
    }
}

const NEW: &str = "new";

/// The authorizations AWS makes for `request` from `account`'s role.
pub fn authorizations(
    request: &Logged,
    account: &str,
    tags: &ResourceTags,
) -> Result<Vec<Authorization>, String> {
    let region = request.region.as_str();
    let arn = |service: &str, rest: String| format!("arn:aws:{service}:{region}:{account}:{rest}");
    let action = request.call();
    let ec2 = |kind: &str, id: &str| arn("ec2", format!("{kind}/{id}"));
    let existing = |kind: &str, id: &str, key: &str| -> Result<Authorization, String> {
        let mut a = Authorization::on(&action, ec2(kind, id));
        a.resource_tags = Held::Read(tags.of(id)?.to_vec());
        a.keys.push((key.to_string(), id.to_string()));
        Ok(a)
    };
    let out = match (request.service.as_str(), request.action.as_str()) {
        ("ec2", a) if a.starts_with("Describe") => vec![Authorization::on(&action, "*".into())],
        ("ec2", "GetManagedPrefixListEntries") => vec![Authorization::on(
            &action,
            ec2("prefix-list", request.param("PrefixListId")?),
        )],
        ("ec2", "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress") => {
            let group = request.param("GroupId")?;
            let mut out = vec![existing("security-group", group, "ec2:securitygroupid")?];
            out.extend(created(
                request,
                &action,
                "security-group-rule",
                ec2("security-group-rule", NEW),
                vec![],
            )?);
            out
        }
        ("ec2", "CreateVpcEndpoint") => {
            let mut out = vec![existing("vpc", request.param("VpcId")?, "ec2:vpcid")?];
            for subnet in request.list("SubnetIds") {
                out.push(existing("subnet", subnet, "ec2:subnetid")?);
            }
            for group in request.list("SecurityGroupIds") {
                out.push(existing("security-group", group, "ec2:securitygroupid")?);
            }
            let service = request.param("ServiceName")?;
            let service_region = service
                .split('.')
                .rev()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            out.extend(created(
                request,
                &action,
                "vpc-endpoint",
                ec2("vpc-endpoint", NEW),
                vec![
                    ("ec2:vpceservicename".into(), service.to_string()),
                    ("ec2:vpceserviceregion".into(), service_region),
                ],
            )?);
            out
        }
        ("lambda", "ListEventSourceMappings") | ("kafka", "ListClustersV2") => {
            vec![Authorization::on(&action, "*".into())]
        }
        ("lambda", "GetEventSourceMapping") => vec![Authorization::on(
            &action,
            arn(
                "lambda",
                format!("event-source-mapping:{}", request.param("UUID")?),
            ),
        )],
        ("lambda", "GetFunctionConfiguration") => {
            let name = request.param("FunctionName")?;
            let resource = if name.starts_with("arn:") {
                name.to_string()
            } else {
                arn("lambda", format!("function:{name}"))
            };
            vec![Authorization::on(&action, resource)]
        }
        ("lambda", "ListTags") => vec![Authorization::on(
            &action,
            request.param("Resource")?.to_string(),
        )],
        ("kafka", "DescribeClusterV2") => vec![Authorization::on(
            &action,
            request.param("ClusterArn")?.to_string(),
        )],
        ("kafka", "DescribeVpcConnection") => {
            vec![Authorization::on(&action, request.param("Arn")?.to_string())]
        }
        ("dynamodb", "GetItem" | "PutItem" | "DeleteItem" | "Scan" | "UpdateItem" | "Query") => {
            // A query or scan of an index is authorized on the index's ARN.
            let table = request.param("TableName")?;
            let resource = match request.params["IndexName"].as_str() {
                Some(index) => format!("table/{table}/index/{index}"),
                None => format!("table/{table}"),
            };
            vec![Authorization::on(&action, arn("dynamodb", resource))]
        }
        ("scheduler", "CreateSchedule" | "DeleteSchedule") => {
            let group = request.params["GroupName"].as_str().unwrap_or("default");
            let name = request.param("Name")?;
            let mut out = vec![Authorization::on(
                &action,
                arn("scheduler", format!("schedule/{group}/{name}")),
            )];
            if request.action == "CreateSchedule" {
                // The role handed to Scheduler (Target.RoleArn) is passed: iam:PassRole.
                let mut pass = Authorization::on("iam:PassRole", request.param("RoleArn")?.to_string());
                pass.keys
                    .push(("iam:passedtoservice".into(), "scheduler.amazonaws.com".into()));
                out.push(pass);
            }
            out
        }
        // The broker's ARN carries its name, which the call does not: any name.
        ("mq", "DescribeBroker") => vec![Authorization::on(
            &action,
            arn("mq", format!("broker:*:{}", request.param("BrokerId")?)),
        )],
        ("rds", "DescribeDBClusters") => {
            let ids = request.list("DBClusterIds");
            if ids.is_empty() {
                return Err(format!("{action} without a db-cluster-id filter: it would read every cluster"));
            }
            ids.iter()
                .map(|id| {
                    let resource = if id.starts_with("arn:") {
                        id.to_string()
                    } else {
                        arn("rds", format!("cluster:{id}"))
                    };
                    Authorization::on(&action, resource)
                })
                .collect()
        }
        ("rds", "DescribeDBSubnetGroups") => vec![Authorization::on(
            &action,
            arn("rds", format!("subgrp:{}", request.param("DBSubnetGroupName")?)),
        )],
        ("sns", "Publish") => vec![Authorization::on(
            &action,
            request.param("TopicArn")?.to_string(),
        )],
        _ => {
            return Err(format!(
                "{action}: the IAM check does not know what AWS authorizes for it (add it to tests/it/support/iam.rs)"
            ))
        }
    };
    Ok(out)
}

/// The authorization of the resource a call creates, with its request tags, and the
/// tag-on-create `ec2:CreateTags` on it when the request tags it.
fn created(
    request: &Logged,
    action: &str,
    kind: &str,
    resource: String,
    keys: Vec<(String, String)>,
) -> Result<Vec<Authorization>, String> {
    let specs = request.params["TagSpecifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut request_tags = None;
    for spec in &specs {
        match spec["ResourceType"].as_str() {
            Some(t) if t == kind => {}
            Some(other) => {
                return Err(format!(
                    "{action} tags a {other}, which it does not create (AWS answers InvalidParameterValue)"
                ))
            }
            None => return Err(format!("{action}: a TagSpecification without ResourceType")),
        }
        let pairs = spec["Tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        request_tags.get_or_insert_with(Vec::new).extend(pairs);
    }
    // Security-group-rule ARNs are only checked when the request carries tags (the SAR:
    // "only enforced when the API request includes TagSpecifications").
    if kind == "security-group-rule" && request_tags.is_none() {
        return Ok(Vec::new());
    }
    let mut out = vec![Authorization {
        action: action.to_string(),
        resource: resource.clone(),
        request_tags: request_tags.clone(),
        resource_tags: Held::Nothing,
        keys: keys.clone(),
    }];
    if let Some(tags) = request_tags {
        // CreateTags carries only its own keys: the created resource's keys are not on it.
        let create_action = action.split_once(':').map(|(_, a)| a).unwrap_or(action);
        let keys = vec![("ec2:createaction".to_string(), create_action.to_string())];
        out.push(Authorization {
            action: "ec2:CreateTags".into(),
            resource,
            request_tags: Some(tags),
            resource_tags: Held::Nothing,
            keys,
        });
    }
    Ok(out)
}

/// Whether `policy` allows `a` for `account`'s role in `region`: the decision, with the
/// request context built from every condition key the policy uses.
pub fn decide(policy: &Policy, a: &Authorization, account: &str, region: &str) -> Decision {
    let role = format!("arn:aws:iam::{account}:role/esm-guard-function");
    let mut owned: Vec<(String, Option<Vec<String>>, bool)> = Vec::new();
    for key in used_keys(policy) {
        let value = context_value(&key, a, account, region);
        owned.push((key, value.0, value.1));
    }
    let sets: Vec<Vec<&str>> = owned
        .iter()
        .map(|(_, v, _)| {
            v.as_ref()
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut context: Vec<(&str, KeyValue<'_>)> = Vec::new();
    for ((key, value, multi), set) in owned.iter().zip(&sets) {
        match value {
            Some(_) if *multi => context.push((key.as_str(), KeyValue::Set(set))),
            Some(v) => context.push((key.as_str(), KeyValue::Is(&v[0]))),
            None if known_absent(key, a) => context.push((key.as_str(), KeyValue::Absent)),
            // Unknown: left out, so a condition on it cannot allow.
            None => {}
        }
    }
    policy.evaluate(&Request {
        action: &a.action,
        principal: Principal::Aws(&role),
        resource: Some(&a.resource),
        context: &context,
    })
}

fn used_keys(policy: &Policy) -> Vec<String> {
    let mut keys: Vec<String> = policy
        .statements
        .iter()
        .flat_map(|s| s.tests.iter().map(|t| t.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `key`'s value(s) for `a` (and whether it is multivalued), `None` when not present.
fn context_value(
    key: &str,
    a: &Authorization,
    account: &str,
    region: &str,
) -> (Option<Vec<String>>, bool) {
    let tag = |tags: Option<&Vec<(String, String)>>, name: &str| {
        tags.and_then(|t| {
            t.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| vec![v.clone()])
        })
    };
    if let Some(name) = key.strip_prefix("aws:requesttag/") {
        return (tag(a.request_tags.as_ref(), name), false);
    }
    if let Some(name) = key
        .strip_prefix("aws:resourcetag/")
        .or_else(|| key.strip_prefix("ec2:resourcetag/"))
    {
        let held = match &a.resource_tags {
            Held::Read(tags) => Some(tags),
            _ => None,
        };
        return (tag(held, name), false);
    }
    match key {
        "aws:tagkeys" => (
            a.request_tags
                .as_ref()
                .map(|t| t.iter().map(|(k, _)| k.clone()).collect()),
            true,
        ),
        "aws:requestedregion" | "ec2:region" => (Some(vec![region.to_string()]), false),
        "aws:principalaccount" => (Some(vec![account.to_string()]), false),
        _ => (
            a.keys
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| vec![v.clone()]),
            false,
        ),
    }
}

/// Keys known to be absent from `a`'s context when it has no value for them: tags the
/// request or resource does not carry, and the EC2 keys of other resource types and calls.
fn known_absent(key: &str, a: &Authorization) -> bool {
    if key.starts_with("aws:requesttag/") || key == "aws:tagkeys" {
        return true;
    }
    if key.starts_with("aws:resourcetag/") || key.starts_with("ec2:resourcetag/") {
        return a.resource_tags != Held::Unread;
    }
    matches!(
        key,
        "ec2:createaction"
            | "ec2:vpceservicename"
            | "ec2:vpceserviceregion"
            | "ec2:vpcid"
            | "ec2:subnetid"
            | "ec2:securitygroupid"
            | "iam:passedtoservice"
    ) || (key.starts_with("kms:") && !a.action.starts_with("kms:"))
}

/// Every request in `log` that `policy` would not allow, one line each: the call, the
/// authorization that fails, the decision, and the statements that name the action.
pub fn denied(policy: &Policy, log: &[Logged], account: &str, tags: &ResourceTags) -> Vec<String> {
    let mut out = Vec::new();
    for (i, request) in log.iter().enumerate() {
        let authorizations = match authorizations(request, account, tags) {
            Ok(a) => a,
            Err(e) => {
                out.push(format!("request {i}: {e}"));
                continue;
            }
        };
        for a in authorizations {
            let decision = decide(policy, &a, account, &request.region);
            if decision == Decision::Allow {
                continue;
            }
            let naming: Vec<String> = policy
                .statements
                .iter()
                .filter(|s| {
                    s.allow
                        && s.actions.patterns.iter().any(|p| {
                            esm_guard::policy::glob_match(
                                &p.to_ascii_lowercase(),
                                &a.action.to_ascii_lowercase(),
                            )
                        }) != s.actions.negated
                })
                .map(|s| s.sid.clone().unwrap_or_else(|| "(no Sid)".into()))
                .collect();
            out.push(format!(
                "request {i} {}: {} on {} is not allowed ({decision:?}); statements granting {}: {}",
                request.call(),
                a.action,
                a.resource,
                a.action,
                if naming.is_empty() {
                    "none".to_string()
                } else {
                    naming.join(", ")
                }
            ));
        }
    }
    out
}
