//! Mappings on a cluster of another account (or VPC), read through an MSK VPC connection
//! (`arn:...:kafka:...:vpc-connection/...`): judged like cluster mappings, on the
//! connection's subnets and groups, at the ports multi-VPC brokers listen on (14001-14100).

use esm_guard::model::VPC_CONNECTION_PORTS;
use esm_guard::plan::{plan, ActionKind};
use esm_guard::rules::SourceSummary;
use esm_guard::sample::Sample;
use esm_guard::{evaluate, RuleId, Severity, Verdict};

use super::helpers::*;

/// A VPC connection in two private subnets with one group, and Lambda and STS endpoints.
fn through_a_connection(admit: Option<(i32, i32)>) -> (Sample, String, String, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1b");
    let sg = s.security_group(&vpc);
    s.allow_group(&sg, false, 443, &sg);
    if let Some((from, to)) = admit {
        let g = s.sg_mut(&sg);
        g.ingress.push(esm_guard::model::SgRule {
            protocol: "tcp".into(),
            from_port: Some(from),
            to_port: Some(to),
            group_ids: vec![sg.clone()],
            ..Default::default()
        });
    }
    let subnets = vec![a, b];
    s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
    let connection = s.vpc_connection(&subnets, std::slice::from_ref(&sg));
    let uuid = s.vpc_connection_mapping(&connection, false);
    (s, uuid, sg, connection)
}

#[test]
fn a_vpc_connection_mapping_is_judged_on_the_connections_network() {
    let (s, uuid, _, connection) = through_a_connection(Some((14001, 14100)));
    let report = evaluate(&s.build());
    let m = mapping(&report, &uuid);
    assert_eq!(m.verdict, Verdict::Pass, "{m:#?}");
    assert_eq!(
        m.source,
        SourceSummary::MskVpcConnection {
            connection_arn: connection.clone()
        }
    );
    let net = m.network.as_ref().unwrap();
    assert_eq!(net.broker_port_ranges, [[14001, 14100]]);
    assert!(net.broker_ports.is_empty());
    assert_eq!(net.ports_text(), "14001-14100");
}

#[test]
fn part_of_the_multi_vpc_port_range_is_not_enough() {
    // 9098 (the cluster's own IAM port) or half of the range: the ingress fails.
    for admit in [None, Some((9098, 9098)), Some((14001, 14050))] {
        let (s, uuid, sg, _) = through_a_connection(admit);
        let snapshot = s.build();
        let report = evaluate(&snapshot);
        assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail, "{admit:?}");
        let found = assert_finding(
            &report,
            &uuid,
            RuleId::BrokerIngress,
            Severity::Fail,
            std::slice::from_ref(&sg),
        );
        assert!(
            found.message.contains("TCP 14001-14100"),
            "{}",
            found.message
        );
        // The fix opens the whole range, from the group itself.
        let actions = plan(&snapshot, &report);
        assert!(
            actions.iter().any(|a| matches!(
                &a.kind,
                ActionKind::AuthorizeIngress { group_id, port: 14001, to_port: Some(14100), source_group_id, .. }
                    if *group_id == sg && *source_group_id == sg
            ) && a.command.contains("FromPort=14001,ToPort=14100")),
            "{actions:#?}"
        );
    }
    assert_eq!(VPC_CONNECTION_PORTS, (14001, 14100));
}

#[test]
fn a_missing_vpc_connection_is_cluster_not_found_and_an_unread_one_unknown() {
    let (mut s, uuid, _, connection) = through_a_connection(Some((14001, 14100)));
    s.snapshot.vpc_connections.clear();
    let report = evaluate(&s.build());
    let found = assert_finding(
        &report,
        &uuid,
        RuleId::ClusterNotFound,
        Severity::Fail,
        std::slice::from_ref(&connection),
    );
    assert!(
        found.message.contains("VPC connection"),
        "{}",
        found.message
    );
    s.gap(
        "kafka:DescribeVpcConnection",
        esm_guard::model::GapScope::Cluster(connection),
    );
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Unknown);
    assert!(findings(&report, &uuid, RuleId::ClusterNotFound).is_empty());
}
