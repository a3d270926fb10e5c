//! The planner: the automated actions of RULES.md's remediation table, only where needed,
//! each naming the finding it clears; every other fix a manual step with the exact command.

use esm_guard::model::{GapScope, Snapshot};
use esm_guard::plan::{plan, simulate, Action, ActionKind, FindingRef};
use esm_guard::sample::{
    allow_all_entries, healthy_nat_on_demand, healthy_on_demand, nacl_entry, Auth, Sample,
};
use esm_guard::{evaluate, Finding, Report, RuleId};

use super::helpers::*;

fn planned(snapshot: &Snapshot) -> (Report, Vec<Action>) {
    let report = evaluate(snapshot);
    let actions = plan(snapshot, &report);
    (report, actions)
}

fn automatic(actions: &[Action]) -> Vec<&Action> {
    actions.iter().filter(|a| a.automatic).collect()
}

fn finding_ref(uuid: &str, f: &Finding) -> FindingRef {
    FindingRef {
        esm_uuid: uuid.to_string(),
        finding: f.id.clone(),
        rule: f.rule,
    }
}

/// No automatic action ever opens a group to an address range, let alone the world.
fn assert_narrow(actions: &[Action]) {
    for a in automatic(actions) {
        assert!(
            matches!(
                a.kind,
                ActionKind::AuthorizeIngress { .. }
                    | ActionKind::AuthorizeEgress { .. }
                    | ActionKind::CreateInterfaceEndpoint { .. }
            ),
            "{a:#?}"
        );
        assert!(
            !a.command.contains("0.0.0.0/0") && !a.command.contains("CidrIp"),
            "{a:#?}"
        );
        assert!(!a.fixes.is_empty(), "{a:#?}");
    }
}

#[test]
fn a_healthy_account_plans_no_automatic_action() {
    let mut accounts: Vec<Sample> = vec![healthy_on_demand().0, healthy_nat_on_demand().0];
    let mut provisioned = Sample::default();
    let vpc = provisioned.vpc();
    let a = provisioned.private_subnet(&vpc, "us-east-1a");
    let sg = provisioned.cluster_group(&vpc, 9096);
    let c = provisioned.msk_cluster(&[a], &[sg], Auth::Scram);
    provisioned.msk_mapping(&c, true);
    accounts.push(provisioned);
    for s in accounts {
        let (report, actions) = planned(&s.build());
        assert!(report
            .mappings
            .iter()
            .all(|m| m.verdict == esm_guard::Verdict::Pass));
        assert!(automatic(&actions).is_empty(), "{actions:#?}");
    }
    // With the guide's policies, nothing at all is left to do.
    let (mut s, _) = healthy_on_demand();
    for (service, action) in [
        ("lambda", "lambda:InvokeFunction"),
        ("sts", "sts:AssumeRole"),
    ] {
        let id = endpoint_of(&s, service).id.clone();
        s.endpoint_mut(&id).policy_document = Some(guide_service_policy(action));
    }
    let (_, actions) = planned(&s.build());
    assert!(actions.is_empty(), "{actions:#?}");
}

/// Plans `s`, expects exactly one automatic action, fixing exactly the finding(s) of `rule`.
fn the_one_automatic_action(s: &Sample, uuid: &str, rule: RuleId) -> Action {
    let (report, actions) = planned(&s.build());
    assert_narrow(&actions);
    let auto = automatic(&actions);
    assert_eq!(auto.len(), 1, "{auto:#?}");
    let action = auto[0].clone();
    let targeted: Vec<&Finding> = mapping(&report, uuid)
        .findings
        .iter()
        .filter(|f| action.fixes_finding(uuid, f))
        .collect();
    assert!(
        !targeted.is_empty() && targeted.iter().all(|f| f.rule == rule),
        "{action:#?}"
    );
    let refs: Vec<FindingRef> = targeted.iter().map(|f| finding_ref(uuid, f)).collect();
    assert_eq!(action.fixes, refs);
    assert_eq!(action.reason(), rule);
    // Applying it clears what it targets and nothing automatic is left.
    let mut after = s.build();
    simulate(&mut after, &action);
    let (report, actions) = planned(&after);
    assert!(
        findings(&report, uuid, rule).is_empty(),
        "{:#?}",
        mapping(&report, uuid)
    );
    assert!(automatic(&actions).is_empty());
    action
}

#[test]
fn broker_ingress_is_authorized_from_the_group_itself() {
    let (mut s, uuid) = healthy_on_demand();
    let sg = first_group(&s);
    s.sg_mut(&sg).ingress.retain(|r| r.from_port != Some(9098));
    let action = the_one_automatic_action(&s, &uuid, RuleId::BrokerIngress);
    assert_eq!(
        action.kind,
        ActionKind::AuthorizeIngress {
            group_id: sg.clone(),
            port: 9098,
            to_port: None,
            source_group_id: sg.clone(),
            reason: RuleId::BrokerIngress
        }
    );
    assert!(action.command.starts_with(&format!(
        "aws ec2 authorize-security-group-ingress --group-id {sg} "
    )));
    assert!(action.command.contains(&format!(
        "FromPort=9098,ToPort=9098,UserIdGroupPairs=[{{GroupId={sg}"
    )));
    assert!(action
        .command
        .contains(&format!("Key=esm-guard:esm-uuid,Value={uuid}")));
}

#[test]
fn broker_egress_is_authorized_to_the_group_itself() {
    let (mut s, uuid) = healthy_on_demand();
    let sg = first_group(&s);
    s.sg_mut(&sg).egress.clear();
    s.allow_group(&sg, true, 443, &sg);
    let action = the_one_automatic_action(&s, &uuid, RuleId::BrokerEgress);
    assert_eq!(
        action.kind,
        ActionKind::AuthorizeEgress {
            group_id: sg.clone(),
            port: 9098,
            to_port: None,
            destination_group_id: sg.clone(),
            reason: RuleId::BrokerEgress
        }
    );
    assert!(action.command.starts_with(&format!(
        "aws ec2 authorize-security-group-egress --group-id {sg} "
    )));
}

#[test]
fn endpoint_ingress_is_authorized_from_the_mappings_group() {
    let (mut s, uuid) = healthy_on_demand();
    let vpc = vpc_id(&s);
    let sg = first_group(&s);
    let own = s.security_group(&vpc);
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).security_group_ids = vec![own.clone()];
    let action = the_one_automatic_action(&s, &uuid, RuleId::EndpointSgIngress);
    assert_eq!(
        action.kind,
        ActionKind::AuthorizeIngress {
            group_id: own.clone(),
            port: 443,
            to_port: None,
            source_group_id: sg.clone(),
            reason: RuleId::EndpointSgIngress
        }
    );
    assert_eq!(
        action.fixes[0].finding,
        format!("endpoint-sg-ingress/{lambda}")
    );
    let _ = own;
}

#[test]
fn https_egress_on_the_endpoint_path_is_authorized_to_the_endpoints_group() {
    let (mut s, uuid) = healthy_on_demand();
    let vpc = vpc_id(&s);
    let sg = first_group(&s);
    let own = s.security_group(&vpc);
    s.allow_group(&own, false, 443, &sg);
    for service in ["lambda", "sts"] {
        let id = endpoint_of(&s, service).id.clone();
        s.endpoint_mut(&id).security_group_ids = vec![own.clone()];
    }
    s.sg_mut(&sg).egress.clear();
    s.allow_group(&sg, true, 9098, &sg);
    let action = the_one_automatic_action(&s, &uuid, RuleId::HttpsEgress);
    assert_eq!(
        action.kind,
        ActionKind::AuthorizeEgress {
            group_id: sg.clone(),
            port: 443,
            to_port: None,
            destination_group_id: own,
            reason: RuleId::HttpsEgress
        }
    );
    // One rule clears the finding of both endpoints.
    assert_eq!(action.fixes.len(), 2, "{action:#?}");
}

#[test]
fn a_missing_path_gets_the_guides_endpoints() {
    // A SCRAM mapping on demand in three private subnets over two AZs, no path.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a1 = s.private_subnet(&vpc, "us-east-1a");
    let b1 = s.private_subnet(&vpc, "us-east-1b");
    let a2 = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.cluster_group(&vpc, 9096);
    let cluster = s.msk_cluster(
        &[a2.clone(), b1.clone(), a1.clone()],
        std::slice::from_ref(&sg),
        Auth::Scram,
    );
    let uuid = s.msk_mapping(&cluster, false);
    let esm = s.snapshot.mappings[0].clone();
    let role = esm.execution_role.clone().unwrap();
    let secret = esm.secret_arns()[0].to_string();

    let (report, actions) = planned(&s.build());
    assert_narrow(&actions);
    let auto = automatic(&actions);
    assert_eq!(auto.len(), 3, "{auto:#?}");
    for service in ["lambda", "sts", "secretsmanager"] {
        let service_name = format!("com.amazonaws.us-east-1.{service}");
        let action = auto
            .iter()
            .find(|a| matches!(&a.kind, ActionKind::CreateInterfaceEndpoint { service_name: n, .. } if *n == service_name))
            .unwrap_or_else(|| panic!("no endpoint for {service}: {auto:#?}"));
        let ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            subnet_ids,
            security_group_ids,
            private_dns_enabled,
            policy_document,
            client_token,
            ..
        } = &action.kind
        else {
            unreachable!()
        };
        assert_eq!(vpc_id, &vpc);
        let mut one_per_az = vec![a1.clone(), b1.clone()];
        one_per_az.sort();
        assert_eq!(subnet_ids, &one_per_az, "one ESM subnet per AZ");
        assert_eq!(security_group_ids, std::slice::from_ref(&sg));
        assert!(private_dns_enabled);
        assert_eq!(
            client_token,
            &esm_guard::plan::client_token(&vpc, &service_name, &[])
        );
        let policy: serde_json::Value = serde_json::from_str(policy_document).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 1);
        match service {
            "secretsmanager" => {
                assert_eq!(statement["Action"], "secretsmanager:GetSecretValue");
                assert_eq!(statement["Principal"]["AWS"][0], role.as_str());
                assert_eq!(statement["Resource"], secret.as_str());
            }
            _ => {
                assert_eq!(statement["Principal"]["Service"][0], "lambda.amazonaws.com");
                assert_eq!(statement["Resource"], "*");
            }
        }
        // It names the no-service-path finding for its service, which the report links back.
        let targeted: Vec<&Finding> = mapping(&report, &uuid)
            .findings
            .iter()
            .filter(|f| action.fixes_finding(&uuid, f))
            .collect();
        assert_eq!(targeted.len(), 1);
        assert_eq!(targeted[0].rule, RuleId::NoServicePath);
        assert!(targeted[0].resources.contains(&service_name));
        for id in [&vpc, &sg, &a1, &b1, &service_name] {
            assert!(
                action.command.contains(id.as_str()),
                "{id} not in {}",
                action.command
            );
        }
    }
}

#[test]
fn a_new_endpoint_brings_the_rules_it_needs() {
    // The mapping's group admits nothing: the endpoints created in it need 443 in from it.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let sg = s.security_group(&vpc);
    s.allow_group(&sg, false, 9098, &sg);
    let cluster = s.msk_cluster(&[a], std::slice::from_ref(&sg), Auth::Iam);
    let uuid = s.msk_mapping(&cluster, false);
    let (report, actions) = planned(&s.build());
    assert_narrow(&actions);
    let auto = automatic(&actions);
    let ingress: Vec<&&Action> = auto
        .iter()
        .filter(|a| matches!(&a.kind, ActionKind::AuthorizeIngress { group_id, port: 443, source_group_id, reason: RuleId::EndpointSgIngress, .. } if *group_id == sg && *source_group_id == sg))
        .collect();
    assert_eq!(ingress.len(), 1, "{auto:#?}");
    // It clears the findings the new endpoints would have: they do not exist yet.
    assert!(ingress[0]
        .fixes
        .iter()
        .all(|f| f.rule == RuleId::EndpointSgIngress
            && f.finding.starts_with("endpoint-sg-ingress/vpce-")));
    assert!(mapping(&report, &uuid)
        .findings
        .iter()
        .all(|f| f.rule != RuleId::EndpointSgIngress));
    // Applied together, the plan leaves the mapping passing.
    let mut after = s.build();
    for a in &auto {
        simulate(&mut after, a);
    }
    let report = evaluate(&after);
    assert_eq!(
        mapping(&report, &uuid).verdict,
        esm_guard::Verdict::Pass,
        "{:#?}",
        mapping(&report, &uuid)
    );
}

struct Manual {
    what: &'static str,
    rule: RuleId,
    /// The account, the mapping, and the strings the command must hold (real ids).
    build: fn() -> (Sample, String, Vec<String>),
}

const MANUAL: &[Manual] = &[
    Manual {
        what: "a failed NAT gateway: a new one in the public subnet of the AZ, and the route",
        rule: RuleId::NatUnavailable,
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let a = cluster_subnets(&s)[0].clone();
            let table = route_table_id(&s, &a);
            let nat = s.snapshot.nat_gateways[0].clone();
            s.nat_mut(&nat.id).state = "failed".into();
            let cmd = vec![
                "aws ec2 create-nat-gateway".into(),
                format!("--subnet-id {}", nat.subnet_id),
                format!("--route-table-id {table}"),
                "--destination-cidr-block 0.0.0.0/0".into(),
            ];
            (s, uuid, cmd)
        },
    },
    Manual {
        what: "a NAT gateway in another AZ: one in the subnet's own AZ",
        rule: RuleId::NatCrossAz,
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let b = cluster_subnets(&s)[1].clone();
            let table = route_table_id(&s, &b);
            let nat_a = s.snapshot.nat_gateways[0].id.clone();
            let public_b = s.snapshot.nat_gateways[1].subnet_id.clone();
            s.route_via_nat(&b, &nat_a);
            (
                s,
                uuid,
                vec![
                    format!("--subnet-id {public_b}"),
                    format!("--route-table-id {table}"),
                ],
            )
        },
    },
    Manual {
        what: "a private NAT gateway",
        rule: RuleId::NatNotPublic,
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let a = cluster_subnets(&s)[0].clone();
            let table = route_table_id(&s, &a);
            let nat = s.snapshot.nat_gateways[0].clone();
            s.nat_mut(&nat.id).connectivity_type = "private".into();
            (
                s,
                uuid,
                vec![
                    "--connectivity-type public".into(),
                    format!("--subnet-id {}", nat.subnet_id),
                    format!("--route-table-id {table}"),
                ],
            )
        },
    },
    Manual {
        what: "443 to 0.0.0.0/0 for the NAT path is never opened automatically",
        rule: RuleId::HttpsEgress,
        build: || {
            let (mut s, uuid) = healthy_nat_on_demand();
            let sg = first_group(&s);
            s.sg_mut(&sg).egress.clear();
            s.allow_group(&sg, true, 9098, &sg);
            (
                s,
                uuid,
                vec![
                    format!("aws ec2 authorize-security-group-egress --group-id {sg}"),
                    "FromPort=443,ToPort=443".into(),
                    "CidrIp=0.0.0.0/0".into(),
                ],
            )
        },
    },
    Manual {
        what: "a network ACL entry, numbered below the blocking rule",
        rule: RuleId::NaclBlocks,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            let subnets = subnet_ids(&s);
            let mut entries = allow_all_entries();
            entries.push(nacl_entry(
                90,
                true,
                "6",
                false,
                "0.0.0.0/0",
                Some((9098, 9098)),
            ));
            let acl = s.network_acl(&vpc, &subnets, entries);
            let b = s.subnet(&subnets[1]).cidr.to_string();
            // Four entries are needed (9098 out to each subnet, the return traffic out to
            // each): four distinct numbers below 90, in the order of the actions' ids.
            (s, uuid, vec![format!("aws ec2 create-network-acl-entry --network-acl-id {acl} --egress --rule-number 86 --protocol tcp --port-range From=9098,To=9098 --cidr-block {b} --rule-action allow")])
        },
    },
    Manual {
        what: "VPC DNS hostnames",
        rule: RuleId::VpcDnsDisabled,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let vpc = vpc_id(&s);
            s.vpc_mut(&vpc).dns_hostnames = Some(false);
            (s, uuid, vec![format!("aws ec2 modify-vpc-attribute --vpc-id {vpc} --enable-dns-hostnames '{{\"Value\":true}}'")])
        },
    },
    Manual {
        what: "the private DNS switch of an endpoint",
        rule: RuleId::EndpointPrivateDnsOff,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&sts).private_dns_enabled = false;
            (
                s,
                uuid,
                vec![format!(
                    "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {sts} --private-dns-enabled"
                )],
            )
        },
    },
    Manual {
        what:
            "the missing path when an endpoint exists with private DNS off: switch it, create none",
        rule: RuleId::NoServicePath,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let sts = endpoint_of(&s, "sts").id.clone();
            s.endpoint_mut(&sts).private_dns_enabled = false;
            (
                s,
                uuid,
                vec![format!(
                    "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {sts} --private-dns-enabled"
                )],
            )
        },
    },
    Manual {
        what: "the missing path when the execution role is unknown: no policy can be written",
        rule: RuleId::NoServicePath,
        build: || {
            let mut s = Sample::default();
            let vpc = s.vpc();
            let a = s.private_subnet(&vpc, "us-east-1a");
            let sg = s.cluster_group(&vpc, 9096);
            s.guide_endpoints(&vpc, std::slice::from_ref(&a), std::slice::from_ref(&sg));
            let c = s.msk_cluster(
                std::slice::from_ref(&a),
                std::slice::from_ref(&sg),
                Auth::Scram,
            );
            let uuid = s.msk_mapping(&c, false);
            s.mapping_mut(&uuid).execution_role = None;
            (s, uuid, vec![format!("aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {vpc} --service-name com.amazonaws.us-east-1.secretsmanager --subnet-ids {a} --security-group-ids {sg}")])
        },
    },
    Manual {
        what: "the missing path in a VPC without DNS hostnames: enable them first, then create",
        rule: RuleId::NoServicePath,
        build: || {
            let mut s = Sample::default();
            let vpc = s.vpc();
            s.vpc_mut(&vpc).dns_hostnames = Some(false);
            let a = s.private_subnet(&vpc, "us-east-1a");
            let sg = s.cluster_group(&vpc, 9098);
            let c = s.msk_cluster(
                std::slice::from_ref(&a),
                std::slice::from_ref(&sg),
                Auth::Iam,
            );
            let uuid = s.msk_mapping(&c, false);
            (s, uuid, vec![
                format!("aws ec2 modify-vpc-attribute --vpc-id {vpc} --enable-dns-hostnames"),
                format!("&& aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id {vpc} --service-name com.amazonaws.us-east-1.lambda --subnet-ids {a} --security-group-ids {sg} --private-dns-enabled"),
            ])
        },
    },
    Manual {
        what: "an endpoint policy that denies",
        rule: RuleId::EndpointPolicyDenies,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).policy_document = Some(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#.into());
            (
                s,
                uuid,
                vec![format!(
                    "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {lambda} --policy-document '{}'",
                    guide_service_policy("lambda:InvokeFunction")
                )],
            )
        },
    },
    Manual {
        what: "the default full-access policy",
        rule: RuleId::EndpointPolicyOpen,
        build: || {
            let (s, uuid) = healthy_on_demand();
            let sts = endpoint_of(&s, "sts").id.clone();
            (
                s,
                uuid,
                vec![format!(
                    "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {sts} --policy-document '{}'",
                    guide_service_policy("sts:AssumeRole")
                )],
            )
        },
    },
    Manual {
        what: "an endpoint missing an AZ",
        rule: RuleId::EndpointAzCoverage,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let subnets = cluster_subnets(&s);
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).subnet_ids = vec![subnets[0].clone()];
            (
                s,
                uuid,
                vec![format!(
                    "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {lambda} --add-subnet-ids {}",
                    subnets[1]
                )],
            )
        },
    },
    Manual {
        what: "an endpoint in a state EC2 does not document",
        rule: RuleId::EndpointUnavailable,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).state = "quarantined".into();
            (s, uuid, vec![format!("--vpc-endpoint-ids {lambda}")])
        },
    },
    Manual {
        what: "an endpoint still pending",
        rule: RuleId::EndpointPending,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            let lambda = endpoint_of(&s, "lambda").id.clone();
            s.endpoint_mut(&lambda).state = "pendingAcceptance".into();
            (s, uuid, vec![format!("--vpc-endpoint-ids {lambda}")])
        },
    },
    Manual {
        what: "a mapping on a deleted cluster: its deletion",
        rule: RuleId::ClusterNotFound,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.snapshot.clusters.clear();
            let cmd = vec![format!(
                "aws lambda delete-event-source-mapping --uuid {uuid}"
            )];
            (s, uuid, cmd)
        },
    },
    Manual {
        what: "Lambda's own problem report",
        rule: RuleId::EsmReportedProblem,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.mapping_mut(&uuid).last_processing_result = Some("PROBLEM: Connection error.".into());
            let cmd = vec![format!("aws lambda get-event-source-mapping --uuid {uuid}")];
            (s, uuid, cmd)
        },
    },
    Manual {
        what: "a permission esm-guard lacks",
        rule: RuleId::InsufficientData,
        build: || {
            let (mut s, uuid) = healthy_on_demand();
            s.gap("ec2:DescribeNetworkAcls", GapScope::All);
            (
                s,
                uuid,
                vec![
                    "aws iam put-role-policy".into(),
                    "\"Action\":\"ec2:DescribeNetworkAcls\"".into(),
                ],
            )
        },
    },
    Manual {
        what: "egress to self-managed brokers, by address",
        rule: RuleId::BrokerEgress,
        build: || {
            let mut s = Sample::default();
            let vpc = s.vpc();
            let a = s.private_subnet(&vpc, "us-east-1a");
            let sg = s.security_group(&vpc);
            s.sg_mut(&sg).egress.clear();
            let uuid =
                s.self_managed_mapping(&["10.0.9.10:9092"], &[a], std::slice::from_ref(&sg), true);
            (s, uuid, vec![format!("aws ec2 authorize-security-group-egress --group-id {sg} --ip-permissions 'IpProtocol=tcp,FromPort=9092,ToPort=9092,IpRanges=[{{CidrIp=10.0.9.10/32}}]'")])
        },
    },
];

#[test]
fn never_automated_fixes_are_manual_steps_with_exact_commands() {
    let mut failures = Vec::new();
    for case in MANUAL {
        let (s, uuid, expected) = (case.build)();
        let (report, actions) = planned(&s.build());
        assert_narrow(&actions);
        let targeted: Vec<&Finding> = findings(&report, &uuid, case.rule);
        assert!(
            !targeted.is_empty(),
            "{}: no {} finding",
            case.what,
            case.rule
        );
        let steps: Vec<&Action> = actions
            .iter()
            .filter(|a| targeted.iter().any(|f| a.fixes_finding(&uuid, f)))
            .collect();
        if steps.iter().any(|a| a.automatic) {
            failures.push(format!("{}: automated: {steps:#?}", case.what));
            continue;
        }
        let Some(step) = steps
            .iter()
            .find(|a| expected.iter().all(|e| a.command.contains(e.as_str())))
        else {
            failures.push(format!(
                "{}: no step with {expected:?} among {steps:#?}",
                case.what
            ));
            continue;
        };
        assert!(
            matches!(&step.kind, ActionKind::Manual { rule, .. } if *rule == case.rule),
            "{step:#?}"
        );
        assert!(step.command.starts_with("aws "), "{}", step.command);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_finding_with_a_fix_is_linked_to_its_actions_in_the_report() {
    let s = super::semantics::rich();
    let (report, actions) = planned(&s.build());
    assert_narrow(&actions);
    let doc: serde_json::Value =
        serde_json::from_str(&esm_guard::report::to_json(&report, &actions)).unwrap();
    assert_eq!(doc["schema"], "esm-guard/report/v1");
    let ids: Vec<&str> = actions.iter().map(|a| a.id.as_str()).collect();
    for m in doc["mappings"].as_array().unwrap() {
        for f in m["findings"].as_array().unwrap() {
            let linked: Vec<&str> = f["remediation"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            for id in &linked {
                assert!(ids.contains(id), "{id}");
            }
            let automatic = linked
                .iter()
                .any(|id| actions.iter().any(|a| a.id == *id && a.automatic));
            assert_eq!(f["remediation"]["automatic"], automatic);
            // Only the unfixable-by-design findings go without any step.
            if linked.is_empty() {
                assert!(
                    ["egress-unverifiable"].contains(&f["rule"].as_str().unwrap()),
                    "{f:#}"
                );
            }
        }
    }
    // Each action's refs name findings of this report, or findings that appear once the
    // plan's automatic actions are made (a new endpoint's group, an ACL on its way).
    let mut midway = s.build();
    for a in automatic(&actions) {
        if matches!(a.kind, ActionKind::CreateInterfaceEndpoint { .. }) {
            simulate(&mut midway, a);
        }
    }
    let mut after = s.build();
    for a in automatic(&actions) {
        simulate(&mut after, a);
    }
    let worlds = [report.clone(), evaluate(&midway), evaluate(&after)];
    for a in &actions {
        for r in &a.fixes {
            let names = |report: &Report| {
                mapping(report, &r.esm_uuid)
                    .findings
                    .iter()
                    .any(|f| f.rule == r.rule && f.id == r.finding)
            };
            assert!(
                worlds.iter().any(names),
                "{} names {r:?}, which is no finding",
                a.id
            );
        }
    }
    // Stable ids: the same change keeps its id.
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
}

/// Two mappings of one VPC need the same endpoint: one action, at most one subnet per AZ
/// (AWS rejects two), and its command shows what the merged action does.
#[test]
fn one_endpoint_for_a_vpc_takes_one_subnet_per_az() {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let private_a = s.private_subnet(&vpc, "us-east-1a");
    let public_a = s.public_subnet(&vpc, "us-east-1a");
    let public_b = s.public_subnet(&vpc, "us-east-1b");
    let sg = s.cluster_group(&vpc, 9098);
    let c1 = s.msk_cluster(
        std::slice::from_ref(&private_a),
        std::slice::from_ref(&sg),
        Auth::Iam,
    );
    let c2 = s.msk_cluster(
        &[public_a.clone(), public_b.clone()],
        std::slice::from_ref(&sg),
        Auth::Iam,
    );
    let one = s.msk_mapping(&c1, false);
    let two = s.msk_mapping(&c2, false);
    let (report, actions) = planned(&s.build());
    let lambda: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(&a.kind, ActionKind::CreateInterfaceEndpoint { service_name, .. } if service_name.ends_with(".lambda")))
        .collect();
    assert_eq!(lambda.len(), 1, "{lambda:#?}");
    let ActionKind::CreateInterfaceEndpoint { subnet_ids, .. } = &lambda[0].kind else {
        unreachable!()
    };
    let azs: Vec<&str> = subnet_ids
        .iter()
        .map(|id| s.subnet(id).availability_zone.as_str())
        .collect();
    assert_eq!(azs, ["us-east-1a", "us-east-1b"], "{subnet_ids:?}");
    assert!(
        lambda[0]
            .command
            .contains(&format!("--subnet-ids {}", subnet_ids.join(" "))),
        "{}",
        lambda[0].command
    );
    assert!(lambda[0].description.contains(&subnet_ids.join(", ")));
    // It clears the finding of both mappings.
    for uuid in [&one, &two] {
        let f = findings(&report, uuid, RuleId::NoServicePath);
        assert!(f.iter().any(|f| lambda[0].fixes_finding(uuid, f)), "{uuid}");
    }
}

/// A private-DNS endpoint serves every mapping of its VPC: the one created for a mapping
/// that has no path must not cut off another that reached the service through NAT.
#[test]
fn a_new_endpoint_does_not_break_the_vpcs_other_mappings() {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let (_, nat) = s.public_nat(&vpc, "us-east-1a");
    let private_a = s.private_subnet(&vpc, "us-east-1a");
    let private_b = s.private_subnet(&vpc, "us-east-1b");
    s.route_via_nat(&private_a, &nat);
    s.route_via_nat(&private_b, &nat);
    let public_a = s.public_subnet(&vpc, "us-east-1a");
    let sg = s.cluster_group(&vpc, 9096);
    // On NAT, passing (apart from the cross-AZ warning of us-east-1b): SCRAM, one secret.
    let on_nat = s.msk_cluster(
        &[private_a, private_b.clone()],
        std::slice::from_ref(&sg),
        Auth::Scram,
    );
    let healthy = s.msk_mapping(&on_nat, false);
    // In a public subnet: no path to anything, another secret.
    let public = s.msk_cluster(&[public_a], std::slice::from_ref(&sg), Auth::Scram);
    let stranded = s.msk_mapping(&public, false);
    let (report, actions) = planned(&s.build());
    let before = mapping(&report, &healthy).verdict;
    assert_eq!(
        before,
        esm_guard::Verdict::Warn,
        "{:#?}",
        mapping(&report, &healthy)
    );

    let secrets = actions
        .iter()
        .find(|a| matches!(&a.kind, ActionKind::CreateInterfaceEndpoint { service_name, .. } if service_name.ends_with(".secretsmanager")))
        .expect("a Secrets Manager endpoint");
    let ActionKind::CreateInterfaceEndpoint {
        policy_document,
        subnet_ids,
        ..
    } = &secrets.kind
    else {
        unreachable!()
    };
    for uuid in [&healthy, &stranded] {
        let esm = s
            .snapshot
            .mappings
            .iter()
            .find(|m| m.uuid == *uuid)
            .unwrap();
        assert!(
            policy_document.contains(esm.secret_arns()[0]),
            "{policy_document}"
        );
        assert!(
            policy_document.contains(esm.execution_role.as_deref().unwrap()),
            "{policy_document}"
        );
    }
    assert!(
        subnet_ids.contains(&private_b),
        "every AZ of the VPC's mappings: {subnet_ids:?}"
    );
    assert!(
        secrets.command.contains(&shell_quote_json(policy_document)),
        "{}",
        secrets.command
    );

    let mut after = s.build();
    for a in automatic(&actions) {
        simulate(&mut after, a);
    }
    let report = evaluate(&after);
    assert!(
        mapping(&report, &healthy).verdict <= before,
        "{:#?}",
        mapping(&report, &healthy)
    );
    assert!(findings(&report, &healthy, RuleId::EndpointPolicyDenies).is_empty());
    assert!(findings(&report, &stranded, RuleId::NoServicePath).is_empty());
}

fn shell_quote_json(text: &str) -> String {
    esm_guard::plan::shell_quote(text)
}
