//! One table of cases per direction: for every rule of RULES.md, accounts where it fires
//! (rule, severity, resources, a message naming them) and accounts where it must not.

use esm_guard::model::{GapScope, RouteTarget, Snapshot};
use esm_guard::sample::{healthy_nat_on_demand, healthy_on_demand, nacl_entry, Auth, Sample};
use esm_guard::{evaluate, RuleId, Severity};

use super::helpers::*;

/// An account, the mapping to look at, and what `rule` must report on it.
struct Fired {
    snapshot: Snapshot,
    uuid: String,
    severity: Severity,
    resources: Vec<String>,
}

struct Firing {
    rule: RuleId,
    case: &'static str,
    build: fn() -> Fired,
}

struct Quiet {
    rule: RuleId,
    case: &'static str,
    build: fn() -> (Snapshot, String),
}

fn fired(s: Sample, uuid: String, severity: Severity, resources: Vec<String>) -> Fired {
    Fired {
        snapshot: s.build(),
        uuid,
        severity,
        resources,
    }
}

/// A bare on-demand mapping in one private subnet: no NAT, no endpoints.
fn bare_private(provisioned: bool) -> (Sample, String, String, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.cluster_group(&vpc, 9098);
    let cluster = s.msk_cluster(
        std::slice::from_ref(&a),
        std::slice::from_ref(&sg),
        Auth::Iam,
    );
    let uuid = s.msk_mapping(&cluster, provisioned);
    (s, uuid, a, sg)
}

/// The NAT setup of the guide, with the ids the NAT cases need.
fn nat_setup() -> (Sample, String, String, String, String) {
    let (s, uuid) = healthy_nat_on_demand();
    let subnet = cluster_subnets(&s)[0].clone();
    let table = route_table_id(&s, &subnet);
    let nat = nat_of_table(&s, &table);
    (s, uuid, subnet, table, nat)
}

fn nat_of_table(s: &Sample, table: &str) -> String {
    s.snapshot
        .route_tables
        .iter()
        .find(|t| t.id == table)
        .and_then(|t| {
            t.routes.iter().find_map(|r| match &r.target {
                RouteTarget::NatGateway(id) => Some(id.clone()),
                _ => None,
            })
        })
        .expect("a NAT route")
}

const FIRING: &[Firing] = &[
    Firing {
        rule: RuleId::ClusterNotFound,
        case: "the mapping's cluster was deleted",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let arn = cluster_arn(&s);
            s.snapshot.clusters.clear();
            fired(s, uuid, Severity::Fail, vec![arn])
        },
    },
    Firing {
        rule: RuleId::BrokerIngress,
        case: "the cluster's group admits 443 but not 9098 from itself",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).ingress.retain(|r| r.from_port != Some(9098));
            fired(s, uuid, Severity::Fail, vec![sg])
        },
    },
    Firing {
        rule: RuleId::BrokerEgress,
        case: "the mapping's group has only 443 egress",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 443, &sg);
            fired(s, uuid, Severity::Fail, vec![sg])
        },
    },
    Firing {
        rule: RuleId::BrokerEgress,
        case: "a self-managed mapping whose group lets nothing out to the broker address",
        build: || {
            let mut s = Sample::default();
            let vpc = s.vpc();
            let a = s.private_subnet(&vpc, "us-east-1a");
            let sg = s.security_group(&vpc);
            s.sg_mut(&sg).egress.clear();
            s.allow_cidr(&sg, true, "tcp", Some((443, 443)), "0.0.0.0/0");
            s.guide_endpoints(&vpc, std::slice::from_ref(&a), std::slice::from_ref(&sg));
            s.allow_group(&sg, false, 443, &sg);
            let uuid =
                s.self_managed_mapping(&["10.0.9.10:9092"], &[a], std::slice::from_ref(&sg), false);
            fired(s, uuid, Severity::Fail, vec![sg])
        },
    },
    Firing {
        rule: RuleId::NoServicePath,
        case: "a private subnet without NAT or endpoints, on demand",
        build: || {
            let (s, uuid, a, _) = bare_private(false);
            fired(
                s,
                uuid,
                Severity::Fail,
                vec![a, "com.amazonaws.us-east-1.lambda".into()],
            )
        },
    },
    Firing {
        rule: RuleId::NatUnavailable,
        case: "the NAT gateway failed",
        build: || {
            let (mut s, uuid, subnet, table, nat) = nat_setup();
            s.nat_mut(&nat).state = "failed".into();
            fired(s, uuid, Severity::Fail, vec![subnet, table, nat])
        },
    },
    Firing {
        rule: RuleId::NatNotPublic,
        case: "the NAT gateway has private connectivity",
        build: || {
            let (mut s, uuid, _, table, nat) = nat_setup();
            s.nat_mut(&nat).connectivity_type = "private".into();
            fired(s, uuid, Severity::Fail, vec![nat, table])
        },
    },
    Firing {
        rule: RuleId::NatCrossAz,
        case: "both subnets route to the NAT gateway of us-east-1a",
        build: || {
            let (mut s, uuid, _, _, nat_a) = nat_setup();
            let b = cluster_subnets(&s)[1].clone();
            assert_eq!(s.subnet(&b).availability_zone, "us-east-1b");
            s.route_via_nat(&b, &nat_a);
            fired(s, uuid, Severity::Warn, vec![b, nat_a])
        },
    },
    Firing {
        rule: RuleId::EgressUnverifiable,
        case: "the default route goes to a transit gateway",
        build: || {
            let (mut s, uuid, a, _) = bare_private(false);
            s.set_default_route(
                &a,
                RouteTarget::TransitGateway("tgw-0123456789abcdef0".into()),
            );
            let table = route_table_id(&s, &a);
            fired(
                s,
                uuid,
                Severity::Warn,
                vec![a, table, "tgw-0123456789abcdef0".into()],
            )
        },
    },
    Firing {
        rule: RuleId::HttpsEgress,
        case: "NAT path: the group lets 9098 out to itself but no 443 to 0.0.0.0/0",
        build: || {
            let (mut s, uuid, ..) = nat_setup();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            fired(s, uuid, Severity::Fail, vec![sg])
        },
    },
    Firing {
        rule: RuleId::HttpsEgress,
        case: "endpoint path: the group lets 9098 out to itself but no 443 to the endpoint",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            let lambda = endpoint_of(&s, "lambda").id.clone();
            fired(s, uuid, Severity::Fail, vec![sg, lambda])
        },
    },
    Firing {
        rule: RuleId::EndpointUnavailable,
        case: "the Lambda endpoint reports a state EC2 does not document",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).state = "quarantined".into();
            fired(s, uuid, Severity::Fail, vec![lambda])
        },
    },
    Firing {
        rule: RuleId::EndpointPending,
        case: "the Lambda endpoint is pending",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).state = "pending".into();
            fired(s, uuid, Severity::Warn, vec![lambda])
        },
    },
    Firing {
        rule: RuleId::EndpointPending,
        case: "the STS endpoint waits for acceptance",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&sts).state = "pendingAcceptance".into();
            fired(s, uuid, Severity::Warn, vec![sts])
        },
    },
    Firing {
        rule: RuleId::PathDegraded,
        case:
            "one ACL on both subnets drops inbound 443: the other AZ's endpoint ENI is out of reach",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let subnets = subnet_ids(&s);
            let mut entries = esm_guard::sample::allow_all_entries();
            entries.push(nacl_entry(
                90,
                false,
                "6",
                false,
                "0.0.0.0/0",
                Some((443, 443)),
            ));
            let acl = s.network_acl(&vpc, &subnets, entries);
            fired(
                s,
                uuid,
                Severity::Warn,
                vec![acl, subnets[0].clone(), subnets[1].clone()],
            )
        },
    },
    Firing {
        rule: RuleId::EndpointPolicyScope,
        case: "the Lambda endpoint's policy names the function instead of Resource *",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            let function = s.mapping_mut(&uuid).function_arn.clone();
            s.endpoint_mut(&lambda).policy_document = Some(format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{function}"}}]}}"#
            ));
            fired(s, uuid, Severity::Warn, vec![lambda])
        },
    },
    Firing {
        rule: RuleId::DestinationPath,
        case: "a provisioned mapping's SQS destination has no endpoint and no NAT gateway",
        build: || {
            let (mut s, uuid, a, _) = bare_private(true);
            s.mapping_mut(&uuid).on_failure_destination =
                Some("arn:aws:sqs:us-east-1:123456789012:failures".into());
            fired(
                s,
                uuid,
                Severity::Warn,
                vec![a, "com.amazonaws.us-east-1.sqs".into()],
            )
        },
    },
    Firing {
        rule: RuleId::EndpointPrivateDnsOff,
        case: "the STS endpoint has private DNS off",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&sts).private_dns_enabled = false;
            fired(s, uuid, Severity::Warn, vec![sts])
        },
    },
    Firing {
        rule: RuleId::VpcDnsDisabled,
        case: "the VPC has DNS hostnames off",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            s.vpc_mut(&vpc).dns_hostnames = Some(false);
            fired(s, uuid, Severity::Fail, vec![vpc])
        },
    },
    Firing {
        rule: RuleId::EndpointSgIngress,
        case: "the endpoint carries its own group, which admits nothing",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let own = s.security_group(&vpc);
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).security_group_ids = vec![own.clone()];
            fired(s, uuid, Severity::Fail, vec![lambda, own])
        },
    },
    Firing {
        rule: RuleId::EndpointAzCoverage,
        case: "the endpoint has a subnet in us-east-1a only",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let a = subnet_ids(&s)[0].clone();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&sts).subnet_ids = vec![a];
            fired(s, uuid, Severity::Warn, vec![sts])
        },
    },
    Firing {
        rule: RuleId::EndpointPolicyDenies,
        case: "the Lambda endpoint's policy allows only lambda:GetFunction",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).policy_document = Some(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:GetFunction","Resource":"*"}]}"#.into(),
            );
            fired(s, uuid, Severity::Fail, vec![lambda])
        },
    },
    Firing {
        rule: RuleId::EndpointPolicyOpen,
        case: "the endpoints keep the default policy",
        build: || {
            let (s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            fired(s, uuid, Severity::Info, vec![lambda])
        },
    },
    Firing {
        rule: RuleId::NaclBlocks,
        case: "a network ACL denies 9098 out before allowing everything",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let subnets = subnet_ids(&s);
            let mut entries = esm_guard::sample::allow_all_entries();
            entries.push(nacl_entry(
                90,
                true,
                "6",
                false,
                "0.0.0.0/0",
                Some((9098, 9098)),
            ));
            let acl = s.network_acl(&vpc, &subnets, entries);
            fired(
                s,
                uuid,
                Severity::Fail,
                vec![acl, subnets[0].clone(), subnets[1].clone()],
            )
        },
    },
    Firing {
        rule: RuleId::EsmReportedProblem,
        case: "Lambda reports a connection error",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.mapping_mut(&uuid).last_processing_result = Some(
                "PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured).".into(),
            );
            fired(s, uuid.clone(), Severity::Fail, vec![uuid])
        },
    },
    Firing {
        rule: RuleId::InsufficientData,
        case: "ec2:DescribeRouteTables was denied",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.gap("ec2:DescribeRouteTables", GapScope::All);
            fired(
                s,
                uuid,
                Severity::Unknown,
                vec!["ec2:DescribeRouteTables".into()],
            )
        },
    },
    Firing {
        rule: RuleId::InsufficientData,
        case: "the VPC's DNS attributes were not read",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            s.vpc_mut(&vpc).dns_support = None;
            fired(s, uuid, Severity::Unknown, vec![vpc])
        },
    },
];

const QUIET: &[Quiet] = &[
    Quiet {
        rule: RuleId::ClusterNotFound,
        case: "the cluster exists",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::ClusterNotFound,
        case: "the cluster could not be read: unknown, not missing",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let arn = cluster_arn(&s);
            s.snapshot.clusters.clear();
            s.gap("kafka:DescribeClusterV2", GapScope::Cluster(arn));
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::BrokerIngress,
        case: "a CIDR covering both subnets admits 9098 instead of a self-reference",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).ingress.retain(|r| r.from_port != Some(9098));
            s.allow_cidr(&sg, false, "tcp", Some((9098, 9098)), "10.0.0.0/16");
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::BrokerIngress,
        case: "self-managed Kafka: the brokers' firewall is out of sight",
        build: || {
            let mut s = Sample::default();
            let vpc = s.vpc();
            let a = s.private_subnet(&vpc, "us-east-1a");
            let sg = s.security_group(&vpc);
            let uuid = s.self_managed_mapping(&["10.0.9.10:9092"], &[a], &[sg], true);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::BrokerEgress,
        case: "egress only by self-reference on 9098 and 443",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            s.allow_group(&sg, true, 443, &sg);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::BrokerEgress,
        case: "self-managed Kafka over the internet: no VPC rules",
        build: || {
            let mut s = Sample::default();
            let uuid = s.self_managed_mapping(&["kafka.example.com:9092"], &[], &[], false);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NoServicePath,
        case: "private subnets with Lambda and STS endpoints",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NoServicePath,
        case: "private subnets routed to a NAT gateway",
        build: || {
            let (s, uuid) = healthy_nat_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NoServicePath,
        case: "provisioned mode needs no path",
        build: || {
            let (s, uuid, ..) = bare_private(true);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NatUnavailable,
        case: "the NAT gateway is available",
        build: || {
            let (s, uuid) = healthy_nat_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NatUnavailable,
        case: "provisioned mode does not use the failed NAT gateway",
        build: || {
            let (mut s, uuid, _, _, nat) = nat_setup();
            s.nat_mut(&nat).state = "failed".into();
            s.mapping_mut(&uuid).provisioned_poller = Some(Default::default());
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NatUnavailable,
        case: "endpoints serve every service, so the failed NAT gateway is not on the path",
        build: || {
            let (mut s, uuid, _, _, nat) = nat_setup();
            s.nat_mut(&nat).state = "failed".into();
            let vpc = vpc_id(&s);
            let sg = first_group(&s);
            let subnets = cluster_subnets(&s);
            s.guide_endpoints(&vpc, &subnets, &[sg]);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NatNotPublic,
        case: "a public NAT gateway in a public subnet",
        build: || {
            let (s, uuid) = healthy_nat_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NatCrossAz,
        case: "one NAT gateway per AZ",
        build: || {
            let (s, uuid) = healthy_nat_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EgressUnverifiable,
        case: "a transit gateway route, but endpoints serve every service",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            for subnet in subnet_ids(&s) {
                s.set_default_route(
                    &subnet,
                    RouteTarget::TransitGateway("tgw-0123456789abcdef0".into()),
                );
            }
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EgressUnverifiable,
        case: "a transit gateway route in provisioned mode",
        build: || {
            let (mut s, uuid, a, _) = bare_private(true);
            s.set_default_route(
                &a,
                RouteTarget::TransitGateway("tgw-0123456789abcdef0".into()),
            );
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::HttpsEgress,
        case: "NAT path: 443 to 0.0.0.0/0 and 9098 to itself, nothing else",
        build: || {
            let (mut s, uuid, ..) = nat_setup();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            s.allow_cidr(&sg, true, "tcp", Some((443, 443)), "0.0.0.0/0");
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::HttpsEgress,
        case: "endpoint path: 443 to the endpoint's group only",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            s.allow_group(&sg, true, 443, &sg);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointUnavailable,
        case: "the endpoints are available",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointUnavailable,
        case: "a pending endpoint without private DNS does not serve, so it is not judged",
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let vpc = vpc_id(&s);
            let sg = first_group(&s);
            let a = subnet_ids(&s)[0].clone();
            let e = s.endpoint(&vpc, "lambda", &[a], &[sg], false);
            s.endpoint_mut(&e).state = "pending".into();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPrivateDnsOff,
        case: "an endpoint with private DNS off for a service the mapping does not need",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let sg = first_group(&s);
            let subnets = subnet_ids(&s);
            s.endpoint(&vpc, "secretsmanager", &subnets, &[sg], false);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::VpcDnsDisabled,
        case: "DNS attributes on",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::VpcDnsDisabled,
        case: "NAT path: private DNS is not needed",
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let vpc = vpc_id(&s);
            s.vpc_mut(&vpc).dns_hostnames = Some(false);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointSgIngress,
        case: "the endpoint's own group admits 443 from the subnets' CIDR",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let own = s.security_group(&vpc);
            s.allow_cidr(&own, false, "tcp", Some((443, 443)), "10.0.0.0/16");
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).security_group_ids = vec![own];
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointAzCoverage,
        case: "the endpoints have a subnet in both AZs",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPolicyDenies,
        case: "the guide's restrictive policies",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&lambda).policy_document =
                Some(guide_service_policy("lambda:InvokeFunction"));
            s.endpoint_mut(&sts).policy_document = Some(guide_service_policy("sts:AssumeRole"));
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPolicyOpen,
        case: "the guide's restrictive policies",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&lambda).policy_document =
                Some(guide_service_policy("lambda:InvokeFunction"));
            s.endpoint_mut(&sts).policy_document = Some(guide_service_policy("sts:AssumeRole"));
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NaclBlocks,
        case: "the default allow-all ACL",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::NaclBlocks,
        case: "an allow #80 of the VPC before a deny #90 of everything",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let subnets = subnet_ids(&s);
            let mut entries = esm_guard::sample::allow_all_entries();
            for egress in [false, true] {
                entries.push(nacl_entry(80, egress, "-1", true, "10.0.0.0/16", None));
                entries.push(nacl_entry(90, egress, "-1", false, "0.0.0.0/0", None));
            }
            s.network_acl(&vpc, &subnets, entries);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EsmReportedProblem,
        case: "LastProcessingResult is OK",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EsmReportedProblem,
        case: "LastProcessingResult reports no records, which is no problem",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.mapping_mut(&uuid).last_processing_result = Some("No records processed".into());
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::InsufficientData,
        case: "every fact was read",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::InsufficientData,
        case: "a gap in another VPC and another mapping",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.gap("ec2:DescribeRouteTables", GapScope::Vpc("vpc-0ther".into()));
            s.gap(
                "lambda:GetFunction",
                GapScope::Mapping("00000000-0000-4000-8000-0000000000ff".into()),
            );
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::PathDegraded,
        case: "every endpoint ENI is reachable from every mapping subnet",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::PathDegraded,
        case: "the ACL that drops inbound 443 sits on a subnet with no endpoint ENI",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let other = s.private_subnet(&vpc, "us-east-1c");
            let mut entries = esm_guard::sample::allow_all_entries();
            entries.push(nacl_entry(
                90,
                false,
                "6",
                false,
                "0.0.0.0/0",
                Some((443, 443)),
            ));
            s.network_acl(&vpc, &[other], entries);
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPending,
        case: "the endpoints are available",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPending,
        case: "a pending endpoint for another region's Lambda captures nothing here",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let subnets = subnet_ids(&s);
            let sg = first_group(&s);
            let other = s.endpoint(&vpc, "lambda", &subnets[..1], &[sg], true);
            s.endpoint_mut(&other).service_name = "com.amazonaws.us-west-2.lambda".into();
            s.endpoint_mut(&other).state = "pending".into();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPolicyScope,
        case: "the guide's policies: the Lambda service principal on Resource *",
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            for service in ["lambda", "sts"] {
                let id = endpoint_of(&s, service).id.clone();
                let action = if service == "lambda" {
                    "lambda:InvokeFunction"
                } else {
                    "sts:AssumeRole"
                };
                s.endpoint_mut(&id).policy_document = Some(guide_service_policy(action));
            }
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::EndpointPolicyScope,
        case: "the default full-access policy",
        build: || {
            let (s, uuid) = healthy_on_demand();
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::DestinationPath,
        case: "a provisioned mapping's SQS destination behind an SQS endpoint",
        build: || {
            let (mut s, uuid, a, sg) = bare_private(true);
            let vpc = vpc_id(&s);
            s.endpoint(&vpc, "sqs", &[a], &[sg], true);
            s.mapping_mut(&uuid).on_failure_destination =
                Some("arn:aws:sqs:us-east-1:123456789012:failures".into());
            (s.build(), uuid)
        },
    },
    Quiet {
        rule: RuleId::DestinationPath,
        case: "a provisioned mapping without a destination",
        build: || {
            let (s, uuid, _, _) = bare_private(true);
            (s.build(), uuid)
        },
    },
];

#[test]
fn every_rule_fires_as_described() {
    let mut failures = Vec::new();
    for case in FIRING {
        let f = (case.build)();
        let report = evaluate(&f.snapshot);
        if let Err(e) = check_finding(&report, &f.uuid, case.rule, f.severity, &f.resources) {
            failures.push(format!("{} / {}: {e}", case.rule, case.case));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn no_rule_fires_where_its_requirement_holds() {
    let mut failures = Vec::new();
    for case in QUIET {
        let (snapshot, uuid) = (case.build)();
        let report = evaluate(&snapshot);
        let found = findings(&report, &uuid, case.rule);
        if !found.is_empty() {
            failures.push(format!(
                "{} fired although {}: {found:#?}",
                case.rule, case.case
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A new rule without a firing and a quiet case fails here.
#[test]
fn every_rule_id_has_a_firing_and_a_quiet_case() {
    for rule in RuleId::ALL {
        assert!(
            FIRING.iter().any(|c| c.rule == *rule),
            "{rule} has no firing case in engine::rules::FIRING"
        );
        assert!(
            QUIET.iter().any(|c| c.rule == *rule),
            "{rule} has no quiet case in engine::rules::QUIET"
        );
    }
    assert_eq!(RuleId::ALL.len(), 23, "RULES.md lists 23 rules");
}

/// One home per rule: the file the id table names holds the check (it builds the rule's
/// finding outside its tests), and `explain` says what it checks, why and how to fix it.
#[test]
fn every_rule_id_has_its_check_where_the_table_says_and_an_explanation() {
    let root = env!("CARGO_MANIFEST_DIR");
    for rule in RuleId::ALL {
        let path = format!("{root}/{}", rule.home());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{rule}: its home {path} cannot be read: {e}"));
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let variant = format!("RuleId::{rule:?}");
        assert!(
            code.contains(&variant),
            "{rule}: its home {} does not build {variant}",
            rule.home()
        );
        let e = esm_guard::rules::explain(*rule);
        for (field, value) in [("checks", e.checks), ("why", e.why), ("fix", e.fix)] {
            assert!(value.len() > 20, "{rule}: explain has no {field}");
        }
    }
}

/// ARCHITECTURE.md's table of rule homes is the id table's.
#[test]
fn architecture_names_each_rules_home() {
    let text = std::fs::read_to_string(format!("{}/ARCHITECTURE.md", env!("CARGO_MANIFEST_DIR")))
        .expect("ARCHITECTURE.md");
    let rows: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() == 4 && cells[1].starts_with('`') && cells[2].starts_with("`src/rules/"))
                .then(|| {
                    (
                        cells[1].trim_matches('`').to_string(),
                        cells[2].trim_matches('`').to_string(),
                    )
                })
        })
        .collect();
    let expected: Vec<(String, String)> = RuleId::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.home().to_string()))
        .collect();
    assert_eq!(rows, expected);
}

/// The firing table must not fire by accident: each case's account, with the one change
/// undone, is the healthy baseline, which passes.
#[test]
fn the_baselines_pass() {
    for (s, uuid) in [healthy_on_demand(), healthy_nat_on_demand()] {
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, esm_guard::Verdict::Pass, "{m:#?}");
        assert!(
            m.findings.iter().all(|f| f.severity == Severity::Info),
            "{m:#?}"
        );
    }
}

/// Rule ids are a public contract: they parse back and serialize as their kebab-case text.
#[test]
fn rule_ids_round_trip() {
    for rule in RuleId::ALL {
        assert_eq!(RuleId::parse(rule.as_str()), Some(*rule));
        let json = serde_json::to_string(rule).unwrap();
        assert_eq!(json, format!("\"{}\"", rule.as_str()));
        assert_eq!(serde_json::from_str::<RuleId>(&json).unwrap(), *rule);
        assert_eq!(esm_guard::rules::explain(*rule).rule, *rule);
    }
    assert!(serde_json::from_str::<RuleId>("\"no-such-rule\"").is_err());
}
