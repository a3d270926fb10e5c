//! On-demand mode: every required service must be reachable from every ESM subnet, through
//! a private-DNS interface endpoint or (private subnets only) a working NAT gateway; in
//! provisioned mode, the on-failure destination's service still needs a path.
//! Rules: `no-service-path`, `nat-unavailable`, `nat-not-public`, `nat-cross-az`,
//! `egress-unverifiable` (routes out of the VPC), `https-egress` (NAT path),
//! `endpoint-private-dns-off`, `destination-path`. The endpoint path is `endpoints.rs`.

use std::collections::BTreeMap;

use super::flow::{report_required, Hop};
use super::path::{Peer, EPHEMERAL};
use super::services::{destination_service, one_subnet_per_az, required_services, Service};
use super::{endpoints, https_egress, nacl, Ctx, Findings, Fix, RuleId, Severity};
use crate::model::{EndpointLife, Partition, RouteTarget, Subnet, VpcEndpoint};

/// Where a subnet's default route leads.
enum DefaultRoute<'a> {
    /// An internet gateway: a public subnet.
    Public,
    None,
    Nat {
        table: &'a str,
        nat_id: &'a str,
        blackhole: bool,
    },
    /// Out of the VPC through something esm-guard cannot follow.
    Elsewhere {
        table: &'a str,
        target: &'a RouteTarget,
    },
    /// The subnet's route table (or the VPC's main one) was not in the answer.
    Unknown,
}

fn default_route<'a>(ctx: &Ctx<'_, 'a>, subnet: &Subnet) -> DefaultRoute<'a> {
    if ctx.index.route_table_of(subnet).is_none() {
        return DefaultRoute::Unknown;
    }
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

/// The interface endpoints of the mapping's VPC for `service` in the mapping's region and
/// partition (matched by full name), split by what they mean for the path.
struct Candidates<'a> {
    /// Private DNS on and not gone: the first captures the service's name for the VPC.
    capturing: Vec<&'a VpcEndpoint>,
    dns_off: Vec<&'a VpcEndpoint>,
    gone: Vec<&'a VpcEndpoint>,
    /// Endpoints for the same service of another region: they capture that region's name.
    other_region: Vec<&'a VpcEndpoint>,
}

fn candidates<'a>(ctx: &Ctx<'_, 'a>, service: &Service) -> Candidates<'a> {
    let partition = Partition::of_region(ctx.region);
    let mut c = Candidates {
        capturing: vec![],
        dns_off: vec![],
        gone: vec![],
        other_region: vec![],
    };
    for e in ctx.index.endpoints_in(&ctx.net.vpc_id).iter().copied() {
        if !e.is_interface() {
            continue;
        }
        if !partition.names_service(&e.service_name, ctx.region, service.short) {
            if e.short_service() == service.short && e.life() != EndpointLife::Gone {
                c.other_region.push(e);
            }
            continue;
        }
        match (e.life(), e.private_dns_enabled) {
            (EndpointLife::Gone, _) => c.gone.push(e),
            (_, true) => c.capturing.push(e),
            (_, false) => c.dns_off.push(e),
        }
    }
    // The one that serves best decides (AWS allows one private-DNS endpoint per name).
    c.capturing.sort_by_key(|e| {
        let rank = match e.life() {
            EndpointLife::Serving => 0,
            EndpointLife::Partial => 1,
            EndpointLife::Pending => 2,
            _ => 3,
        };
        (rank, e.id.as_str())
    });
    c
}

/// Runs the on-demand rules for every required service.
pub(crate) fn check(ctx: &Ctx<'_, '_>, findings: &mut Findings) {
    let mut nat_subnets: BTreeMap<&str, &Subnet> = BTreeMap::new();
    let mut elsewhere: BTreeMap<&str, (String, String)> = BTreeMap::new();
    let mut unknown_routes: Vec<&Subnet> = Vec::new();
    for service in required_services(ctx.esm) {
        let found = candidates(ctx, &service);
        if let Some(endpoint) = found.capturing.first() {
            endpoints::check(ctx, &service, endpoint, findings);
            continue;
        }
        for endpoint in &found.dns_off {
            findings.push(
                RuleId::EndpointPrivateDnsOff,
                Severity::Warn,
                &endpoint.id,
                vec![endpoint.id.clone()],
                format!(
                    "Interface endpoint {} for {} has private DNS disabled, so {}'s hostname does not resolve to it and it does not serve the mapping: enable private DNS on it",
                    endpoint.id, service.label, service.label
                ),
                Some(Fix::EnablePrivateDns {
                    endpoint_id: endpoint.id.clone(),
                }),
            );
        }
        let mut lacking: Vec<&Subnet> = Vec::new();
        let mut public = false;
        for subnet in &ctx.subnets {
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
                    nat_subnets.insert(&subnet.id, subnet);
                }
                DefaultRoute::Elsewhere { table, target } => {
                    elsewhere.insert(&subnet.id, (table.to_string(), target.id().to_string()));
                }
                DefaultRoute::Unknown => {
                    if !unknown_routes.iter().any(|s| s.id == subnet.id) {
                        unknown_routes.push(subnet);
                    }
                }
            }
        }
        if !lacking.is_empty() {
            no_service_path(ctx, &service, &found, &lacking, public, findings);
        }
    }

    let mut hops: Vec<Hop> = Vec::new();
    for subnet in &unknown_routes {
        hops.push(Hop::unknown(
            "ec2:DescribeRouteTables",
            &format!("the route table of subnet {}", subnet.id),
            "where its traffic to Lambda and STS goes",
        ));
    }
    for subnet in nat_subnets.values() {
        if let DefaultRoute::Nat {
            table,
            nat_id,
            blackhole,
        } = default_route(ctx, subnet)
        {
            hops.extend(check_nat(ctx, subnet, table, nat_id, blackhole, findings));
        }
    }
    for (subnet_id, (table, target)) in &elsewhere {
        findings.push(
            RuleId::EgressUnverifiable,
            Severity::Warn,
            subnet_id,
            vec![subnet_id.to_string(), table.clone(), target.clone()],
            format!(
                "Subnet {subnet_id}'s default route (route table {table}) goes to {target}, outside this VPC: esm-guard cannot verify that Lambda and STS are reachable that way; an interface endpoint with private DNS would make the path verifiable"
            ),
            None,
        );
        // Beyond the VPC it cannot be verified, but it leaves through this subnet's network
        // ACL and the mapping's groups like any other path.
        if let Some(subnet) = ctx.index.subnets.get(subnet_id) {
            hops.extend(nacl::to_outside(
                ctx,
                subnet,
                Peer::Internet,
                "the internet",
                (443, 443),
                &format!("TCP 443 to Lambda and STS through {target}"),
            ));
        }
    }
    if !nat_subnets.is_empty() || !elsewhere.is_empty() {
        hops.extend(https_egress::to_internet(ctx));
    }
    report_required(findings, &hops);
}

fn no_service_path(
    ctx: &Ctx<'_, '_>,
    service: &Service,
    found: &Candidates<'_>,
    lacking: &[&Subnet],
    public: bool,
    findings: &mut Findings,
) {
    let net = ctx.net;
    let ids: Vec<String> = lacking.iter().map(|s| s.id.clone()).collect();
    let why = if public {
        "a public subnet (default route to an internet gateway) cannot use a NAT gateway, so only an interface endpoint can serve it"
    } else {
        "there is no private-DNS interface endpoint for it and no default route to a NAT gateway"
    };
    let endpoint_service = service.endpoint_name(ctx.region);
    let nat_possible = !public;
    let alternative = if nat_possible {
        ", or route 0.0.0.0/0 to a NAT gateway in a public subnet of the same AZ"
    } else {
        ""
    };
    let mut notes = String::new();
    for e in &found.gone {
        notes.push_str(&format!(
            " (endpoint {} for it is {}: it serves nothing)",
            e.id, e.state
        ));
    }
    for e in &found.other_region {
        notes.push_str(&format!(
            " (endpoint {} serves {}, another region's service, and captures only that region's name)",
            e.id, e.service_name
        ));
    }
    let mut resources = ids.clone();
    resources.push(endpoint_service.clone());
    findings.push(
        RuleId::NoServicePath,
        Severity::Fail,
        service.short,
        resources,
        format!(
            "On-demand mode must reach {} from subnet(s) {}, but {why}: create an interface endpoint for {endpoint_service} with private DNS in the mapping's subnets and security group{alternative}{notes}",
            service.label,
            ids.join(", ")
        ),
        Some(Fix::CreateEndpoint {
            vpc_id: net.vpc_id.clone(),
            service: service.short.to_string(),
            service_name: endpoint_service.clone(),
            subnet_ids: one_subnet_per_az(&ctx.subnets),
            security_group_id: net.first_group().unwrap_or_default().to_string(),
            policy: service.guide_policy(ctx.esm.execution_role.as_deref()).ok(),
            private_dns_off: found.dns_off.first().map(|e| e.id.clone()),
            nat_possible,
            gone: found.gone.iter().map(|e| e.id.clone()).collect(),
        }),
    );
}

/// The NAT gateway a private subnet routes to, and the legs through it: the NAT must be
/// available, public and in a public subnet; the ESM subnet's and the NAT subnet's ACLs
/// must pass HTTPS out and its return (RULES.md, "Path semantics").
fn check_nat(
    ctx: &Ctx<'_, '_>,
    subnet: &Subnet,
    table: &str,
    nat_id: &str,
    blackhole: bool,
    findings: &mut Findings,
) -> Vec<Hop> {
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
        // An active route to a NAT gateway the answer does not hold: the answer is
        // incomplete, not the gateway gone (EC2 marks routes to deleted gateways blackhole).
        None => {
            return vec![Hop::unknown(
                "ec2:DescribeNatGateways",
                &format!("NAT gateway {nat_id}"),
                &format!("the NAT path of subnet {}", subnet.id),
            )]
        }
        Some(n) if !n.state.eq_ignore_ascii_case("available") => {
            Some(format!("its state is {:?}", n.state))
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        findings.push(
            RuleId::NatUnavailable,
            Severity::Fail,
            &subnet.id,
            vec![subnet.id.clone(), table.to_string(), nat_id.to_string()],
            format!(
                "Subnet {}'s default route in {table} goes to NAT gateway {nat_id}, but {problem}: create an available NAT gateway in a public subnet of {} and point 0.0.0.0/0 in {table} at it",
                subnet.id, subnet.availability_zone
            ),
            Some(fix),
        );
        return vec![];
    }
    let Some(nat) = nat else { return vec![] };
    let Some(nat_subnet) = index.subnets.get(nat.subnet_id.as_str()).copied() else {
        return vec![Hop::unknown(
            "ec2:DescribeSubnets",
            &format!("subnet {} of NAT gateway {}", nat.subnet_id, nat.id),
            &format!("the NAT path of subnet {}", subnet.id),
        )];
    };
    if !nat.connectivity_type.eq_ignore_ascii_case("public") {
        findings.push(
            RuleId::NatNotPublic,
            Severity::Fail,
            &nat.id,
            vec![nat.id.clone(), table.to_string()],
            format!(
                "NAT gateway {} (serving {} through {table}) has {} connectivity, so it cannot reach Lambda's public endpoints: use a NAT gateway with public connectivity in a public subnet",
                nat.id, subnet.id, nat.connectivity_type
            ),
            Some(fix.clone()),
        );
    } else if index.route_table_of(nat_subnet).is_none() {
        return vec![Hop::unknown(
            "ec2:DescribeRouteTables",
            &format!("the route table of subnet {}", nat_subnet.id),
            &format!("whether NAT gateway {} reaches the internet", nat.id),
        )];
    } else if !index.is_public(nat_subnet) {
        findings.push(
            RuleId::NatNotPublic,
            Severity::Fail,
            &nat.id,
            vec![nat.id.clone(), nat.subnet_id.clone()],
            format!(
                "NAT gateway {} sits in subnet {}, whose default route does not go to an internet gateway: a NAT gateway must sit in a public subnet",
                nat.id, nat.subnet_id
            ),
            Some(fix.clone()),
        );
    }
    if nat_subnet.availability_zone != subnet.availability_zone {
        findings.push(
            RuleId::NatCrossAz,
            Severity::Warn,
            &subnet.id,
            vec![subnet.id.clone(), nat.id.clone()],
            format!(
                "Subnet {} ({}) uses NAT gateway {} in {}: if that AZ fails, so does this path; the guide asks for one NAT gateway per AZ",
                subnet.id, subnet.availability_zone, nat.id, nat_subnet.availability_zone
            ),
            Some(fix),
        );
    }
    let what = format!("TCP 443 to Lambda and STS through NAT gateway {}", nat.id);
    let mut hops = nacl::to_outside(
        ctx,
        subnet,
        Peer::Internet,
        "the internet",
        (443, 443),
        &what,
    );
    let from = Peer::Net(subnet.cidr);
    hops.extend(
        [
            nacl::leg(ctx, nat_subnet, false, (443, 443), from, &subnet.id, &what),
            nacl::leg(
                ctx,
                nat_subnet,
                true,
                (443, 443),
                Peer::Internet,
                "the internet",
                &what,
            ),
            nacl::leg(
                ctx,
                nat_subnet,
                false,
                EPHEMERAL,
                Peer::Internet,
                "the internet",
                &what,
            ),
            nacl::leg(ctx, nat_subnet, true, EPHEMERAL, from, &subnet.id, &what),
        ]
        .into_iter()
        .flatten(),
    );
    hops
}

/// A gateway endpoint for S3 in the region serves a subnet whose route table routes the
/// service's prefix list to it.
fn s3_gateway_serves(ctx: &Ctx<'_, '_>, subnet: &Subnet) -> bool {
    let Some(table) = ctx.index.route_table_of(subnet) else {
        return false;
    };
    let partition = Partition::of_region(ctx.region);
    ctx.index.endpoints_in(&subnet.vpc_id).iter().any(|e| {
        e.is_gateway()
            && partition.names_service(&e.service_name, ctx.region, "s3")
            && e.life() == EndpointLife::Serving
            && (e.route_table_ids.contains(&table.id)
                || table
                    .routes
                    .iter()
                    .any(|r| r.target == RouteTarget::GatewayEndpoint(e.id.clone())))
    })
}

/// Provisioned mode: AWS's on-failure pages require a path to the destination's service
/// ("You must deploy a VPC endpoint for your on-failure destination service inside your
/// Kafka cluster VPC", https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html)
/// and do not exempt provisioned mode.
pub(crate) fn destination(ctx: &Ctx<'_, '_>, findings: &mut Findings) {
    let Some(service) = destination_service(ctx.esm) else {
        return;
    };
    let found = candidates(ctx, &service);
    if !found.capturing.is_empty() {
        return;
    }
    let lacking: Vec<&str> = ctx
        .subnets
        .iter()
        .filter(|subnet| {
            let gateway = service.short == "s3" && s3_gateway_serves(ctx, subnet);
            let nat = matches!(
                default_route(ctx, subnet),
                DefaultRoute::Nat { blackhole: false, nat_id, .. }
                    if ctx.index.nat_gateways.contains_key(nat_id)
            );
            !gateway && !nat
        })
        .map(|s| s.id.as_str())
        .collect();
    if lacking.is_empty() {
        return;
    }
    let name = service.endpoint_name(ctx.region);
    let mut resources: Vec<String> = lacking.iter().map(|s| s.to_string()).collect();
    resources.push(name.clone());
    findings.push(
        RuleId::DestinationPath,
        Severity::Warn,
        service.short,
        resources,
        format!(
            "The mapping's on-failure destination is in {}, and subnet(s) {} have no path to it (no endpoint for {name}, no NAT gateway): AWS's on-failure page says \"You must deploy a VPC endpoint for your on-failure destination service inside your Kafka cluster VPC\", in provisioned mode too; records that fail would not reach the destination",
            service.label,
            lacking.join(", ")
        ),
        None,
    );
}
