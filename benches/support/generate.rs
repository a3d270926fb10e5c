//! The snapshot generator of the engine benchmark (benches/engine.rs), shared with
//! examples/bench_snapshot.rs through `#[path]`.
//!
//! Every VPC carries the same realistic layout ([`build_vpc`]); mappings cycle through ten
//! scenarios in it ([`add_mapping`]), so every size has the same mix: about half healthy
//! (endpoint path, NAT path, provisioned mode, MSK and self-managed) and half broken (no
//! service path, wrong broker port, dead NAT gateway, locked-down security group, a network
//! ACL that drops return traffic).

use esm_guard::model::{RouteTarget, Snapshot};
use esm_guard::sample::{allow_all_entries, nacl_entry, Auth, Sample};

const AZ_A: &str = "us-east-1a";
const AZ_B: &str = "us-east-1b";

/// One VPC's shared network: subnets, groups and clusters that its mappings use.
struct Vpc {
    octet: usize,
    /// Private subnets whose 0.0.0.0/0 goes to a public NAT gateway in the same AZ.
    nat: Vec<String>,
    /// Public subnets (default route to the internet gateway).
    public: Vec<String>,
    /// A NAT-routed subnet whose network ACL lets no return traffic in.
    acl_blocked: Vec<String>,
    /// Self-managed client group (AWS default egress: everything).
    sm_group: String,
    /// A group with no egress at all.
    locked_group: String,
    iam_bare: String,
    iam_nat: String,
    scram_nat: String,
    scram_bare: String,
    wrong_port: String,
    dead: String,
}

fn build_vpc(s: &mut Sample, index: usize) -> Vpc {
    let vpc = s.vpc();
    let octet = index % 256;
    let bare = vec![s.private_subnet(&vpc, AZ_A), s.private_subnet(&vpc, AZ_B)];
    let nat = vec![s.private_subnet(&vpc, AZ_A), s.private_subnet(&vpc, AZ_B)];
    let mut public = Vec::new();
    for (subnet, az) in nat.iter().zip([AZ_A, AZ_B]) {
        let (public_subnet, nat_id) = s.public_nat(&vpc, az);
        s.route_via_nat(subnet, &nat_id);
        public.push(public_subnet);
    }
    // A subnet whose NAT gateway was deleted: AWS marks the route a blackhole.
    let dead_a = s.private_subnet(&vpc, AZ_A);
    let dead_nat_id = s.nat(&public[0]);
    s.nat_mut(&dead_nat_id).state = "deleted".into();
    s.route_via_nat(&dead_a, &dead_nat_id);
    for route in &mut s.route_table_of(&dead_a).routes {
        if matches!(route.target, RouteTarget::NatGateway(_)) {
            route.state = "blackhole".into();
        }
    }
    let dead_nat = vec![dead_a, nat[1].clone()];
    // A NAT-routed subnet whose ACL admits only the broker port inbound: replies to the
    // ENIs' own requests (ephemeral ports) are dropped.
    let acl_a = s.private_subnet(&vpc, AZ_A);
    let nat_a = public_nat_of(s, &nat[0]);
    s.route_via_nat(&acl_a, &nat_a);
    let mut entries: Vec<_> = allow_all_entries()
        .into_iter()
        .filter(|e| e.egress)
        .collect();
    entries.push(nacl_entry(
        100,
        false,
        "6",
        true,
        "0.0.0.0/0",
        Some((9092, 9092)),
    ));
    entries.push(nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None));
    s.network_acl(&vpc, std::slice::from_ref(&acl_a), entries);
    let acl_blocked = vec![acl_a];

    let iam_group = s.cluster_group(&vpc, 9098);
    let scram_group = s.cluster_group(&vpc, 9096);
    let wrong_group = s.cluster_group(&vpc, 9092);
    let sm_group = s.security_group(&vpc);
    let locked_group = s.security_group(&vpc);
    s.sg_mut(&locked_group).egress.clear();

    // Two VPCs in three use Lambda and STS interface endpoints (private DNS) in the bare
    // subnets; the third reaches them only through its NAT gateways.
    if index % 3 != 2 {
        s.guide_endpoints(&vpc, &bare, std::slice::from_ref(&iam_group));
    }

    let iam_bare = s.msk_cluster(&bare, std::slice::from_ref(&iam_group), Auth::Iam);
    let iam_nat = s.msk_cluster(&nat, std::slice::from_ref(&iam_group), Auth::Iam);
    let scram_nat = s.msk_cluster(&nat, std::slice::from_ref(&scram_group), Auth::Scram);
    let scram_bare = s.msk_cluster(&bare, std::slice::from_ref(&scram_group), Auth::Scram);
    let wrong_port = s.msk_cluster(&nat, std::slice::from_ref(&wrong_group), Auth::Scram);
    let dead = s.msk_cluster(&dead_nat, std::slice::from_ref(&iam_group), Auth::Iam);
    Vpc {
        octet,
        nat,
        public,
        acl_blocked,
        sm_group,
        locked_group,
        iam_bare,
        iam_nat,
        scram_nat,
        scram_bare,
        wrong_port,
        dead,
    }
}

/// The NAT gateway `subnet`'s default route goes to.
fn public_nat_of(s: &mut Sample, subnet: &str) -> String {
    s.route_table_of(subnet)
        .routes
        .iter()
        .find_map(|r| match &r.target {
            RouteTarget::NatGateway(id) => Some(id.clone()),
            _ => None,
        })
        .expect("a NAT route")
}

/// The ten scenarios a mapping can take in a VPC.
fn add_mapping(s: &mut Sample, v: &Vpc, scenario: usize, k: usize) {
    let broker = format!("10.{}.200.{}:9092", v.octet, 10 + k % 200);
    let servers = [broker.as_str()];
    match scenario {
        // MSK/IAM in private subnets: healthy through endpoints, else no service path.
        0 => {
            s.msk_mapping(&v.iam_bare, false);
        }
        // MSK/IAM behind NAT: healthy (NAT path, or the endpoints where the VPC has them).
        1 => {
            s.msk_mapping(&v.iam_nat, false);
        }
        // Provisioned mode: no service path needed.
        2 => {
            s.msk_mapping(&v.iam_nat, true);
        }
        // SASL/SCRAM behind NAT: Secrets Manager through the NAT gateway.
        3 => {
            s.msk_mapping(&v.scram_nat, false);
        }
        4 => {
            s.msk_mapping(&v.iam_bare, true);
        }
        // Self-managed Kafka in NAT subnets: healthy.
        5 => {
            s.self_managed_mapping(&servers, &v.nat, std::slice::from_ref(&v.sm_group), false);
        }
        // SASL/SCRAM in private subnets with no route to Secrets Manager: broken.
        6 => {
            s.msk_mapping(&v.scram_bare, false);
        }
        // SASL/SCRAM dials 9096, the cluster's group admits only 9092: broken.
        7 => {
            s.msk_mapping(&v.wrong_port, true);
        }
        // Self-managed in public subnets (no NAT possible) or a locked-down group: broken.
        8 => {
            if k % 2 == 0 {
                s.self_managed_mapping(
                    &servers,
                    &v.public,
                    std::slice::from_ref(&v.sm_group),
                    false,
                );
            } else {
                s.self_managed_mapping(
                    &servers,
                    &v.nat,
                    std::slice::from_ref(&v.locked_group),
                    false,
                );
            }
        }
        // A deleted NAT gateway, or a network ACL that drops the replies: broken.
        _ => {
            if k % 2 == 0 {
                s.msk_mapping(&v.dead, false);
            } else {
                s.self_managed_mapping(
                    &servers,
                    &v.acl_blocked,
                    std::slice::from_ref(&v.sm_group),
                    false,
                );
            }
        }
    }
}

/// A snapshot of `mappings` mappings spread evenly over `vpcs` VPCs.
///
/// Mapping `i` goes to VPC `i % vpcs` and takes scenario `(i / vpcs + i % vpcs) % 10`, so
/// every size (one mapping per VPC included) gets the same mix of scenarios.
pub fn account(mappings: usize, vpcs: usize) -> Snapshot {
    assert!(vpcs >= 1 && vpcs <= mappings, "need 1 <= VPCs <= mappings");
    let mut s = Sample::default();
    let layouts: Vec<Vpc> = (0..vpcs).map(|v| build_vpc(&mut s, v)).collect();
    for i in 0..mappings {
        let (vpc, k) = (i % vpcs, i / vpcs);
        add_mapping(&mut s, &layouts[vpc], (k + vpc) % 10, k);
    }
    s.snapshot
}
