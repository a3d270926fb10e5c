//! The guide's table: cluster subnet (private/public) × scaling mode (on-demand/provisioned),
//! with no path, a NAT route, or endpoints.

use esm_guard::sample::{Auth, Sample};
use esm_guard::{evaluate, RuleId, Verdict};

use super::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Neither NAT gateway nor endpoints.
    Nothing,
    /// A NAT gateway in a public subnet of the same AZ; the cluster subnet routes 0.0.0.0/0
    /// to it when it is private (a public subnet's default route stays the IGW).
    Nat,
    /// Lambda and STS endpoints with private DNS in the cluster's subnets.
    Endpoints,
    /// Both: a NAT gateway in the VPC and endpoints.
    NatAndEndpoints,
}

struct Case {
    public: bool,
    provisioned: bool,
    path: Path,
    verdict: Verdict,
    no_service_path: bool,
}

fn account(case: &Case) -> (Sample, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let mut subnets = Vec::new();
    for az in ["us-east-1a", "us-east-1b"] {
        let subnet = if case.public {
            s.public_subnet(&vpc, az)
        } else {
            s.private_subnet(&vpc, az)
        };
        if matches!(case.path, Path::Nat | Path::NatAndEndpoints) {
            let (_, nat) = s.public_nat(&vpc, az);
            if !case.public {
                s.route_via_nat(&subnet, &nat);
            }
        }
        subnets.push(subnet);
    }
    let sg = s.cluster_group(&vpc, 9098);
    if matches!(case.path, Path::Endpoints | Path::NatAndEndpoints) {
        s.guide_endpoints(&vpc, &subnets, std::slice::from_ref(&sg));
    }
    let cluster = s.msk_cluster(&subnets, &[sg], Auth::Iam);
    let uuid = s.msk_mapping(&cluster, case.provisioned);
    (s, uuid)
}

#[test]
fn the_guides_four_cases() {
    use Path::*;
    #[rustfmt::skip]
    let cases = [
        // The guide's table with no networking added.
        Case { public: false, provisioned: false, path: Nothing, verdict: Verdict::Fail, no_service_path: true },
        Case { public: true,  provisioned: false, path: Nothing, verdict: Verdict::Fail, no_service_path: true },
        Case { public: false, provisioned: true,  path: Nothing, verdict: Verdict::Pass, no_service_path: false },
        Case { public: true,  provisioned: true,  path: Nothing, verdict: Verdict::Pass, no_service_path: false },
        // Private + on-demand: a NAT route or endpoints.
        Case { public: false, provisioned: false, path: Nat,       verdict: Verdict::Pass, no_service_path: false },
        Case { public: false, provisioned: false, path: Endpoints, verdict: Verdict::Pass, no_service_path: false },
        // Public + on-demand: endpoints only; a NAT gateway in the VPC cannot serve it.
        Case { public: true,  provisioned: false, path: Endpoints,       verdict: Verdict::Pass, no_service_path: false },
        Case { public: true,  provisioned: false, path: Nat,             verdict: Verdict::Fail, no_service_path: true },
        Case { public: true,  provisioned: false, path: NatAndEndpoints, verdict: Verdict::Pass, no_service_path: false },
        // Provisioned mode ignores the service path altogether.
        Case { public: false, provisioned: true,  path: Nat,       verdict: Verdict::Pass, no_service_path: false },
        Case { public: true,  provisioned: true,  path: Endpoints, verdict: Verdict::Pass, no_service_path: false },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let (s, uuid) = account(case);
        let report = evaluate(&s.build());
        let m = mapping(&report, &uuid);
        let label = format!(
            "{} subnet, {}, {:?}",
            if case.public { "public" } else { "private" },
            if case.provisioned {
                "provisioned"
            } else {
                "on-demand"
            },
            case.path
        );
        let missing = findings(&report, &uuid, RuleId::NoServicePath);
        if m.verdict != case.verdict || missing.is_empty() == case.no_service_path {
            failures.push(format!(
                "{label}: verdict {:?}, findings {:#?}",
                m.verdict, m.findings
            ));
            continue;
        }
        if case.no_service_path {
            // Lambda and STS, from both subnets, each naming its endpoint service.
            let mut services: Vec<&str> = missing
                .iter()
                .filter_map(|f| f.resources.iter().find(|r| r.starts_with("com.amazonaws.")))
                .map(String::as_str)
                .collect();
            services.sort();
            assert_eq!(
                services,
                [
                    "com.amazonaws.us-east-1.lambda",
                    "com.amazonaws.us-east-1.sts"
                ],
                "{label}"
            );
            for f in &missing {
                for subnet in subnet_ids(&s)
                    .iter()
                    .filter(|id| m.network.as_ref().unwrap().subnet_ids.contains(id))
                {
                    assert!(f.resources.contains(subnet), "{label}: {f:#?}");
                }
                // A public subnet is never told to use a NAT gateway.
                assert_eq!(
                    f.message
                        .contains("NAT gateway in a public subnet of the same AZ"),
                    !case.public,
                    "{label}: {}",
                    f.message
                );
            }
        }
        // Nothing but the guide's best-practice advice on a passing mapping.
        if case.verdict == Verdict::Pass {
            let rules = rules_of(&report, &uuid);
            assert!(
                rules.iter().all(|r| *r == RuleId::EndpointPolicyOpen),
                "{label}: {rules:?}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
