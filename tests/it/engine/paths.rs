//! Every hop of the path (issue 12): the ACLs of the NAT gateway's and the endpoints'
//! subnets, endpoints by full service name and by state, prefix lists, policy scope, the
//! internet as a set of unknown addresses. Each case is a layout a careful network engineer
//! would try, with the verdict and the finding RULES.md gives.

use esm_guard::model::*;
use esm_guard::plan::{plan, ActionKind};
use esm_guard::sample::{
    allow_all_entries, healthy_nat_on_demand, healthy_on_demand, nacl_entry, Auth, Sample,
};
use esm_guard::{evaluate, RuleId, Severity, Verdict};

use super::helpers::*;

/// The NAT gateways of the healthy NAT account, with their (public) subnets.
fn nat_subnets(s: &Sample) -> Vec<String> {
    s.snapshot
        .nat_gateways
        .iter()
        .map(|n| n.subnet_id.clone())
        .collect()
}

#[test]
fn an_acl_on_the_nat_gateways_subnet_that_lets_only_high_ports_out_blocks_443() {
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let publics = nat_subnets(&s);
    let mut entries = vec![
        nacl_entry(100, false, "-1", true, "0.0.0.0/0", None),
        nacl_entry(100, true, "6", true, "0.0.0.0/0", Some((1024, 65535))),
    ];
    entries.extend([
        nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
    ]);
    let acl = s.network_acl(&vpc, &publics, entries);
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let mut resources = vec![acl.clone()];
    resources.extend(publics.iter().cloned());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::NaclBlocks,
        Severity::Fail,
        &resources,
    );
    assert!(
        found
            .message
            .contains("outbound TCP 443 to the internet at subnet"),
        "{}",
        found.message
    );
    // The manual step opens exactly TCP 443 to the internet, outbound, on that ACL.
    let actions = plan(&s.build(), &report);
    assert!(
        actions.iter().any(|a| a.command.contains(&format!(
            "--network-acl-id {acl} --egress --rule-number 101 --protocol tcp --port-range From=443,To=443 --cidr-block 0.0.0.0/0"
        ))),
        "{actions:#?}"
    );
}

#[test]
fn the_nat_subnets_acl_must_pass_the_return_traffic_both_ways() {
    // In from the internet on the ephemeral ports, out to the mapping's subnet on them.
    for egress in [false, true] {
        let (mut s, uuid) = healthy_nat_on_demand();
        let vpc = vpc_id(&s);
        let publics = nat_subnets(&s);
        let mut entries = allow_all_entries();
        entries.push(nacl_entry(
            50,
            egress,
            "6",
            false,
            "0.0.0.0/0",
            Some((1024, 65535)),
        ));
        s.network_acl(&vpc, &publics, entries);
        let report = evaluate(&s.build());
        assert_eq!(
            mapping(&report, &uuid).verdict,
            Verdict::Fail,
            "egress {egress}"
        );
        let found = findings(&report, &uuid, RuleId::NaclBlocks);
        assert!(
            found
                .iter()
                .any(|f| f.message.contains("the return traffic of TCP 443")),
            "{found:#?}"
        );
    }
}

#[test]
fn an_acl_that_drops_443_on_the_endpoints_own_subnets_fails_the_endpoint_path() {
    // Endpoints in subnets of their own: every pair crosses their ACL.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1b");
    let ea = s.private_subnet(&vpc, "us-east-1a");
    let eb = s.private_subnet(&vpc, "us-east-1b");
    let sg = s.cluster_group(&vpc, 9098);
    let endpoint_subnets = vec![ea.clone(), eb.clone()];
    s.guide_endpoints(&vpc, &endpoint_subnets, std::slice::from_ref(&sg));
    let cluster = s.msk_cluster(&[a, b], std::slice::from_ref(&sg), Auth::Iam);
    let uuid = s.msk_mapping(&cluster, false);
    assert_eq!(mapping(&evaluate(&s.build()), &uuid).verdict, Verdict::Pass);

    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        90,
        false,
        "6",
        false,
        "0.0.0.0/0",
        Some((443, 443)),
    ));
    let acl = s.network_acl(&vpc, &endpoint_subnets, entries);
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::NaclBlocks,
        Severity::Fail,
        &[acl, ea, eb],
    );
    assert!(
        found.message.contains("inbound TCP 443"),
        "{}",
        found.message
    );
}

#[test]
fn one_shared_acl_that_drops_443_degrades_the_path_across_azs() {
    // The guide's layout: endpoints in the cluster's subnets. Within a subnet no ACL
    // applies, but the name resolves to the ENIs in both AZs.
    let (mut s, uuid) = healthy_on_demand();
    let vpc = vpc_id(&s);
    let subnets = subnet_ids(&s);
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(
        90,
        false,
        "6",
        false,
        "10.0.0.0/16",
        Some((443, 443)),
    ));
    let acl = s.network_acl(&vpc, &subnets, entries);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Warn, "{m:#?}");
    let mut resources = vec![acl];
    resources.extend(subnets.iter().cloned());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::PathDegraded,
        Severity::Warn,
        &resources,
    );
    assert!(
        found.message.contains("rule #90 denies it"),
        "{}",
        found.message
    );
    assert!(findings(&report, &uuid, RuleId::NaclBlocks).is_empty());
}

#[test]
fn another_regions_endpoint_does_not_serve() {
    // Lambda is one of PrivateLink's cross-region services: com.amazonaws.us-west-2.lambda
    // in a us-east-1 VPC captures lambda.us-west-2.amazonaws.com only.
    let (mut s, uuid) = healthy_on_demand();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).service_name = "com.amazonaws.us-west-2.lambda".into();
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let subnets = subnet_ids(&s);
    let mut resources = subnets.clone();
    resources.push("com.amazonaws.us-east-1.lambda".into());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::NoServicePath,
        Severity::Fail,
        &resources,
    );
    assert!(
        found.message.contains(&lambda) && found.message.contains("another region"),
        "{}",
        found.message
    );

    // Beside a working NAT path, the NAT path serves: pass.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let subnets = cluster_subnets(&s);
    let sg = first_group(&s);
    let other = s.endpoint(&vpc, "lambda", &subnets, &[sg], true);
    s.endpoint_mut(&other).service_name = "com.amazonaws.us-west-2.lambda".into();
    let bare = s.security_group(&vpc);
    s.endpoint_mut(&other).security_group_ids = vec![bare];
    assert_eq!(mapping(&evaluate(&s.build()), &uuid).verdict, Verdict::Pass);
}

#[test]
fn lambda_and_sts_policies_must_use_resource_star() {
    for (service, action) in [
        ("lambda", "lambda:InvokeFunction"),
        ("sts", "sts:AssumeRole"),
    ] {
        let (mut s, uuid) = healthy_on_demand();
        let id = endpoint_of(&s, service).id.clone();
        let esm = s.mapping_mut(&uuid).clone();
        let resource = if service == "lambda" {
            esm.function_arn.clone()
        } else {
            esm.execution_role.clone().unwrap()
        };
        s.endpoint_mut(&id).policy_document = Some(format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"{action}","Resource":"{resource}"}}]}}"#
        ));
        let report = evaluate(&s.build());
        assert_eq!(mapping(&report, &uuid).verdict, Verdict::Warn, "{service}");
        assert_finding(
            &report,
            &uuid,
            RuleId::EndpointPolicyScope,
            Severity::Warn,
            std::slice::from_ref(&id),
        );
    }
}

#[test]
fn an_sts_policy_gets_one_verdict_whether_or_not_a_secret_is_in_use() {
    // The STS policy names the execution role: with and without a secret the role is
    // known, and the verdict is the same (a scope warning, never "allows it in no
    // statement").
    let mut verdicts = Vec::new();
    for auth in [Auth::Iam, Auth::Scram] {
        let mut s = Sample::default();
        let vpc = s.vpc();
        let a = s.private_subnet(&vpc, "us-east-1a");
        let sg = s.cluster_group(&vpc, if auth == Auth::Iam { 9098 } else { 9096 });
        let subnets = vec![a];
        s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
        s.endpoint(
            &vpc,
            "secretsmanager",
            &subnets,
            std::slice::from_ref(&sg),
            true,
        );
        let cluster = s.msk_cluster(&subnets, std::slice::from_ref(&sg), auth);
        let uuid = s.msk_mapping(&cluster, false);
        let role = s.mapping_mut(&uuid).execution_role.clone().unwrap();
        let sts = endpoint_of(&s, "sts").id.clone();
        s.endpoint_mut(&sts).policy_document = Some(format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole","Resource":"{role}"}}]}}"#
        ));
        let report = evaluate(&s.build());
        assert!(findings(&report, &uuid, RuleId::EndpointPolicyDenies).is_empty());
        verdicts.push(mapping(&report, &uuid).verdict);
        // Unknown role: undecidable, never a pass and never "allows it in no statement".
        s.mapping_mut(&uuid).execution_role = None;
        let report = evaluate(&s.build());
        let denies = findings(&report, &uuid, RuleId::EndpointPolicyDenies);
        assert!(
            denies
                .iter()
                .all(|f| f.severity == Severity::Warn && !f.message.contains("no statement")),
            "{denies:#?}"
        );
        assert_ne!(mapping(&report, &uuid).verdict, Verdict::Pass);
    }
    assert_eq!(verdicts, [Verdict::Warn, Verdict::Warn]);
}

#[test]
fn a_deny_of_a_documentation_range_is_no_internet_traffic() {
    // Inbound from 198.51.100.0/24 denied, everything else allowed: the NAT path passes.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let all: Vec<String> = subnet_ids(&s);
    let mut entries = allow_all_entries();
    entries.push(nacl_entry(90, false, "-1", false, "198.51.100.0/24", None));
    s.network_acl(&vpc, &all, entries);
    let report = evaluate(&s.build());
    assert_eq!(
        mapping(&report, &uuid).verdict,
        Verdict::Pass,
        "{report:#?}"
    );

    // With the allows gone too, the fix for the return traffic opens 1024-65535 from the
    // internet above that deny, never below it (which would cancel the user's deny).
    let mut entries = vec![
        nacl_entry(90, false, "-1", false, "198.51.100.0/24", None),
        nacl_entry(100, true, "-1", true, "0.0.0.0/0", None),
        nacl_entry(100, false, "-1", true, "10.0.0.0/8", None),
        nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
    ];
    entries.sort_by_key(|e| e.rule_number);
    let (mut s, uuid) = healthy_nat_on_demand();
    let acl = s.network_acl(&vpc_id(&s), &all, entries);
    let snapshot = s.build();
    let report = evaluate(&snapshot);
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let actions = plan(&snapshot, &report);
    let inbound: Vec<&str> = actions
        .iter()
        .filter(|a| {
            a.command
                .contains(&format!("--network-acl-id {acl} --ingress"))
        })
        .map(|a| a.command.as_str())
        .collect();
    assert!(!inbound.is_empty(), "{actions:#?}");
    for command in &inbound {
        let number: i32 = command
            .split("--rule-number ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(number > 90 && number < 32767, "{command}");
        assert!(
            command.contains("From=1024,To=65535 --cidr-block 0.0.0.0/0"),
            "{command}"
        );
    }
}

#[test]
fn a_partial_public_range_is_unprovable_never_pass_or_fail() {
    // Outbound 443 allowed only to one public range: the service may or may not be there.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let all = subnet_ids(&s);
    let entries = vec![
        nacl_entry(100, false, "-1", true, "0.0.0.0/0", None),
        nacl_entry(100, true, "6", true, "52.94.0.0/16", Some((443, 443))),
        nacl_entry(110, true, "-1", true, "10.0.0.0/8", None),
        nacl_entry(120, true, "6", true, "0.0.0.0/0", Some((1024, 65535))),
        nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
    ];
    let acl = s.network_acl(&vpc, &all, entries);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Warn, "{m:#?}");
    let found = findings(&report, &uuid, RuleId::EgressUnverifiable);
    assert!(
        found.iter().any(|f| f.resources.contains(&acl)),
        "{found:#?}"
    );
    assert!(findings(&report, &uuid, RuleId::NaclBlocks).is_empty());

    // The same for a security group that lets 443 out to that range only.
    let (mut s, uuid) = healthy_nat_on_demand();
    let sg = first_group(&s);
    s.sg_mut(&sg).egress.clear();
    s.allow_group(&sg, true, 9098, &sg);
    s.allow_cidr(&sg, true, "tcp", Some((443, 443)), "52.94.0.0/16");
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Warn);
    assert!(findings(&report, &uuid, RuleId::HttpsEgress).is_empty());
    // And to special-purpose space only: no internet address at all, a certain block.
    let (mut s, uuid) = healthy_nat_on_demand();
    s.sg_mut(&sg).egress.clear();
    s.allow_group(&sg, true, 9098, &sg);
    s.allow_cidr(&sg, true, "tcp", Some((443, 443)), "10.0.0.0/8");
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    assert!(!findings(&report, &uuid, RuleId::HttpsEgress).is_empty());
}

#[test]
fn a_deleted_endpoint_does_not_exist_for_the_path_and_is_replaced() {
    // Beside a working NAT gateway: the NAT path serves.
    let (mut s, uuid) = healthy_nat_on_demand();
    let vpc = vpc_id(&s);
    let subnets = cluster_subnets(&s);
    let sg = first_group(&s);
    let dead = s.endpoint(&vpc, "lambda", &subnets, std::slice::from_ref(&sg), true);
    s.endpoint_mut(&dead).state = "deleted".into();
    assert_eq!(mapping(&evaluate(&s.build()), &uuid).verdict, Verdict::Pass);

    // Without one: no service path, and the plan creates a new endpoint (not "accept" or
    // "set the policy" of the deleted one), with a client token of its own.
    let (mut s, uuid) = healthy_on_demand();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).state = "deleted".into();
    let snapshot = s.build();
    let report = evaluate(&snapshot);
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    let m = mapping(&report, &uuid);
    assert!(
        m.findings
            .iter()
            .all(
                |f| f.rule != RuleId::EndpointUnavailable && f.rule != RuleId::EndpointPolicyOpen
                    || !f.resources.contains(&lambda)
            ),
        "{m:#?}"
    );
    assert!(!findings(&report, &uuid, RuleId::NoServicePath).is_empty());
    let actions = plan(&snapshot, &report);
    assert!(
        actions
            .iter()
            .all(|a| !a.command.contains(&format!("--vpc-endpoint-id {lambda}"))),
        "{actions:#?}"
    );
    let create = actions
        .iter()
        .find_map(|a| match &a.kind {
            ActionKind::CreateInterfaceEndpoint {
                service_name,
                client_token,
                ..
            } if service_name.ends_with(".lambda") => Some(client_token.clone()),
            _ => None,
        })
        .expect("a new Lambda endpoint is planned");
    let vpc = vpc_id(&s);
    assert_ne!(
        create,
        esm_guard::plan::client_token(&vpc, "com.amazonaws.us-east-1.lambda", &[]),
        "a replacement's token must differ from the first endpoint's"
    );
    assert_eq!(
        create,
        esm_guard::plan::client_token(&vpc, "com.amazonaws.us-east-1.lambda", &[lambda])
    );
}

#[test]
fn broker_ingress_from_a_managed_prefix_list() {
    let with_list = |cidrs: Option<&[&str]>| {
        let (mut s, uuid) = healthy_on_demand();
        let sg = first_group(&s);
        s.sg_mut(&sg).ingress.retain(|r| r.from_port != Some(9098));
        s.sg_mut(&sg).ingress.push(SgRule {
            protocol: "tcp".into(),
            from_port: Some(9098),
            to_port: Some(9098),
            prefix_list_ids: vec!["pl-0vpc".into()],
            ..SgRule::default()
        });
        match cidrs {
            Some(cidrs) => s.snapshot.prefix_lists.push(PrefixList {
                id: "pl-0vpc".into(),
                cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
                ipv6_cidrs: vec![],
            }),
            None => s.snapshot.gaps.push(DataGap {
                api_call: "ec2:GetManagedPrefixListEntries".into(),
                iam_action: "ec2:GetManagedPrefixListEntries".into(),
                error: "AccessDenied".into(),
                scope: GapScope::PrefixList("pl-0vpc".into()),
                cause: GapCause::Denied,
            }),
        }
        let report = evaluate(&s.build());
        (mapping(&report, &uuid).clone(), report, uuid)
    };
    // The list holds the VPC's CIDR: admitted.
    let (m, ..) = with_list(Some(&["10.0.0.0/16"]));
    assert_eq!(m.verdict, Verdict::Pass, "{m:#?}");
    // It holds something else: blocked.
    let (m, ..) = with_list(Some(&["192.168.0.0/16"]));
    assert_eq!(m.verdict, Verdict::Fail, "{m:#?}");
    // It could not be read: unknown, never fail.
    let (m, report, uuid) = with_list(None);
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
    assert!(findings(&report, &uuid, RuleId::BrokerIngress).is_empty());
    let found = findings(&report, &uuid, RuleId::InsufficientData);
    assert!(
        found.iter().any(|f| f.message.contains("pl-0vpc")
            && f.resources[0] == "ec2:GetManagedPrefixListEntries"),
        "{found:#?}"
    );
}

#[test]
fn facts_missing_from_the_snapshot_are_unknown_never_a_pass() {
    // A subnet whose ACL the answer lacked.
    let (mut s, uuid) = healthy_on_demand();
    s.snapshot.network_acls.clear();
    let m = mapping(&evaluate(&s.build()), &uuid).clone();
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
    // A mapping's group the answer lacked.
    let (mut s, uuid) = healthy_on_demand();
    let sg = first_group(&s);
    s.snapshot.security_groups.retain(|g| g.id != sg);
    let m = mapping(&evaluate(&s.build()), &uuid).clone();
    assert_ne!(m.verdict, Verdict::Pass, "{m:#?}");
    assert!(m
        .findings
        .iter()
        .any(|f| f.rule == RuleId::InsufficientData));
    // An active route to a NAT gateway the answer lacked: unknown, not "deleted".
    let (mut s, uuid) = healthy_nat_on_demand();
    s.snapshot.nat_gateways.clear();
    let m = mapping(&evaluate(&s.build()), &uuid).clone();
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
    assert!(m.findings.iter().all(|f| f.rule != RuleId::NatUnavailable));
    // Route tables the answer lacked.
    let (mut s, uuid) = healthy_nat_on_demand();
    s.snapshot.route_tables.clear();
    let m = mapping(&evaluate(&s.build()), &uuid).clone();
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
    // An endpoint policy the answer lacked.
    let (mut s, uuid) = healthy_on_demand();
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).policy_document = None;
    let m = mapping(&evaluate(&s.build()), &uuid).clone();
    assert_eq!(m.verdict, Verdict::Unknown, "{m:#?}");
}

#[test]
fn self_managed_brokers_without_a_usable_port_are_a_finding() {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.security_group(&vpc);
    s.guide_endpoints(&vpc, std::slice::from_ref(&a), std::slice::from_ref(&sg));
    s.allow_group(&sg, false, 443, &sg);
    let uuid = s.self_managed_mapping(&["kafka.example.com:99999"], &[a], &[sg], false);
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_ne!(m.verdict, Verdict::Pass, "{m:#?}");
    assert!(
        findings(&report, &uuid, RuleId::InsufficientData)
            .iter()
            .any(|f| f.message.contains("kafka.example.com:99999")),
        "{m:#?}"
    );
}

#[test]
fn a_broker_named_by_host_name_behind_a_deny_all_acl_fails() {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.security_group(&vpc);
    s.guide_endpoints(&vpc, std::slice::from_ref(&a), std::slice::from_ref(&sg));
    s.allow_group(&sg, false, 443, &sg);
    let deny_all = vec![
        nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
        nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
    ];
    let acl = s.network_acl(&vpc, std::slice::from_ref(&a), deny_all);
    let uuid = s.self_managed_mapping(
        &["kafka.example.com:9092"],
        std::slice::from_ref(&a),
        &[sg],
        true,
    );
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    assert_finding(
        &report,
        &uuid,
        RuleId::NaclBlocks,
        Severity::Fail,
        &[acl, a],
    );
}
