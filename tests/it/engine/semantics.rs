//! The semantics the rules rest on: which path serves a service, NAT gateways, security
//! groups, network ACLs, endpoint policies, verdicts, determinism and the snapshot format.

use std::collections::BTreeMap;

use esm_guard::model::*;
use esm_guard::plan::plan;
use esm_guard::sample::{
    allow_all_entries, healthy_nat_on_demand, healthy_on_demand, nacl_entry, Auth, Sample, ACCOUNT,
};
use esm_guard::{evaluate, RuleId, Severity, Verdict};

use super::helpers::*;

// ---------------------------------------------------------------------------------------
// Which path serves a service
// ---------------------------------------------------------------------------------------

/// The NAT setup plus Lambda and STS endpoints with private DNS.
fn nat_and_endpoints() -> (Sample, String) {
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let sg = first_group(&s);
    let subnets = cluster_subnets(&s);
    s.guide_endpoints(&vpc, &subnets, &[sg]);
    (s, uuid)
}

#[test]
fn a_private_dns_endpoint_captures_its_service_even_beside_a_working_nat_route() {
    let (s, uuid) = nat_and_endpoints();
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Pass);

    type Break = fn(&mut Sample, &str);
    let breaks: [(&str, Break, RuleId); 3] = [
        (
            "in a state EC2 does not document",
            |s, e| s.endpoint_mut(e).state = "quarantined".into(),
            RuleId::EndpointUnavailable,
        ),
        (
            "a group without 443",
            |s, e| {
                let vpc = vpc_id(s);
                let bare = s.security_group(&vpc);
                s.endpoint_mut(e).security_group_ids = vec![bare];
            },
            RuleId::EndpointSgIngress,
        ),
        (
            "a policy denying the invoke",
            |s, e| {
                s.endpoint_mut(e).policy_document = Some(
                    r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"lambda:InvokeFunction","Resource":"*"}]}"#.into(),
                )
            },
            RuleId::EndpointPolicyDenies,
        ),
    ];
    for (what, break_it, rule) in breaks {
        let (mut s, uuid) = nat_and_endpoints();
        let lambda = endpoint_of(&s, "lambda").id.clone();
        break_it(&mut s, &lambda);
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, Verdict::Fail, "endpoint {what}: {m:#?}");
        let found = findings(&report, &uuid, rule);
        assert!(
            found
                .iter()
                .any(|f| f.resources.contains(&lambda) && f.severity == Severity::Fail),
            "endpoint {what}: {m:#?}"
        );
        // The NAT path is fine and is not what is judged.
        for nat_rule in [
            RuleId::NatUnavailable,
            RuleId::NatNotPublic,
            RuleId::NoServicePath,
        ] {
            assert!(
                findings(&report, &uuid, nat_rule).is_empty(),
                "endpoint {what}: {m:#?}"
            );
        }
    }

    // Pending, it still captures the name: a warning while it comes up, not the NAT path.
    let (mut s, uuid) = nat_and_endpoints();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).state = "pending".into();
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Warn);
    assert_finding(
        &report,
        &uuid,
        RuleId::EndpointPending,
        Severity::Warn,
        std::slice::from_ref(&lambda),
    );

    // Gone (deleted, failed, rejected, expired, deleting), it captures nothing: the NAT
    // path serves, as if it were not there.
    for state in [
        "deleted", "deleting", "failed", "rejected", "expired", "Deleted",
    ] {
        let (mut s, uuid) = nat_and_endpoints();
        let lambda = endpoint_of(&s, "lambda").id.clone();
        s.endpoint_mut(&lambda).state = state.into();
        let bare = s.security_group(&vpc_id(&s));
        s.endpoint_mut(&lambda).security_group_ids = vec![bare];
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, Verdict::Pass, "{state}: {m:#?}");
        assert!(
            m.findings.iter().all(|f| !f.resources.contains(&lambda)),
            "{state}: {m:#?}"
        );
    }
}

#[test]
fn an_endpoint_without_private_dns_does_not_serve() {
    // A broken Lambda endpoint with private DNS off beside a working NAT path: the NAT
    // path serves, the endpoint is not judged, and the switch is flagged.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let subnets = cluster_subnets(&s);
    let bare = s.security_group(&vpc);
    let lambda = s.endpoint(&vpc, "lambda", &subnets, &[bare], false);
    s.endpoint_mut(&lambda).state = "pending".into();
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Warn, "{m:#?}");
    assert_eq!(rules_of(&report, &uuid), [RuleId::EndpointPrivateDnsOff]);
    assert_finding(
        &report,
        &uuid,
        RuleId::EndpointPrivateDnsOff,
        Severity::Warn,
        std::slice::from_ref(&lambda),
    );

    // The NAT path is the one judged: without 443 to 0.0.0.0/0 it is https-egress in its
    // NAT form (all the mapping's groups, no endpoint).
    let sg = first_group(&s);
    s.sg_mut(&sg).egress.clear();
    s.allow_group(&sg, true, 9098, &sg);
    s.allow_group(&sg, true, 443, &bare_of(&s, &lambda));
    let report = evaluate(&s.build());
    assert_finding(&report, &uuid, RuleId::HttpsEgress, Severity::Fail, &[sg]);

    // Without the NAT route, the endpoint without private DNS leaves no path at all.
    let (mut s, uuid) = healthy_on_demand();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).private_dns_enabled = false;
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    assert!(findings(&report, &uuid, RuleId::NoServicePath)
        .iter()
        .any(|f| f
            .resources
            .contains(&"com.amazonaws.us-east-1.lambda".to_string())));
    assert_finding(
        &report,
        &uuid,
        RuleId::EndpointPrivateDnsOff,
        Severity::Warn,
        &[lambda],
    );
}

fn bare_of(s: &Sample, endpoint: &str) -> String {
    s.snapshot
        .vpc_endpoints
        .iter()
        .find(|e| e.id == endpoint)
        .map(|e| e.security_group_ids[0].clone())
        .unwrap()
}

#[test]
fn a_public_subnet_cannot_use_a_nat_gateway() {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let public = s.public_subnet(&vpc, "us-east-1a");
    let (_, nat) = s.public_nat(&vpc, "us-east-1a");
    let sg = s.cluster_group(&vpc, 9098);
    let cluster = s.msk_cluster(
        std::slice::from_ref(&public),
        std::slice::from_ref(&sg),
        Auth::Iam,
    );
    let uuid = s.msk_mapping(&cluster, false);
    let report = evaluate(&s.build());
    let missing = findings(&report, &uuid, RuleId::NoServicePath);
    assert_eq!(missing.len(), 2, "Lambda and STS: {missing:#?}");
    for f in &missing {
        assert!(f.resources.contains(&public));
        assert!(f.message.contains("public subnet"), "{}", f.message);
        assert!(!f.message.contains(&nat));
    }
    // No NAT rule judges a NAT gateway the subnet does not use.
    for rule in [
        RuleId::NatUnavailable,
        RuleId::NatNotPublic,
        RuleId::NatCrossAz,
    ] {
        assert!(findings(&report, &uuid, rule).is_empty());
    }
    // The plan creates endpoints; it does not suggest a NAT gateway.
    let actions = plan(&s.build(), &report);
    assert!(actions.iter().any(|a| a.automatic
        && matches!(&a.kind, esm_guard::plan::ActionKind::CreateInterfaceEndpoint { service_name, .. } if service_name.ends_with(".lambda"))));
    assert!(actions
        .iter()
        .all(|a| !a.command.contains("create-nat-gateway")));
}

// ---------------------------------------------------------------------------------------
// The NAT path
// ---------------------------------------------------------------------------------------

#[test]
fn nat_path_failures() {
    struct Case {
        what: &'static str,
        /// Breaks the path of the mapping's first subnet; returns the expected resources.
        apply: fn(&mut Sample, &str, &str, &str) -> Vec<String>,
        rule: RuleId,
        severity: Severity,
        verdict: Verdict,
    }
    let cases = [
        Case {
            what: "the route is a blackhole",
            apply: |s, subnet, table, nat| {
                s.route_table_of(subnet).routes.iter_mut().for_each(|r| {
                    if r.destination == "0.0.0.0/0" {
                        r.state = "blackhole".into()
                    }
                });
                vec![subnet.into(), table.into(), nat.into()]
            },
            rule: RuleId::NatUnavailable,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            what: "the NAT gateway failed",
            apply: |s, subnet, table, nat| {
                s.nat_mut(nat).state = "failed".into();
                vec![subnet.into(), table.into(), nat.into()]
            },
            rule: RuleId::NatUnavailable,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            what: "the NAT gateway is pending",
            apply: |s, subnet, table, nat| {
                s.nat_mut(nat).state = "pending".into();
                vec![subnet.into(), table.into(), nat.into()]
            },
            rule: RuleId::NatUnavailable,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            // EC2 marks a route to a deleted NAT gateway blackhole (and stops listing the
            // gateway after a while).
            what: "the NAT gateway was deleted",
            apply: |s, subnet, table, nat| {
                s.snapshot.nat_gateways.retain(|n| n.id != nat);
                for r in &mut s.route_table_of(subnet).routes {
                    if r.destination == "0.0.0.0/0" {
                        r.state = "blackhole".into();
                    }
                }
                vec![subnet.into(), table.into(), nat.into()]
            },
            rule: RuleId::NatUnavailable,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            what: "the NAT gateway has private connectivity",
            apply: |s, _, table, nat| {
                s.nat_mut(nat).connectivity_type = "private".into();
                vec![nat.into(), table.into()]
            },
            rule: RuleId::NatNotPublic,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            what: "the NAT gateway sits in a private subnet",
            apply: |s, subnet, _, _| {
                let vpc = vpc_id(s);
                let private = s.private_subnet(&vpc, "us-east-1a");
                let nat = s.nat(&private);
                s.route_via_nat(subnet, &nat);
                vec![nat, private]
            },
            rule: RuleId::NatNotPublic,
            severity: Severity::Fail,
            verdict: Verdict::Fail,
        },
        Case {
            what: "the NAT gateway is in another AZ",
            apply: |s, subnet, _, _| {
                let vpc = vpc_id(s);
                let (_, far) = s.public_nat(&vpc, "us-east-1c");
                s.route_via_nat(subnet, &far);
                vec![subnet.into(), far]
            },
            rule: RuleId::NatCrossAz,
            severity: Severity::Warn,
            verdict: Verdict::Warn,
        },
    ];
    for case in cases {
        let (mut s, uuid) = healthy_nat_on_demand();
        let subnet = cluster_subnets(&s)[0].clone();
        let table = route_table_id(&s, &subnet);
        let nat = nat_route_of(&s, &table);
        let resources = (case.apply)(&mut s, &subnet, &table, &nat);
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, case.verdict, "{}: {m:#?}", case.what);
        if let Err(e) = check_finding(&report, &uuid, case.rule, case.severity, &resources) {
            panic!("{}: {e}", case.what);
        }
        assert!(
            findings(&report, &uuid, RuleId::NoServicePath).is_empty(),
            "{}",
            case.what
        );
    }
}

fn nat_route_of(s: &Sample, table: &str) -> String {
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
        .unwrap()
}

#[test]
fn a_default_route_leaving_the_vpc_is_unverifiable_neither_pass_nor_fail() {
    let targets = [
        RouteTarget::TransitGateway("tgw-0a".into()),
        RouteTarget::VpcPeering("pcx-0a".into()),
        RouteTarget::VirtualPrivateGateway("vgw-0a".into()),
        RouteTarget::NetworkInterface("eni-0a".into()),
        RouteTarget::Instance("i-0a".into()),
    ];
    for target in targets {
        let (mut s, uuid) = healthy_nat_on_demand();
        let subnets = cluster_subnets(&s);
        for subnet in &subnets {
            s.set_default_route(subnet, target.clone());
        }
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, Verdict::Warn, "{target:?}: {m:#?}");
        assert_eq!(
            rules_of(&report, &uuid),
            [RuleId::EgressUnverifiable],
            "{target:?}"
        );
        for subnet in &subnets {
            let table = route_table_id(&s, subnet);
            assert_finding(
                &report,
                &uuid,
                RuleId::EgressUnverifiable,
                Severity::Warn,
                &[subnet.clone(), table, target.id().to_string()],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------

/// An on-demand IAM mapping with endpoints whose cluster group admits only `ingress`.
fn with_cluster_ingress(ingress: Vec<SgRule>) -> (Sample, String, String) {
    let (mut s, uuid) = healthy_on_demand();
    let sg = first_group(&s);
    s.sg_mut(&sg).ingress = ingress;
    (s, uuid, sg)
}

fn tcp(from: i32, to: i32) -> SgRule {
    SgRule {
        protocol: "tcp".into(),
        from_port: Some(from),
        to_port: Some(to),
        ..SgRule::default()
    }
}

#[test]
fn the_all_traffic_protocol_counts() {
    let (s, uuid, sg) = with_cluster_ingress(vec![]);
    let report = evaluate(&s.build());
    assert_finding(
        &report,
        &uuid,
        RuleId::BrokerIngress,
        Severity::Fail,
        std::slice::from_ref(&sg),
    );

    let all_from_self = SgRule {
        protocol: "-1".into(),
        group_ids: vec![sg.clone()],
        ..SgRule::default()
    };
    let (mut s, uuid, sg) = with_cluster_ingress(vec![all_from_self.clone()]);
    s.sg_mut(&sg).egress = vec![all_from_self];
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Pass, "{m:#?}");
}

#[test]
fn port_ranges_count() {
    for (from, to, admitted) in [
        (9000, 9100, true),
        (9098, 9098, true),
        (9000, 9097, false),
        (9099, 9100, false),
    ] {
        let mut rule = tcp(from, to);
        let (mut s, uuid, sg) = with_cluster_ingress(vec![]);
        rule.group_ids = vec![sg.clone()];
        s.sg_mut(&sg).ingress = vec![rule, {
            let mut https = tcp(443, 443);
            https.group_ids = vec![sg.clone()];
            https
        }];
        let fired = fires(&s.build(), &uuid, RuleId::BrokerIngress);
        assert_eq!(fired, !admitted, "ingress {from}-{to}");
    }
}

#[test]
fn a_referenced_group_admits_enis_carrying_it() {
    // The cluster carries two groups; the first admits 9098 from the second.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let first = s.security_group(&vpc);
    let second = s.security_group(&vpc);
    let stranger = s.security_group(&vpc);
    s.allow_group(&first, false, 9098, &second);
    let cluster = s.msk_cluster(&[a], &[first.clone(), second.clone()], Auth::Iam);
    let uuid = s.msk_mapping(&cluster, true);
    assert!(!fires(&s.build(), &uuid, RuleId::BrokerIngress));

    // A rule referencing a group the ENIs do not carry admits nothing.
    s.sg_mut(&first).ingress[0].group_ids = vec![stranger];
    let report = evaluate(&s.build());
    assert_finding(
        &report,
        &uuid,
        RuleId::BrokerIngress,
        Severity::Fail,
        &[first, second],
    );
}

#[test]
fn cidrs_admit_a_subnet_when_together_they_hold_all_of_it() {
    // The mapping's subnets are 10.0.0.0/24 (us-east-1a) and 10.0.1.0/24 (us-east-1b).
    #[derive(Debug, PartialEq)]
    enum Admits {
        All,
        None,
        /// Part of a subnet: an ENI may or may not get an address inside (RULES.md).
        Part,
    }
    let cases = [
        (&["10.0.0.0/16"][..], Admits::All),
        (&["10.0.0.0/23"][..], Admits::All),
        (&["10.0.0.0/24", "10.0.1.0/24"][..], Admits::All),
        (&["0.0.0.0/0"][..], Admits::All),
        (
            &["10.0.0.0/25", "10.0.0.128/25", "10.0.1.0/24"][..],
            Admits::All,
        ),
        (&["10.0.0.0/24"][..], Admits::None),
        (&["10.1.0.0/16"][..], Admits::None),
        (&["10.0.0.0/25", "10.0.1.0/24"][..], Admits::Part),
    ];
    for (cidrs, admits) in cases {
        let (mut s, uuid, sg) = with_cluster_ingress(vec![]);
        assert_eq!(
            s.subnet(&cluster_subnets(&s)[0]).cidr.to_string(),
            "10.0.0.0/24"
        );
        s.allow_group(&sg, false, 443, &sg);
        for cidr in cidrs {
            s.allow_cidr(&sg, false, "tcp", Some((9098, 9098)), cidr);
        }
        let report = evaluate(&s.build());
        let fired = !findings(&report, &uuid, RuleId::BrokerIngress).is_empty();
        let unprovable = !findings(&report, &uuid, RuleId::EgressUnverifiable).is_empty();
        let verdict = mapping(&report, &uuid).verdict;
        match admits {
            Admits::All => assert_eq!(verdict, Verdict::Pass, "ingress from {cidrs:?}"),
            Admits::None => assert!(fired && verdict == Verdict::Fail, "ingress from {cidrs:?}"),
            Admits::Part => assert!(
                !fired && unprovable && verdict == Verdict::Warn,
                "ingress from {cidrs:?}: {report:#?}"
            ),
        }
    }
}

#[test]
fn the_broker_port_follows_the_auth_type() {
    enum Kind {
        Msk(Auth, Option<&'static str>),
        Serverless,
        SelfManaged(&'static [&'static str]),
    }
    let cases: [(&str, Kind, &[u16]); 8] = [
        ("IAM", Kind::Msk(Auth::Iam, None), &[9098]),
        (
            "SASL/SCRAM with a secret",
            Kind::Msk(Auth::Scram, None),
            &[9096],
        ),
        ("TLS", Kind::Msk(Auth::Tls, None), &[9094]),
        (
            "mTLS with a client certificate",
            Kind::Msk(Auth::Iam, Some("CLIENT_CERTIFICATE_TLS_AUTH")),
            &[9094],
        ),
        (
            "SCRAM secret on an IAM cluster",
            Kind::Msk(Auth::Iam, Some("SASL_SCRAM_512_AUTH")),
            &[9096],
        ),
        ("plaintext", Kind::Msk(Auth::Plaintext, None), &[9092]),
        ("serverless", Kind::Serverless, &[9098]),
        (
            "self-managed",
            Kind::SelfManaged(&[
                "10.0.0.10:9092",
                "10.0.1.10:9096",
                "b-3.kafka.internal:9092",
            ]),
            &[9092, 9096],
        ),
    ];
    for (label, kind, ports) in cases {
        for right in [true, false] {
            let mut s = Sample::default();
            let vpc = s.vpc();
            let subnets = vec![
                s.private_subnet(&vpc, "us-east-1a"),
                s.private_subnet(&vpc, "us-east-1b"),
            ];
            // The group admits and lets out the expected port(s), or 9097 (no auth's port).
            let sg = s.security_group(&vpc);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, false, 443, &sg);
            s.allow_group(&sg, true, 443, &sg);
            let admitted: Vec<u16> = if right { ports.to_vec() } else { vec![9097] };
            for port in &admitted {
                s.allow_group(&sg, false, *port, &sg);
                s.allow_group(&sg, true, *port, &sg);
                s.allow_cidr(
                    &sg,
                    true,
                    "tcp",
                    Some((i32::from(*port), i32::from(*port))),
                    "10.0.0.0/16",
                );
            }
            s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
            s.endpoint(
                &vpc,
                "secretsmanager",
                &subnets,
                std::slice::from_ref(&sg),
                true,
            );
            let uuid = match kind {
                Kind::Msk(auth, extra) => {
                    let c = s.msk_cluster(&subnets, std::slice::from_ref(&sg), auth);
                    let uuid = s.msk_mapping(&c, false);
                    if let Some(kind) = extra {
                        let secret =
                            format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:extra");
                        s.mapping_mut(&uuid).source_access = vec![SourceAccess {
                            kind: kind.into(),
                            uri: secret,
                        }];
                    }
                    uuid
                }
                Kind::Serverless => {
                    let c = s.serverless_cluster(&subnets, std::slice::from_ref(&sg));
                    s.msk_mapping(&c, false)
                }
                Kind::SelfManaged(servers) => {
                    s.self_managed_mapping(servers, &subnets, std::slice::from_ref(&sg), false)
                }
            };
            let report = evaluate(&s.build());
            let m = mapping(&report, &uuid);
            assert_eq!(m.network.as_ref().unwrap().broker_ports, ports, "{label}");
            let rule = if matches!(kind, Kind::SelfManaged(_)) {
                RuleId::BrokerEgress
            } else {
                RuleId::BrokerIngress
            };
            let found = findings(&report, &uuid, rule);
            if right && label == "self-managed" {
                // A broker named by host name may be at any address: a rule to 10.0.0.0/16
                // cannot prove it is reached (RULES.md: unprovable is a warning).
                assert_eq!(m.verdict, Verdict::Warn, "{label}: {m:#?}");
                assert_eq!(
                    rules_of(&report, &uuid),
                    [RuleId::EgressUnverifiable, RuleId::EndpointPolicyOpen]
                );
                assert!(findings(&report, &uuid, RuleId::EgressUnverifiable)
                    .iter()
                    .all(|f| f.message.contains("b-3.kafka.internal")));
            } else if right {
                assert_eq!(m.verdict, Verdict::Pass, "{label}: {m:#?}");
            } else {
                assert!(
                    !found.is_empty(),
                    "{label}: {rule} must fire when only 9097 is open: {m:#?}"
                );
                for port in ports {
                    assert!(
                        found
                            .iter()
                            .any(|f| f.message.contains(&format!("TCP {port}"))),
                        "{label}: no {rule} names TCP {port}: {found:#?}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Network ACLs
// ---------------------------------------------------------------------------------------

/// The healthy on-demand mapping (two subnets, endpoints in both) under one custom ACL.
fn under_acl(entries: Vec<NaclEntry>) -> (Snapshot, String, String) {
    let (mut s, uuid) = healthy_on_demand();
    let vpc = vpc_id(&s);
    let subnets = subnet_ids(&s);
    let acl = s.network_acl(&vpc, &subnets, entries);
    (s.build(), uuid, acl)
}

#[test]
fn the_lowest_rule_number_wins() {
    let mut deny_first = allow_all_entries();
    for egress in [false, true] {
        deny_first.push(nacl_entry(90, egress, "-1", false, "10.0.0.0/16", None));
    }
    let (snap, uuid, acl) = under_acl(deny_first);
    let report = evaluate(&snap);
    let found = findings(&report, &uuid, RuleId::NaclBlocks);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|f| f.resources.contains(&acl) && f.message.contains("rule #90 denies it")),
        "{found:#?}"
    );
    assert_eq!(found.len(), 1, "one finding for the one ACL: {found:#?}");

    let mut allow_first = allow_all_entries();
    for egress in [false, true] {
        allow_first.push(nacl_entry(80, egress, "-1", true, "10.0.0.0/16", None));
        allow_first.push(nacl_entry(90, egress, "-1", false, "10.0.0.0/16", None));
    }
    let (snap, uuid, _) = under_acl(allow_first);
    assert_eq!(mapping(&evaluate(&snap), &uuid).verdict, Verdict::Pass);

    // Rule numbers, not list order, decide.
    let mut reversed = allow_all_entries();
    for egress in [false, true] {
        reversed.insert(0, nacl_entry(90, egress, "-1", false, "10.0.0.0/16", None));
        reversed.push(nacl_entry(80, egress, "-1", true, "10.0.0.0/16", None));
    }
    let (snap, uuid, _) = under_acl(reversed);
    assert_eq!(mapping(&evaluate(&snap), &uuid).verdict, Verdict::Pass);
}

#[test]
fn return_traffic_on_the_ephemeral_ports_must_pass() {
    // One subnet for the mapping, the endpoints in a neighbour: 443 crosses the ACL.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.cluster_group(&vpc, 9098);
    s.guide_endpoints(&vpc, std::slice::from_ref(&b), std::slice::from_ref(&sg));
    let cluster = s.msk_cluster(std::slice::from_ref(&a), &[sg], Auth::Iam);
    let uuid = s.msk_mapping(&cluster, false);
    let stateful_thinking = vec![
        nacl_entry(100, true, "6", true, "10.0.0.0/16", Some((443, 443))),
        nacl_entry(100, false, "6", true, "10.0.0.0/16", Some((443, 443))),
    ];
    let acl = s.network_acl(&vpc, std::slice::from_ref(&a), stateful_thinking);
    let report = evaluate(&s.build());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::NaclBlocks,
        Severity::Fail,
        &[acl.clone(), a.clone()],
    );
    assert!(
        found.message.contains("return traffic") && found.message.contains("1024-65535"),
        "{}",
        found.message
    );
    assert_eq!(
        found.fixes,
        vec![esm_guard::rules::Fix::NaclEntry {
            acl_id: acl.clone(),
            egress: false,
            port_from: 1024,
            port_to: 65535,
            cidr: s.subnet(&b).cidr.to_string(),
            above: 0,
            below: 32767,
        }]
    );

    // Allowing the ephemeral ports in clears it.
    s.snapshot
        .network_acls
        .iter_mut()
        .find(|x| x.id == acl)
        .unwrap()
        .entries
        .push(nacl_entry(
            110,
            false,
            "6",
            true,
            "10.0.0.0/16",
            Some((1024, 65535)),
        ));
    assert!(!fires(&s.build(), &uuid, RuleId::NaclBlocks));

    // And the outbound request itself must pass too.
    s.snapshot
        .network_acls
        .iter_mut()
        .find(|x| x.id == acl)
        .unwrap()
        .entries
        .retain(|e| !(e.egress && e.port_from == Some(443)));
    let report = evaluate(&s.build());
    let found = findings(&report, &uuid, RuleId::NaclBlocks);
    assert!(
        found.iter().any(|f| f.message.contains("outbound TCP 443")),
        "{found:#?}"
    );
}

#[test]
fn an_acl_blocking_443_on_the_nat_path_blocks() {
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let subnets = cluster_subnets(&s);
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        90,
        true,
        "6",
        false,
        "0.0.0.0/0",
        Some((443, 443)),
    ));
    let acl = s.network_acl(&vpc, &subnets, entries);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Fail, "{m:#?}");
    // One finding for the ACL, naming every subnet it blocks.
    let mut resources = vec![acl.clone()];
    resources.extend(subnets.iter().cloned());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::NaclBlocks,
        Severity::Fail,
        &resources,
    );
    assert!(found.message.contains("TCP 443"), "{}", found.message);
    assert!(
        found.message.contains("rule #90 denies it"),
        "{}",
        found.message
    );

    // The return traffic from the internet must come back in as well.
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        90,
        false,
        "6",
        false,
        "0.0.0.0/0",
        Some((1024, 65535)),
    ));
    let (mut s, uuid) = healthy_nat_on_demand();
    s.network_acl(&vpc, &subnets, entries);
    let report = evaluate(&s.build());
    let found = findings(&report, &uuid, RuleId::NaclBlocks);
    assert!(
        found
            .iter()
            .any(|f| f.message.contains("return traffic of TCP 443")),
        "{found:#?}"
    );
}

#[test]
fn an_unverifiable_path_still_crosses_the_subnets_acl() {
    // Beyond the transit gateway nothing can be verified, but an ACL of the mapping's own
    // subnet that drops the return traffic breaks the path before it leaves the VPC.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let subnets = cluster_subnets(&s);
    for subnet in &subnets {
        s.set_default_route(subnet, RouteTarget::TransitGateway("tgw-0a".into()));
    }
    assert_eq!(mapping(&evaluate(&s.build()), &uuid).verdict, Verdict::Warn);
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        90,
        false,
        "6",
        false,
        "0.0.0.0/0",
        Some((1024, 65535)),
    ));
    let acl = s.network_acl(&vpc, &subnets, entries);
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let found = findings(&report, &uuid, RuleId::NaclBlocks);
    for subnet in &subnets {
        assert!(
            found.iter().any(|f| f.resources.contains(&acl)
                && f.resources.contains(subnet)
                && f.message.contains(&format!(
                    "the return traffic of TCP 443 to Lambda and STS through tgw-0a: inbound TCP 1024-65535 from the internet at subnet {subnet}"
                ))),
            "{found:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Endpoint policies, through the engine
// ---------------------------------------------------------------------------------------

struct PolicyAccount {
    s: Sample,
    uuid: String,
    role: String,
    secret: String,
    function: String,
}

/// A SCRAM cluster on demand with Lambda, STS and Secrets Manager endpoints.
fn policy_account() -> PolicyAccount {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let subnets = vec![
        s.private_subnet(&vpc, "us-east-1a"),
        s.private_subnet(&vpc, "us-east-1b"),
    ];
    let sg = s.cluster_group(&vpc, 9096);
    s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
    s.endpoint(
        &vpc,
        "secretsmanager",
        &subnets,
        std::slice::from_ref(&sg),
        true,
    );
    let cluster = s.msk_cluster(&subnets, &[sg], Auth::Scram);
    let uuid = s.msk_mapping(&cluster, false);
    let esm = s.snapshot.mappings[0].clone();
    PolicyAccount {
        role: esm.execution_role.clone().unwrap(),
        secret: esm.secret_arns()[0].to_string(),
        function: esm.function_arn.clone(),
        s,
        uuid,
    }
}

#[test]
fn endpoint_policies_through_the_engine() {
    struct Case {
        what: &'static str,
        service: &'static str,
        /// The policy, from (role, secret, function).
        policy: fn(&str, &str, &str) -> serde_json::Value,
        /// The severity of endpoint-policy-denies, or None when it must not fire.
        denies: Option<Severity>,
    }
    use serde_json::json;
    let allow = |action: &str, principal: serde_json::Value, resource: &str| json!({"Effect": "Allow", "Action": action, "Principal": principal, "Resource": resource});
    let _ = allow;
    let cases = [
        Case {
            what: "Allow * to *",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "*", "Principal": "*", "Resource": "*"}]}),
            denies: None,
        },
        Case {
            what: "lambda:*",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:*", "Principal": {"Service": "lambda.amazonaws.com"}, "Resource": "*"}]}),
            denies: None,
        },
        Case {
            what: "lambda:Invoke*",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:Invoke*", "Principal": "*", "Resource": "*"}]}),
            denies: None,
        },
        Case {
            what: "actions are case-insensitive",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "Lambda:invokefunction", "Principal": "*", "Resource": "*"}]}),
            denies: None,
        },
        Case {
            what: "lambda:Get* only",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Principal": "*", "Resource": "*"}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "Deny wins over Allow *",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Principal": "*", "Resource": "*"},
            {"Sid": "NoInvoke", "Effect": "Deny", "Action": "lambda:Invoke*", "Principal": "*", "Resource": "*"}]})
            },
            denies: Some(Severity::Fail),
        },
        Case {
            what: "the function's ARN as resource",
            service: "lambda",
            policy: |_, _, f| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Resource": f}]}),
            denies: None,
        },
        Case {
            what: "a resource wildcard matching the function",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:consumer-*"}]}),
            denies: None,
        },
        Case {
            what: "a resource wildcard missing the function",
            service: "lambda",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "arn:aws:lambda:*:*:function:producer-*"}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "the execution role instead of the Lambda service principal",
            service: "lambda",
            policy: |r, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": {"AWS": r}, "Resource": "*"}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "the guide's STS policy",
            service: "sts",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Resource": "*"}]}),
            denies: None,
        },
        Case {
            what: "STS for another service principal",
            service: "sts",
            policy: |_, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}, "Resource": "*"}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "the guide's Secrets Manager policy",
            service: "secretsmanager",
            policy: |r, s, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": {"AWS": [r]}, "Resource": s}]}),
            denies: None,
        },
        Case {
            what: "Secrets Manager for the account",
            service: "secretsmanager",
            policy: |_, s, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": {"AWS": "123456789012"}, "Resource": s}]}),
            denies: None,
        },
        Case {
            what: "Secrets Manager for another role",
            service: "secretsmanager",
            policy: |_, s, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": {"AWS": "arn:aws:iam::123456789012:role/someone-else"}, "Resource": s}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "Secrets Manager for the Lambda service principal",
            service: "secretsmanager",
            policy: |_, s, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": {"Service": "lambda.amazonaws.com"}, "Resource": s}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "a secret wildcard matching",
            service: "secretsmanager",
            policy: |r, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Principal": {"AWS": r}, "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_*"}]}),
            denies: None,
        },
        Case {
            what: "a secret wildcard missing",
            service: "secretsmanager",
            policy: |r, _, _| json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": {"AWS": r}, "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-*"}]}),
            denies: Some(Severity::Fail),
        },
        Case {
            what: "an allow under a condition",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/vpc-0conditioned": "yes"}}}]})
            },
            denies: Some(Severity::Warn),
        },
        Case {
            what: "a deny under a condition",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Principal": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/vpc-0conditioned": "yes"}}}]})
            },
            denies: Some(Severity::Warn),
        },
        // The VPC and the endpoint a request comes through are known: their keys decide.
        Case {
            what: "an allow from this VPC only",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-00000000000000001"}}}]})
            },
            denies: None,
        },
        Case {
            what: "an allow from another VPC only",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-0conditioned"}}}]})
            },
            denies: Some(Severity::Fail),
        },
        Case {
            what: "a deny outside another VPC (which this request is)",
            service: "lambda",
            policy: |_, _, _| {
                json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Principal": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Principal": "*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-0conditioned"}}}]})
            },
            denies: Some(Severity::Fail),
        },
        Case {
            what:
                "STS only for principals of the organization: the Lambda service principal has none",
            service: "sts",
            policy: |_, _, _| {
                json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]})
            },
            denies: Some(Severity::Fail),
        },
        Case {
            what: "Secrets Manager for principals of this account (the role's)",
            service: "secretsmanager",
            policy: |_, s, _| {
                json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Principal": "*", "Resource": s,
            "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]})
            },
            denies: None,
        },
    ];
    for case in cases {
        let mut a = policy_account();
        let endpoint = endpoint_of(&a.s, case.service).id.clone();
        let policy = (case.policy)(&a.role, &a.secret, &a.function).to_string();
        a.s.endpoint_mut(&endpoint).policy_document = Some(policy.clone());
        let report = evaluate(&a.s.build());
        let found: Vec<_> = findings(&report, &a.uuid, RuleId::EndpointPolicyDenies)
            .into_iter()
            .filter(|f| f.resources == [endpoint.clone()])
            .collect();
        let m = mapping(&report, &a.uuid);
        // The guide's Lambda and STS policies use "Resource": "*": a narrower one works
        // today and is flagged (endpoint-policy-scope).
        let scoped = [
            "the function's ARN as resource",
            "a resource wildcard matching the function",
        ]
        .contains(&case.what);
        match case.denies {
            None if scoped => {
                assert!(found.is_empty(), "{}: {found:#?}", case.what);
                assert_eq!(m.verdict, Verdict::Warn, "{}: {m:#?}", case.what);
                assert_finding(
                    &report,
                    &a.uuid,
                    RuleId::EndpointPolicyScope,
                    Severity::Warn,
                    std::slice::from_ref(&endpoint),
                );
            }
            None => {
                assert!(found.is_empty(), "{}: {found:#?}", case.what);
                assert_eq!(m.verdict, Verdict::Pass, "{}: {m:#?}", case.what);
            }
            Some(severity) => {
                assert_eq!(found.len(), 1, "{}: {m:#?}", case.what);
                let f = found[0];
                assert_eq!(f.severity, severity, "{}: {f:#?}", case.what);
                assert!(f.message.contains(&endpoint), "{}", f.message);
                assert_eq!(
                    m.verdict,
                    if severity == Severity::Fail {
                        Verdict::Fail
                    } else {
                        Verdict::Warn
                    },
                    "{}",
                    case.what
                );
                if severity == Severity::Warn {
                    // Quoting the condition, never counting it as an allow.
                    assert!(
                        f.message.contains("aws:PrincipalTag")
                            && f.message.contains("vpc-0conditioned"),
                        "{}",
                        f.message
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------

#[test]
fn verdict_precedence_fail_unknown_warn_pass() {
    use Severity::*;
    #[rustfmt::skip]
    let table: [(&[Severity], Verdict); 9] = [
        (&[], Verdict::Pass),
        (&[Info], Verdict::Pass),
        (&[Info, Info], Verdict::Pass),
        (&[Warn, Info], Verdict::Warn),
        (&[Unknown, Warn], Verdict::Unknown),
        (&[Warn, Unknown, Info], Verdict::Unknown),
        (&[Fail, Unknown], Verdict::Fail),
        (&[Warn, Fail], Verdict::Fail),
        (&[Info, Warn, Unknown, Fail], Verdict::Fail),
    ];
    for (severities, verdict) in table {
        assert_eq!(
            Verdict::from_severities(severities.iter().copied()),
            verdict,
            "{severities:?}"
        );
    }
}

#[test]
fn verdicts_through_the_engine() {
    // info only: pass.
    let (s, uuid) = healthy_on_demand();
    let report = evaluate(&s.build());
    assert_eq!(rules_of(&report, &uuid), [RuleId::EndpointPolicyOpen]);
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Pass);

    // warn + info: warn.
    let (mut s, uuid) = healthy_on_demand();
    let a = cluster_subnets(&s)[0].clone();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).subnet_ids = vec![a];
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Warn);

    // warn + unknown (DNS attributes unread): unknown.
    let vpc = vpc_id(&s);
    s.vpc_mut(&vpc).dns_hostnames = None;
    let report = evaluate(&s.build());
    assert_eq!(
        rules_of(&report, &uuid),
        [
            RuleId::EndpointAzCoverage,
            RuleId::EndpointPolicyOpen,
            RuleId::InsufficientData
        ]
    );
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Unknown);

    // + fail: fail.
    let sg = first_group(&s);
    s.sg_mut(&sg).ingress.clear();
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    assert!(!findings(&report, &uuid, RuleId::InsufficientData).is_empty());
}

#[test]
fn a_data_gap_makes_the_verdict_unknown_never_pass() {
    let (mut s, uuid) = healthy_on_demand();
    s.gap("ec2:DescribeNetworkAcls", GapScope::All);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Unknown);
    let f = assert_finding(
        &report,
        &uuid,
        RuleId::InsufficientData,
        Severity::Unknown,
        &["ec2:DescribeNetworkAcls".into()],
    );
    assert!(f.message.contains("AccessDenied"), "{}", f.message);
    assert_eq!(report.summary.unknown, 1);

    // A mapping that would fail on its network is unknown when facts are missing...
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.security_group(&vpc);
    let c = s.msk_cluster(&[a], &[sg], Auth::Iam);
    let uuid = s.msk_mapping(&c, false);
    assert_eq!(mapping(&evaluate(&s.build()), &uuid).verdict, Verdict::Fail);
    s.gap("ec2:DescribeRouteTables", GapScope::Vpc(vpc));
    assert_eq!(
        mapping(&evaluate(&s.build()), &uuid).verdict,
        Verdict::Unknown
    );

    // ...and fails when a fail does not hang on the missing facts.
    s.mapping_mut(&uuid).last_processing_result = Some("PROBLEM: Connection error.".into());
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    assert_eq!(
        rules_of(&report, &uuid),
        [RuleId::EsmReportedProblem, RuleId::InsufficientData]
    );
}

#[test]
fn a_gap_covers_the_mappings_of_its_scope_only() {
    // Two mappings in two VPCs.
    let mut s = Sample::default();
    let mut uuids = Vec::new();
    for _ in 0..2 {
        let vpc = s.vpc();
        let a = s.private_subnet(&vpc, "us-east-1a");
        let sg = s.cluster_group(&vpc, 9098);
        let c = s.msk_cluster(&[a], &[sg], Auth::Iam);
        uuids.push(s.msk_mapping(&c, true));
    }
    let first = s.snapshot.mappings[0].clone();
    let scopes = [
        GapScope::Vpc(s.snapshot.vpcs[0].id.clone()),
        GapScope::Cluster(first.cluster_arn().unwrap().to_string()),
        GapScope::Mapping(first.uuid.clone()),
        GapScope::Function(first.function_arn.clone()),
    ];
    assert_eq!(evaluate(&s.build()).summary.pass, 2);
    for scope in scopes {
        let mut s = s.clone();
        s.gap("ec2:DescribeSecurityGroups", scope.clone());
        let report = evaluate(&s.build());
        assert_eq!(
            mapping(&report, &uuids[0]).verdict,
            Verdict::Unknown,
            "{scope:?}"
        );
        assert_eq!(
            mapping(&report, &uuids[1]).verdict,
            Verdict::Pass,
            "{scope:?}"
        );
    }
    let mut s = s.clone();
    s.gap("ec2:DescribeSecurityGroups", GapScope::All);
    assert_eq!(evaluate(&s.build()).summary.unknown, 2);
}

#[test]
fn a_subnet_that_was_not_returned_is_unknown_not_pass() {
    let (mut s, uuid) = healthy_on_demand();
    let gone = cluster_subnets(&s)[1].clone();
    s.snapshot.subnets.retain(|x| x.id != gone);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
    let f = &findings(&report, &uuid, RuleId::InsufficientData)[0];
    assert!(f.message.contains(&gone), "{}", f.message);
}

// ---------------------------------------------------------------------------------------
// Determinism and the snapshot format
// ---------------------------------------------------------------------------------------

/// Several mappings of every kind, healthy and not, across two VPCs.
pub fn rich() -> Sample {
    let (mut s, _) = healthy_on_demand();
    let vpc = vpc_id(&s);
    // A NAT-path mapping beside it, one of whose subnets uses the NAT of the other AZ.
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1b");
    let (_, nat) = s.public_nat(&vpc, "us-east-1a");
    s.route_via_nat(&a, &nat);
    s.route_via_nat(&b, &nat);
    let sg = s.cluster_group(&vpc, 9096);
    let c = s.msk_cluster(
        &[a.clone(), b.clone()],
        std::slice::from_ref(&sg),
        Auth::Scram,
    );
    s.msk_mapping(&c, false);
    s.msk_mapping(&c, true);
    // A second VPC: a public cluster without endpoints, a serverless cluster, a
    // self-managed mapping, and an ACL that blocks return traffic.
    let vpc2 = s.vpc();
    let p = s.public_subnet(&vpc2, "us-east-1a");
    let q = s.private_subnet(&vpc2, "us-east-1b");
    let sg2 = s.cluster_group(&vpc2, 9094);
    let sg3 = s.security_group(&vpc2);
    let c2 = s.msk_cluster(
        &[p.clone(), q.clone()],
        std::slice::from_ref(&sg2),
        Auth::Tls,
    );
    let broken = s.msk_mapping(&c2, false);
    s.mapping_mut(&broken).on_failure_destination =
        Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"));
    let sl = s.serverless_cluster(std::slice::from_ref(&q), std::slice::from_ref(&sg3));
    s.msk_mapping(&sl, false);
    s.self_managed_mapping(
        &["10.1.0.10:9092", "kafka.internal:9092"],
        std::slice::from_ref(&q),
        &[sg3],
        false,
    );
    s.self_managed_mapping(&["kafka.example.com:9096"], &[], &[], false);
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        50,
        false,
        "6",
        false,
        "0.0.0.0/0",
        Some((1024, 65535)),
    ));
    s.network_acl(&vpc2, &[q], entries);
    s.set_default_route(&p, RouteTarget::InternetGateway(s.igw_of(&vpc2)));
    let lambda2 = s.endpoint(&vpc2, "lambda", &[p], &[sg2], false);
    s.endpoint_mut(&lambda2).state = "pending".into();
    // A mapping whose path leaves through a transit gateway: warn only.
    let r = s.private_subnet(&vpc2, "us-east-1c");
    s.set_default_route(
        &r,
        RouteTarget::TransitGateway("tgw-0123456789abcdef0".into()),
    );
    let sg4 = s.cluster_group(&vpc2, 9098);
    let c4 = s.msk_cluster(&[r], &[sg4], Auth::Iam);
    s.msk_mapping(&c4, false);
    s
}

fn shuffled(mut snap: Snapshot) -> Snapshot {
    fn mix<T>(v: &mut [T]) {
        v.reverse();
        if v.len() > 2 {
            v.rotate_left(1);
        }
    }
    mix(&mut snap.mappings);
    mix(&mut snap.clusters);
    mix(&mut snap.vpcs);
    mix(&mut snap.subnets);
    mix(&mut snap.route_tables);
    mix(&mut snap.internet_gateways);
    mix(&mut snap.nat_gateways);
    mix(&mut snap.vpc_endpoints);
    mix(&mut snap.security_groups);
    mix(&mut snap.network_acls);
    mix(&mut snap.gaps);
    snap
}

#[test]
fn evaluation_and_planning_are_deterministic() {
    let snap = rich().build();
    let report = evaluate(&snap);
    assert!(
        report.summary.fail > 0 && report.summary.pass > 0 && report.summary.warn > 0,
        "{:?}",
        report.summary
    );
    assert_eq!(evaluate(&snap), report);
    let other = shuffled(snap.clone());
    assert_ne!(other, snap);
    assert_eq!(evaluate(&other), report);
    let actions = plan(&snap, &report);
    assert_eq!(plan(&snap, &report), actions);
    assert_eq!(plan(&other, &evaluate(&other)), actions);
    assert_eq!(
        esm_guard::report::to_json(&evaluate(&other), &plan(&other, &evaluate(&other))),
        esm_guard::report::to_json(&report, &actions)
    );
}

/// Every route target kind; a new kind fails to compile here until it is added.
fn every_route_target() -> Vec<RouteTarget> {
    let all = vec![
        RouteTarget::Local,
        RouteTarget::InternetGateway("igw-1".into()),
        RouteTarget::EgressOnlyInternetGateway("eigw-1".into()),
        RouteTarget::NatGateway("nat-1".into()),
        RouteTarget::TransitGateway("tgw-1".into()),
        RouteTarget::VpcPeering("pcx-1".into()),
        RouteTarget::VirtualPrivateGateway("vgw-1".into()),
        RouteTarget::NetworkInterface("eni-1".into()),
        RouteTarget::Instance("i-1".into()),
        RouteTarget::LocalGateway("lgw-1".into()),
        RouteTarget::CarrierGateway("cagw-1".into()),
        RouteTarget::CoreNetwork("arn:aws:networkmanager::1:core-network/core-network-1".into()),
        RouteTarget::GatewayEndpoint("vpce-1".into()),
        RouteTarget::Unknown("something-new".into()),
    ];
    for t in &all {
        match t {
            RouteTarget::Local
            | RouteTarget::InternetGateway(_)
            | RouteTarget::EgressOnlyInternetGateway(_)
            | RouteTarget::NatGateway(_)
            | RouteTarget::TransitGateway(_)
            | RouteTarget::VpcPeering(_)
            | RouteTarget::VirtualPrivateGateway(_)
            | RouteTarget::NetworkInterface(_)
            | RouteTarget::Instance(_)
            | RouteTarget::LocalGateway(_)
            | RouteTarget::CarrierGateway(_)
            | RouteTarget::CoreNetwork(_)
            | RouteTarget::GatewayEndpoint(_)
            | RouteTarget::Unknown(_) => {}
        }
    }
    all
}

#[test]
fn a_snapshot_survives_json() {
    let mut s = rich();
    let vpc = vpc_id(&s);
    let table = s.snapshot.route_tables.iter_mut().find(|t| t.main).unwrap();
    for (i, target) in every_route_target().into_iter().enumerate() {
        table.routes.push(Route {
            destination: format!("192.168.{i}.0/24"),
            target,
            state: if i % 2 == 0 {
                "active".into()
            } else {
                "blackhole".into()
            },
        });
    }
    table.routes.push(Route {
        destination: "pl-63a5400a".into(),
        target: RouteTarget::GatewayEndpoint("vpce-s3".into()),
        state: "active".into(),
    });
    let sub = &mut s.snapshot.subnets[0];
    sub.ipv6_cidrs = vec!["2600:1f18:1234:5600::/64".parse().unwrap()];
    let sg = first_group(&s);
    let g = s.sg_mut(&sg);
    g.tags = BTreeMap::from([("Name".into(), "brokers".into())]);
    g.ingress.push(SgRule {
        protocol: "udp".into(),
        from_port: Some(53),
        to_port: Some(53),
        ipv4_ranges: vec!["10.0.0.0/16".parse().unwrap()],
        ipv6_ranges: vec!["::/0".parse().unwrap()],
        group_ids: vec![],
        prefix_list_ids: vec!["pl-12345678".into()],
    });
    let acl = &mut s.snapshot.network_acls[0];
    acl.entries.push(NaclEntry {
        rule_number: 101,
        egress: true,
        protocol: "-1".into(),
        allow: true,
        cidr: None,
        ipv6_cidr: Some("::/0".parse().unwrap()),
        port_from: None,
        port_to: None,
    });
    let mut gateway = s.snapshot.vpc_endpoints[0].clone();
    gateway.id = "vpce-gw".into();
    gateway.endpoint_type = "Gateway".into();
    gateway.service_name = "com.amazonaws.us-east-1.s3".into();
    gateway.route_table_ids = vec![s.snapshot.route_tables[0].id.clone()];
    gateway.policy_document = Some(super::helpers::guide_service_policy("s3:PutObject"));
    gateway.tags = BTreeMap::from([("esm-guard:managed".into(), "true".into())]);
    s.snapshot.vpc_endpoints.push(gateway);
    for (i, scope) in [
        GapScope::All,
        GapScope::Vpc(vpc),
        GapScope::Cluster("arn:aws:kafka:us-east-1:123456789012:cluster/x/1".into()),
        GapScope::Mapping("00000000-0000-4000-8000-0000000000aa".into()),
        GapScope::Function("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
    ]
    .into_iter()
    .enumerate()
    {
        s.gap(&format!("ec2:Describe{i}"), scope);
    }
    let m = &mut s.snapshot.mappings[0];
    m.tags = BTreeMap::from([("team".into(), "orders".into())]);
    m.provisioned_poller = Some(ProvisionedPollerConfig {
        minimum_pollers: Some(1),
        maximum_pollers: None,
    });
    let snap = s.build();
    assert!(snap
        .clusters
        .iter()
        .any(|c| matches!(c.kind, ClusterKind::Serverless { .. })));
    assert!(snap
        .mappings
        .iter()
        .any(|m| matches!(m.source, EventSource::SelfManaged { .. })));

    let json = serde_json::to_string_pretty(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    // Every route target kind made it through under its own tag.
    for target in every_route_target() {
        let tag = serde_json::to_value(&target).unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(json.contains(&format!("\"kind\": \"{tag}\"")), "{tag}");
    }
    assert_eq!(evaluate(&back), evaluate(&snap));
}

#[test]
fn a_minimal_snapshot_takes_defaults() {
    // What an older or hand-written snapshot may omit.
    let text = r#"{"region": "eu-west-1", "mappings": [{"uuid": "u-1", "function_arn": "arn:aws:lambda:eu-west-1:1:function:f",
        "source": {"kind": "self-managed", "bootstrap_servers": ["kafka.example.com:9092"]}}]}"#;
    let snap: Snapshot = serde_json::from_str(text).unwrap();
    let report = evaluate(&snap);
    assert_eq!(report.region, "eu-west-1");
    assert_eq!(mapping(&report, "u-1").verdict, Verdict::Pass);
    assert_eq!(
        mapping(&report, "u-1")
            .network
            .as_ref()
            .unwrap()
            .broker_ports,
        [9092]
    );
}
