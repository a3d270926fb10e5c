//! The same accounts in the three commercial-and-government partitions: ARNs, principals
//! and endpoint service names follow the mapping's partition (`aws`, `aws-cn`,
//! `aws-us-gov`), and the reports are pinned per partition.

use esm_guard::model::Partition;
use esm_guard::plan::{plan, ActionKind};
use esm_guard::sample::{Auth, Sample};
use esm_guard::{evaluate, RuleId, Verdict};

use super::helpers::*;

const REGIONS: [&str; 3] = ["us-east-1", "cn-north-1", "us-gov-west-1"];

/// A SCRAM cluster (a secret: Secrets Manager is needed) in two private subnets, with
/// Lambda, STS and Secrets Manager endpoints unless `bare`; one on-demand mapping.
fn account(region: &str, bare: bool) -> (Sample, String) {
    let mut s = Sample::new(region);
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, &format!("{region}a"));
    let b = s.private_subnet(&vpc, &format!("{region}b"));
    let sg = s.cluster_group(&vpc, 9096);
    let subnets = vec![a, b];
    if !bare {
        s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
        s.endpoint(
            &vpc,
            "secretsmanager",
            &subnets,
            std::slice::from_ref(&sg),
            true,
        );
    }
    let cluster = s.msk_cluster(&subnets, std::slice::from_ref(&sg), Auth::Scram);
    let uuid = s.msk_mapping(&cluster, false);
    (s, uuid)
}

#[test]
fn every_partition_is_judged_and_planned_in_its_own_names() {
    for region in REGIONS {
        let partition = Partition::of_region(region);
        let (s, uuid) = account(region, false);
        let report = evaluate(&s.build());
        assert_eq!(
            mapping(&report, &uuid).verdict,
            Verdict::Pass,
            "{region}: {report:#?}"
        );

        let (s, uuid) = account(region, true);
        let snapshot = s.build();
        let report = evaluate(&snapshot);
        assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail, "{region}");
        let missing: Vec<String> = findings(&report, &uuid, RuleId::NoServicePath)
            .iter()
            .flat_map(|f| {
                f.resources
                    .iter()
                    .filter(|r| r.contains(".amazonaws."))
                    .cloned()
            })
            .collect();
        for service in ["lambda", "sts", "secretsmanager"] {
            let name = partition.endpoint_service_name(region, service);
            assert!(missing.contains(&name), "{region}: {name} in {missing:?}");
        }
        let actions = plan(&snapshot, &report);
        let created: Vec<(String, String)> = actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::CreateInterfaceEndpoint {
                    service_name,
                    policy_document,
                    ..
                } => Some((service_name.clone(), policy_document.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 3, "{region}: {actions:#?}");
        for (name, policy) in &created {
            assert!(name.ends_with(&format!("{region}.lambda")) || !name.contains("lambda"));
            if name.ends_with("secretsmanager") {
                // The execution role and the secret, in the partition's ARNs.
                assert!(
                    policy.contains(&format!("arn:{}:iam::", partition.id())),
                    "{policy}"
                );
                assert!(policy.contains(&format!("arn:{}:secretsmanager:", partition.id())));
            }
        }
        if partition == Partition::China {
            assert!(created
                .iter()
                .any(|(n, _)| n == "cn.com.amazonaws.cn-north-1.lambda"));
            assert!(created
                .iter()
                .any(|(n, _)| n == "com.amazonaws.cn-north-1.sts"));
        }
        insta::assert_snapshot!(
            format!("partition-{}", partition.id()),
            esm_guard::report::to_json(&report, &actions)
        );
    }
}

#[test]
fn the_account_root_principal_is_the_partitions() {
    for region in REGIONS {
        let partition = Partition::of_region(region);
        for (root_partition, allowed) in [(partition.id(), true), ("aws-iso", false)] {
            let (mut s, uuid) = account(region, false);
            let sm = endpoint_of(&s, "secretsmanager").id.clone();
            s.endpoint_mut(&sm).policy_document = Some(format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:{root_partition}:iam::123456789012:root"}},"Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}}"#
            ));
            let report = evaluate(&s.build());
            let denied = !findings(&report, &uuid, RuleId::EndpointPolicyDenies).is_empty();
            assert_eq!(
                denied, !allowed,
                "{region} with a root of {root_partition}: {report:#?}"
            );
        }
    }
}

#[test]
fn in_china_both_spellings_of_a_service_name_serve() {
    let (mut s, uuid) = account("cn-north-1", false);
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).service_name = "com.amazonaws.cn-north-1.lambda".into();
    let report = evaluate(&s.build());
    assert_eq!(
        mapping(&report, &uuid).verdict,
        Verdict::Pass,
        "{report:#?}"
    );
    // Elsewhere the cn. prefix names nothing.
    let (mut s, uuid) = account("us-east-1", false);
    let lambda = endpoint_of(&s, "lambda").id.clone();
    s.endpoint_mut(&lambda).service_name = "cn.com.amazonaws.us-east-1.lambda".into();
    let report = evaluate(&s.build());
    assert_eq!(mapping(&report, &uuid).verdict, Verdict::Fail);
}
