//! Amazon MQ (ActiveMQ, RabbitMQ) and Amazon DocumentDB mappings: the guide's cases for an
//! on-demand mapping (their only mode), broker ingress on their own port, a healthy mapping,
//! a public MQ broker, and the plan that heals the healable ones.

use esm_guard::model::MqEngine;
use esm_guard::plan::{plan, simulate};
use esm_guard::sample::Sample;
use esm_guard::{evaluate, RuleId, Verdict};

use super::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Mq(MqEngine),
    DocumentDb,
}

impl Source {
    fn port(self) -> u16 {
        match self {
            Source::Mq(engine) => engine.port(),
            Source::DocumentDb => 27017,
        }
    }
}

const SOURCES: [Source; 3] = [
    Source::Mq(MqEngine::ActiveMq),
    Source::Mq(MqEngine::RabbitMq),
    Source::DocumentDb,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Nothing,
    Nat,
    /// Lambda, STS and Secrets Manager endpoints (both sources authenticate with a secret).
    Endpoints,
}

/// A mapping on `source` in two subnets (public or private), with `path` to the services,
/// and a group that admits `admitted` from itself.
fn account(source: Source, public: bool, path: Path, admitted: u16) -> (Sample, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let mut subnets = Vec::new();
    for az in ["us-east-1a", "us-east-1b"] {
        let subnet = if public {
            s.public_subnet(&vpc, az)
        } else {
            s.private_subnet(&vpc, az)
        };
        if path == Path::Nat {
            let (_, nat) = s.public_nat(&vpc, az);
            if !public {
                s.route_via_nat(&subnet, &nat);
            }
        }
        subnets.push(subnet);
    }
    let sg = s.cluster_group(&vpc, admitted);
    if path == Path::Endpoints {
        for service in ["lambda", "sts", "secretsmanager"] {
            s.endpoint(&vpc, service, &subnets, std::slice::from_ref(&sg), true);
        }
    }
    let uuid = match source {
        Source::Mq(engine) => {
            let broker = s.mq_broker(engine, &subnets, std::slice::from_ref(&sg), false);
            s.mq_mapping(&broker)
        }
        Source::DocumentDb => {
            let cluster = s.docdb_cluster(&subnets, std::slice::from_ref(&sg), 27017);
            s.docdb_mapping(&cluster)
        }
    };
    (s, uuid)
}

#[test]
fn the_guides_cases_for_mq_and_documentdb() {
    use Path::*;
    // (public, path, verdict, no-service-path)
    let cases = [
        (false, Nothing, Verdict::Fail, true),
        (true, Nothing, Verdict::Fail, true),
        (false, Nat, Verdict::Pass, false),
        (false, Endpoints, Verdict::Pass, false),
        (true, Endpoints, Verdict::Pass, false),
        // A NAT gateway cannot serve a public subnet.
        (true, Nat, Verdict::Fail, true),
    ];
    let mut failures = Vec::new();
    for source in SOURCES {
        for (public, path, verdict, missing) in cases {
            let (s, uuid) = account(source, public, path, source.port());
            let report = evaluate(&s.build());
            let m = mapping(&report, &uuid);
            let found = findings(&report, &uuid, RuleId::NoServicePath);
            let label = format!("{source:?}, public {public}, {path:?}");
            if m.verdict != verdict || found.is_empty() == missing {
                failures.push(format!("{label}: {:?} {:#?}", m.verdict, m.findings));
                continue;
            }
            if missing {
                // Lambda, STS and Secrets Manager: the mapping always uses a secret.
                let mut services: Vec<&str> = found
                    .iter()
                    .flat_map(|f| f.resources.iter())
                    .filter(|r| r.starts_with("com.amazonaws."))
                    .map(String::as_str)
                    .collect();
                services.sort();
                services.dedup();
                assert_eq!(
                    services,
                    [
                        "com.amazonaws.us-east-1.lambda",
                        "com.amazonaws.us-east-1.secretsmanager",
                        "com.amazonaws.us-east-1.sts"
                    ],
                    "{label}"
                );
            }
            assert_eq!(
                m.network.as_ref().map(|n| n.broker_ports.clone()),
                Some(vec![source.port()]),
                "{label}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn broker_ingress_is_judged_on_the_sources_own_port() {
    for source in SOURCES {
        // The group admits Kafka's port, not the source's.
        let (s, uuid) = account(source, false, Path::Nat, 9098);
        let report = evaluate(&s.build());
        let found = findings(&report, &uuid, RuleId::BrokerIngress);
        assert_eq!(found.len(), 1, "{source:?}: {:#?}", mapping(&report, &uuid));
        assert!(
            found[0].message.contains(&source.port().to_string()),
            "{source:?}: {}",
            found[0].message
        );
        assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
    }
    // A DocumentDB cluster on another port is judged on that port.
    let mut s = Sample::default();
    let vpc = s.vpc();
    let subnets = vec![
        s.private_subnet(&vpc, "us-east-1a"),
        s.private_subnet(&vpc, "us-east-1b"),
    ];
    let sg = s.cluster_group(&vpc, 27017);
    let cluster = s.docdb_cluster(&subnets, std::slice::from_ref(&sg), 27018);
    let uuid = s.docdb_mapping(&cluster);
    let report = evaluate(&s.build());
    let found = findings(&report, &uuid, RuleId::BrokerIngress);
    assert!(
        found.len() == 1 && found[0].message.contains("27018"),
        "{:#?}",
        mapping(&report, &uuid)
    );
}

#[test]
fn a_public_mq_broker_needs_no_path_in_the_vpc() {
    for engine in [MqEngine::ActiveMq, MqEngine::RabbitMq] {
        let mut s = Sample::default();
        let vpc = s.vpc();
        let subnets = vec![s.private_subnet(&vpc, "us-east-1a")];
        // A group that admits nothing, no NAT, no endpoints: none of it is used.
        let sg = s.security_group(&vpc);
        let broker = s.mq_broker(engine, &subnets, std::slice::from_ref(&sg), true);
        let uuid = s.mq_mapping(&broker);
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        assert_eq!(m.verdict, Verdict::Pass, "{engine:?}: {:#?}", m.findings);
        assert!(m.findings.is_empty(), "{:#?}", m.findings);
        let net = m.network.as_ref().unwrap();
        assert_eq!(
            (net.vpc_id.as_deref(), net.broker_ports.clone()),
            (None, vec![engine.port()])
        );
    }
}

#[test]
fn a_missing_broker_or_cluster_is_cluster_not_found_naming_it() {
    for source in SOURCES {
        let (mut s, uuid) = account(source, false, Path::Nat, source.port());
        let arn = s.mapping_mut(&uuid).source_arn().unwrap().to_string();
        let mut snapshot = s.build();
        snapshot.mq_brokers.clear();
        snapshot.docdb_clusters.clear();
        let report = evaluate(&snapshot);
        let found = findings(&report, &uuid, RuleId::ClusterNotFound);
        let what = match source {
            Source::Mq(_) => "Amazon MQ broker",
            Source::DocumentDb => "DocumentDB cluster",
        };
        assert!(
            found.len() == 1
                && found[0].message.contains(what)
                && found[0].resources == [arn.clone()],
            "{source:?}: {found:#?}"
        );
    }
}

#[test]
fn the_plan_heals_every_healable_mq_and_documentdb_mapping() {
    for source in SOURCES {
        for public in [false, true] {
            // No path and a group that admits only Kafka's port: endpoints and a rule heal it.
            let (s, uuid) = account(source, public, Path::Nothing, 9098);
            let mut snapshot = s.build();
            for _ in 0..3 {
                let report = evaluate(&snapshot);
                let actions = plan(&snapshot, &report);
                let automatic: Vec<_> = actions.iter().filter(|a| a.automatic).collect();
                if automatic.is_empty() {
                    break;
                }
                for action in automatic {
                    simulate(&mut snapshot, action);
                }
            }
            let report = evaluate(&snapshot);
            let m = mapping(&report, &uuid);
            assert_ne!(
                m.verdict,
                Verdict::Fail,
                "{source:?} public {public}: {:#?}",
                m.findings
            );
            assert!(plan(&snapshot, &report).iter().all(|a| !a.automatic));
        }
    }
}
