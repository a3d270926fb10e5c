//! On-demand mode: every required service must be reachable from every ESM subnet, through
//! a private-DNS interface endpoint or (private subnets only) a working NAT route.
//! Rules: `no-service-path`, `nat-unavailable`, `nat-not-public`, `nat-cross-az`,
//! `egress-unverifiable`, `https-egress` (NAT path), `endpoint-private-dns-off`.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;

use super::sg::{admits, anywhere, Peer};
use super::{endpoints, Ctx, Findings, Fix, RuleId, Severity};
use crate::model::{EventSourceMapping, RouteTarget, Subnet, VpcEndpoint};
use crate::policy;

/// A service the ESM must reach in on-demand mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The last part of the endpoint service name: `lambda`, `sts`, `secretsmanager`, ...
    pub short: &'static str,
    pub label: &'static str,
    /// What the ESM does with it, and on which resources: `(action, principal, resource)`.
    pub uses: Vec<Use>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub action: &'static str,
    /// `None`: the Lambda service principal. `Some(role)`: the execution role (empty if unknown).
    pub role: Option<String>,
    pub resource: String,
}

/// Lambda and STS always; Secrets Manager with a secret; the on-failure destination's service.
pub fn required_services(esm: &EventSourceMapping) -> Vec<Service> {
    let role = esm.execution_role.clone().unwrap_or_default();
    let mut services = vec![
        Service {
            short: "lambda",
            label: "Lambda",
            uses: vec![Use {
                action: "lambda:InvokeFunction",
                role: None,
                resource: esm.function_arn.clone(),
            }],
        },
        Service {
            short: "sts",
            label: "STS",
            uses: vec![Use {
                action: "sts:AssumeRole",
                role: None,
                resource: esm.execution_role.clone().unwrap_or_else(|| "*".into()),
            }],
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
                    role: Some(role.clone()),
                    resource: s.to_string(),
                })
                .collect(),
        });
    }
    if let Some(dest) = &esm.on_failure_destination {
        let service = dest.split(':').nth(2).unwrap_or_default();
        let found = match service {
            "sqs" => Some(("sqs", "SQS", "sqs:SendMessage", dest.clone())),
            "sns" => Some(("sns", "SNS", "sns:Publish", dest.clone())),
            "s3" => Some(("s3", "S3", "s3:PutObject", format!("{dest}/*"))),
            _ => None,
        };
        if let Some((short, label, action, resource)) = found {
            services.push(Service {
                short,
                label,
                uses: vec![Use {
                    action,
                    role: Some(role.clone()),
                    resource,
                }],
            });
        }
    }
    services
}

impl Service {
    /// The guide's restrictive endpoint policy for this service, or why none can be written.
    pub fn guide_policy(&self) -> Result<String, String> {
        if self.short == "lambda" || self.short == "sts" {
            return Ok(policy::service_principal_policy(self.uses[0].action));
        }
        if self.short == "s3" {
            return Err(
                "S3 destinations are served by a gateway endpoint, not an interface endpoint"
                    .into(),
            );
        }
        let grants: Vec<(String, String, String)> = self
            .uses
            .iter()
            .map(|u| {
                (
                    u.action.to_string(),
                    u.role.clone().unwrap_or_default(),
                    u.resource.clone(),
                )
            })
            .collect();
        if grants.iter().any(|(_, role, _)| role.is_empty()) {
            return Err("the function's execution role is not known".into());
        }
        Ok(policy::role_policy(&grants))
    }
}

enum DefaultRoute<'a> {
    Public,
    None,
    Nat {
        table: &'a str,
        nat_id: &'a str,
        blackhole: bool,
    },
    Elsewhere {
        table: &'a str,
        target: &'a RouteTarget,
    },
}

fn default_route<'a>(ctx: &Ctx<'_, 'a>, subnet: &Subnet) -> DefaultRoute<'a> {
    match ctx.index.default_route(subnet) {
        None => DefaultRoute::None,
        Some((table, route)) => match &route.target {
            RouteTarget::InternetGateway(_) if !route.is_blackhole() => DefaultRoute::Public,
            RouteTarget::NatGateway(id) => DefaultRoute::Nat {
                table: &table.id,
                nat_id: id,
                blackhole: route.is_blackhole(),
            },
            RouteTarget::InternetGateway(_) | RouteTarget::Local => DefaultRoute::None,
            target => DefaultRoute::Elsewhere {
                table: &table.id,
                target,
            },
        },
    }
}

/// Runs the on-demand rules; returns, per ESM subnet, where its TCP 443 goes (for `nacl-blocks`).
pub(crate) fn check(ctx: &Ctx<'_, '_>, findings: &mut Findings) -> Vec<(String, Vec<Ipv4Net>)> {
    let index = ctx.index;
    let net = ctx.net;
    let subnets: Vec<&Subnet> = net
        .subnet_ids
        .iter()
        .filter_map(|id| index.subnets.get(id.as_str()).copied())
        .collect();
    let mut peers: BTreeMap<String, BTreeSet<Ipv4Net>> = BTreeMap::new();
    let mut nat_subnets: BTreeSet<&str> = BTreeSet::new();
    let mut unverifiable: BTreeMap<&str, (String, String)> = BTreeMap::new();

    for service in required_services(ctx.esm) {
        let candidates: Vec<&VpcEndpoint> = index
            .endpoints_in(&net.vpc_id)
            .iter()
            .copied()
            .filter(|e| e.is_interface() && e.short_service() == service.short)
            .collect();
        let serving = candidates
            .iter()
            .filter(|e| e.private_dns_enabled)
            .min_by_key(|e| (e.state != "available", e.id.as_str()));
        if let Some(endpoint) = serving {
            endpoints::check(ctx, &service, endpoint, findings);
            let cidrs = endpoint
                .subnet_ids
                .iter()
                .filter_map(|id| index.subnets.get(id.as_str()))
                .map(|s| s.cidr);
            for subnet in &subnets {
                peers
                    .entry(subnet.id.clone())
                    .or_default()
                    .extend(cidrs.clone());
            }
            continue;
        }
        let dns_off: Vec<&&VpcEndpoint> = candidates
            .iter()
            .filter(|e| !e.private_dns_enabled)
            .collect();
        for endpoint in &dns_off {
            findings.push(
                RuleId::EndpointPrivateDnsOff,
                Severity::Warn,
                vec![endpoint.id.clone()],
                format!(
                    "Interface endpoint {} for {} has private DNS disabled, so {}'s hostname does not resolve to it and it does not serve the mapping: enable private DNS on it",
                    endpoint.id, service.label, service.label
                ),
                Fix::EnablePrivateDns { endpoint_id: endpoint.id.clone() },
            );
        }
        let mut lacking: Vec<&Subnet> = Vec::new();
        let mut public = false;
        for subnet in &subnets {
            if service.short == "s3" && s3_gateway_serves(ctx, subnet) {
                continue;
            }
            match default_route(ctx, subnet) {
                DefaultRoute::Public => {
                    public = true;
                    lacking.push(subnet);
                }
                DefaultRoute::None => lacking.push(subnet),
                DefaultRoute::Nat { .. } => {
                    nat_subnets.insert(&subnet.id);
                    peers
                        .entry(subnet.id.clone())
                        .or_default()
                        .insert(anywhere());
                }
                DefaultRoute::Elsewhere { table, target } => {
                    unverifiable.insert(&subnet.id, (table.to_string(), target.id().to_string()));
                    // Beyond the VPC it cannot be verified, but it leaves through this
                    // subnet's network ACL like any other path.
                    peers
                        .entry(subnet.id.clone())
                        .or_default()
                        .insert(anywhere());
                }
            }
        }
        if lacking.is_empty() {
            continue;
        }
        let ids: Vec<String> = lacking.iter().map(|s| s.id.clone()).collect();
        let why = if public {
            "a public subnet (default route to an internet gateway) cannot use a NAT gateway, so only an interface endpoint can serve it"
        } else {
            "there is no private-DNS interface endpoint for it and no default route to a NAT gateway"
        };
        let endpoint_service = format!("com.amazonaws.{}.{}", index.snapshot.region, service.short);
        let nat_possible = !public;
        let alternative = if nat_possible {
            ", or route 0.0.0.0/0 to a NAT gateway in a public subnet of the same AZ"
        } else {
            ""
        };
        let mut resources = ids.clone();
        resources.push(endpoint_service.clone());
        findings.push(
            RuleId::NoServicePath,
            Severity::Fail,
            resources,
            format!(
                "On-demand mode must reach {} from subnet(s) {}, but {why}: create an interface endpoint for {endpoint_service} with private DNS in the mapping's subnets and security group{alternative}",
                service.label,
                ids.join(", ")
            ),
            Fix::CreateEndpoint {
                vpc_id: net.vpc_id.clone(),
                service: service.short.to_string(),
                subnet_ids: one_subnet_per_az(&subnets),
                security_group_id: net.first_group().unwrap_or_default().to_string(),
                policy: service.guide_policy().ok(),
                private_dns_off: dns_off.first().map(|e| e.id.clone()),
                nat_possible,
            },
        );
    }

    for subnet_id in &nat_subnets {
        if let Some(subnet) = index.subnets.get(subnet_id) {
            if let DefaultRoute::Nat {
                table,
                nat_id,
                blackhole,
            } = default_route(ctx, subnet)
            {
                check_nat(ctx, subnet, table, nat_id, blackhole, findings);
            }
        }
    }
    if !nat_subnets.is_empty() {
        let anywhere = Peer {
            groups: &[],
            cidrs: vec![anywhere()],
            unknown_address: false,
        };
        if !admits(index.groups(&net.security_group_ids), true, 443, &anywhere) {
            findings.push(
                RuleId::HttpsEgress,
                Severity::Fail,
                net.security_group_ids.clone(),
                format!(
                    "The mapping's security group(s) {} let no TCP 443 out to 0.0.0.0/0, which the NAT path to Lambda and STS needs: add an outbound rule for TCP 443 to 0.0.0.0/0 on {}",
                    net.security_group_ids.join(", "),
                    net.first_group().unwrap_or_default()
                ),
                Fix::EgressAnywhere { esm_group: net.first_group().unwrap_or_default().to_string() },
            );
        }
    }
    for (subnet, (table, target)) in unverifiable {
        findings.push(
            RuleId::EgressUnverifiable,
            Severity::Warn,
            vec![subnet.to_string(), table.clone(), target.clone()],
            format!(
                "Subnet {subnet}'s default route (route table {table}) goes to {target}, outside this VPC: esm-guard cannot verify that Lambda and STS are reachable that way; an interface endpoint with private DNS would make the path verifiable"
            ),
            Fix::None,
        );
    }
    peers
        .into_iter()
        .map(|(subnet, cidrs)| (subnet, cidrs.into_iter().collect()))
        .collect()
}

fn check_nat(
    ctx: &Ctx<'_, '_>,
    subnet: &Subnet,
    table: &str,
    nat_id: &str,
    blackhole: bool,
    findings: &mut Findings,
) {
    let index = ctx.index;
    let fix = Fix::Nat {
        subnet_id: subnet.id.clone(),
        availability_zone: subnet.availability_zone.clone(),
        route_table_id: table.to_string(),
        nat_id: Some(nat_id.to_string()),
    };
    let nat = index.nat_gateways.get(nat_id);
    let problem = match nat {
        _ if blackhole => Some("the route is a blackhole".to_string()),
        None => Some("that NAT gateway does not exist".to_string()),
        Some(n) if n.state != "available" => Some(format!("its state is {:?}", n.state)),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        findings.push(
            RuleId::NatUnavailable,
            Severity::Fail,
            vec![subnet.id.clone(), table.to_string(), nat_id.to_string()],
            format!(
                "Subnet {}'s default route in {table} goes to NAT gateway {nat_id}, but {problem}: create an available NAT gateway in a public subnet of {} and point 0.0.0.0/0 in {table} at it",
                subnet.id, subnet.availability_zone
            ),
            fix,
        );
        return;
    }
    let Some(nat) = nat else { return };
    let nat_subnet = index.subnets.get(nat.subnet_id.as_str());
    if nat.connectivity_type != "public" {
        findings.push(
            RuleId::NatNotPublic,
            Severity::Fail,
            vec![nat.id.clone(), table.to_string()],
            format!(
                "NAT gateway {} (serving {} through {table}) has {} connectivity, so it cannot reach Lambda's public endpoints: use a NAT gateway with public connectivity in a public subnet",
                nat.id, subnet.id, nat.connectivity_type
            ),
            fix.clone(),
        );
    } else if !nat_subnet.is_some_and(|s| index.is_public(s)) {
        findings.push(
            RuleId::NatNotPublic,
            Severity::Fail,
            vec![nat.id.clone(), nat.subnet_id.clone()],
            format!(
                "NAT gateway {} sits in subnet {}, whose default route does not go to an internet gateway: a NAT gateway must sit in a public subnet",
                nat.id, nat.subnet_id
            ),
            fix.clone(),
        );
    }
    if let Some(nat_subnet) = nat_subnet {
        if nat_subnet.availability_zone != subnet.availability_zone {
            findings.push(
                RuleId::NatCrossAz,
                Severity::Warn,
                vec![subnet.id.clone(), nat.id.clone()],
                format!(
                    "Subnet {} ({}) uses NAT gateway {} in {}: if that AZ fails, so does this path; the guide asks for one NAT gateway per AZ",
                    subnet.id, subnet.availability_zone, nat.id, nat_subnet.availability_zone
                ),
                fix,
            );
        }
    }
}

fn s3_gateway_serves(ctx: &Ctx<'_, '_>, subnet: &Subnet) -> bool {
    let Some(table) = ctx.index.route_table_of(subnet) else {
        return false;
    };
    ctx.index.endpoints_in(&subnet.vpc_id).iter().any(|e| {
        e.is_gateway() && e.short_service() == "s3" && e.route_table_ids.contains(&table.id)
    })
}

/// One subnet per AZ (the lowest id), as an endpoint takes at most one subnet per AZ.
pub(crate) fn one_subnet_per_az(subnets: &[&Subnet]) -> Vec<String> {
    let mut by_az: BTreeMap<&str, &str> = BTreeMap::new();
    for s in subnets {
        let entry = by_az.entry(&s.availability_zone).or_insert(&s.id);
        if s.id.as_str() < *entry {
            *entry = &s.id;
        }
    }
    by_az.values().map(|s| s.to_string()).collect()
}
