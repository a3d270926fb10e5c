//! Convergence of the plan, as a property over generated accounts: applying every automatic
//! action clears every finding those actions target, and planning again automates nothing
//! more. Along the way: no automatic action is wider than RULES.md allows, each is one AWS
//! would accept, and none breaks a mapping it was not meant for.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use esm_guard::model::{GapScope, MqEngine, RouteTarget, Snapshot};
use esm_guard::plan::{plan, simulate, Action, ActionKind};
use esm_guard::sample::{allow_all_entries, nacl_entry, Auth, Sample, ACCOUNT};
use esm_guard::{evaluate, Verdict};

// ---------------------------------------------------------------------------------------
// The recipe of an account
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(super) struct Account {
    vpcs: Vec<VpcPlan>,
    /// A data gap on the n-th mapping (modulo their number).
    gap: Option<usize>,
}

#[derive(Debug, Clone)]
struct VpcPlan {
    azs: usize,
    dns_off: bool,
    nat: Option<NatPlan>,
    /// Route the last AZ's private subnet to a transit gateway instead.
    tgw: bool,
    /// At most one endpoint per service: Lambda, STS, Secrets Manager, SQS.
    endpoints: [Option<EndpointPlan>; 4],
    clusters: Vec<ClusterPlan>,
    self_managed: Vec<SelfManagedPlan>,
    acl: AclPlan,
}

#[derive(Debug, Clone)]
struct NatPlan {
    state: &'static str,
    private_connectivity: bool,
    in_private_subnet: bool,
    /// One NAT gateway in the first AZ for every AZ, rather than one per AZ.
    single: bool,
    blackhole: bool,
}

#[derive(Debug, Clone)]
struct EndpointPlan {
    private_dns: bool,
    pending: bool,
    /// Which AZs (bit mask) get a subnet of the endpoint.
    azs: u8,
    group: EndpointGroup,
    policy: PolicyPlan,
}

#[derive(Debug, Clone, Copy)]
enum EndpointGroup {
    /// The first cluster's group (the guide's setup).
    ClusterGroup,
    /// A group of its own admitting 443 from the VPC's CIDR.
    OwnOpen,
    /// A group of its own admitting nothing.
    OwnBare,
}

#[derive(Debug, Clone, Copy)]
enum PolicyPlan {
    Default,
    Guide,
    DenyAll,
    Conditional,
    OtherPrincipal,
}

#[derive(Debug, Clone)]
struct ClusterPlan {
    public: bool,
    azs: u8,
    auth: AuthPlan,
    rules: SgPlan,
    mappings: Vec<MappingPlan>,
}

#[derive(Debug, Clone, Copy)]
enum AuthPlan {
    Msk(Auth),
    Serverless,
    /// An Amazon MQ broker (its mappings are on-demand: provisioned mode is Kafka's).
    Mq(MqEngine),
    DocumentDb,
}

#[derive(Debug, Clone)]
struct MappingPlan {
    provisioned: bool,
    problem: bool,
    role_unknown: bool,
    dlq: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct SelfManagedPlan {
    /// No VPC configuration: brokers over the internet.
    internet: bool,
    public: bool,
    by_address: bool,
    port: u16,
    rules: SgPlan,
    mapping: MappingPlan,
}

#[derive(Debug, Clone, Copy)]
struct SgPlan {
    ingress: Ingress,
    egress: Egress,
}

#[derive(Debug, Clone, Copy)]
enum Ingress {
    Nothing,
    SelfBroker,
    SelfBrokerAndHttps,
    SelfAll,
    VpcCidrRange,
    HalfSubnet,
}

#[derive(Debug, Clone, Copy)]
enum Egress {
    AllAnywhere,
    Nothing,
    SelfBroker,
    HttpsAnywhere,
    SelfAll,
}

#[derive(Debug, Clone, Copy)]
enum AclPlan {
    Default,
    DenyEphemeralIn,
    Deny443Out,
    VpcOnly,
}

const SERVICES: [&str; 4] = ["lambda", "sts", "secretsmanager", "sqs"];

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn sg_plan() -> impl Strategy<Value = SgPlan> {
    let ingress = prop_oneof![
        1 => Just(Ingress::Nothing),
        1 => Just(Ingress::SelfBroker),
        3 => Just(Ingress::SelfBrokerAndHttps),
        1 => Just(Ingress::SelfAll),
        1 => Just(Ingress::VpcCidrRange),
        1 => Just(Ingress::HalfSubnet)];
    let egress = prop_oneof![
        3 => Just(Egress::AllAnywhere),
        1 => Just(Egress::Nothing),
        1 => Just(Egress::SelfBroker),
        1 => Just(Egress::HttpsAnywhere),
        1 => Just(Egress::SelfAll)];
    (ingress, egress).prop_map(|(ingress, egress)| SgPlan { ingress, egress })
}

fn mapping_plan() -> impl Strategy<Value = MappingPlan> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
        prop_oneof![6 => Just(None), 1 => Just(Some("sqs")), 1 => Just(Some("sns")), 1 => Just(Some("s3"))],
    )
        .prop_map(|(provisioned, problem, role_unknown, dlq)| MappingPlan {
            provisioned,
            problem,
            role_unknown,
            dlq,
        })
}

fn endpoint_plan() -> impl Strategy<Value = EndpointPlan> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.1),
        1u8..8,
        prop_oneof![
            2 => Just(EndpointGroup::ClusterGroup),
            1 => Just(EndpointGroup::OwnOpen),
            1 => Just(EndpointGroup::OwnBare)
        ],
        prop_oneof![
            3 => Just(PolicyPlan::Default),
            2 => Just(PolicyPlan::Guide),
            1 => Just(PolicyPlan::DenyAll),
            1 => Just(PolicyPlan::Conditional),
            1 => Just(PolicyPlan::OtherPrincipal)
        ],
    )
        .prop_map(|(private_dns, pending, azs, group, policy)| EndpointPlan {
            private_dns,
            pending,
            azs,
            group,
            policy,
        })
}

fn nat_plan() -> impl Strategy<Value = NatPlan> {
    (
        prop_oneof![6 => Just("available"), 1 => Just("failed"), 1 => Just("pending")],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        any::<bool>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(state, private_connectivity, in_private_subnet, single, blackhole)| NatPlan {
                state,
                private_connectivity,
                in_private_subnet,
                single,
                blackhole,
            },
        )
}

fn cluster_plan() -> impl Strategy<Value = ClusterPlan> {
    (
        prop::bool::weighted(0.3),
        1u8..8,
        prop_oneof![
            3 => Just(AuthPlan::Msk(Auth::Iam)),
            2 => Just(AuthPlan::Msk(Auth::Scram)),
            1 => Just(AuthPlan::Msk(Auth::Tls)),
            1 => Just(AuthPlan::Msk(Auth::Plaintext)),
            1 => Just(AuthPlan::Serverless),
            1 => Just(AuthPlan::Mq(MqEngine::ActiveMq)),
            1 => Just(AuthPlan::Mq(MqEngine::RabbitMq)),
            1 => Just(AuthPlan::DocumentDb)],
        sg_plan(),
        prop::collection::vec(mapping_plan(), 1..=2),
    )
        .prop_map(|(public, azs, auth, rules, mappings)| ClusterPlan {
            public,
            azs,
            auth,
            rules,
            mappings,
        })
}

fn self_managed_plan() -> impl Strategy<Value = SelfManagedPlan> {
    (
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
        any::<bool>(),
        prop_oneof![Just(9092u16), Just(9093), Just(9096)],
        sg_plan(),
        mapping_plan(),
    )
        .prop_map(
            |(internet, public, by_address, port, rules, mapping)| SelfManagedPlan {
                internet,
                public,
                by_address,
                port,
                rules,
                mapping,
            },
        )
}

fn vpc_plan() -> impl Strategy<Value = VpcPlan> {
    (
        1usize..=3,
        prop::bool::weighted(0.1),
        prop::option::weighted(0.5, nat_plan()),
        prop::bool::weighted(0.1),
        [
            prop::option::weighted(0.4, endpoint_plan()),
            prop::option::weighted(0.4, endpoint_plan()),
            prop::option::weighted(0.3, endpoint_plan()),
            prop::option::weighted(0.1, endpoint_plan()),
        ],
        prop::collection::vec(cluster_plan(), 0..=2),
        prop::collection::vec(self_managed_plan(), 0..=1),
        prop_oneof![
            5 => Just(AclPlan::Default),
            1 => Just(AclPlan::DenyEphemeralIn),
            1 => Just(AclPlan::Deny443Out),
            1 => Just(AclPlan::VpcOnly)
        ],
    )
        .prop_map(
            |(azs, dns_off, nat, tgw, endpoints, clusters, self_managed, acl)| VpcPlan {
                azs,
                dns_off,
                nat,
                tgw,
                endpoints,
                clusters,
                self_managed,
                acl,
            },
        )
}

pub(super) fn account() -> impl Strategy<Value = Account> {
    (
        prop::collection::vec(vpc_plan(), 1..=3),
        prop::option::weighted(0.15, 0usize..8),
    )
        .prop_map(|(vpcs, gap)| Account { vpcs, gap })
}

// ---------------------------------------------------------------------------------------
// Building the account
// ---------------------------------------------------------------------------------------

const AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

fn picked(mask: u8, azs: usize) -> Vec<usize> {
    let chosen: Vec<usize> = (0..azs).filter(|i| mask & (1 << i) != 0).collect();
    if chosen.is_empty() {
        vec![0]
    } else {
        chosen
    }
}

fn apply_rules(
    s: &mut Sample,
    sg: &str,
    rules: SgPlan,
    port: u16,
    subnet_cidr: &str,
    vpc_cidr: &str,
) {
    s.sg_mut(sg).egress.clear();
    match rules.ingress {
        Ingress::Nothing => {}
        Ingress::SelfBroker => s.allow_group(sg, false, port, sg),
        Ingress::SelfBrokerAndHttps => {
            s.allow_group(sg, false, port, sg);
            s.allow_group(sg, false, 443, sg);
        }
        Ingress::SelfAll => {
            s.sg_mut(sg).ingress.push(esm_guard::model::SgRule {
                protocol: "-1".into(),
                group_ids: vec![sg.to_string()],
                ..Default::default()
            });
        }
        Ingress::VpcCidrRange => s.allow_cidr(sg, false, "tcp", Some((443, 9100)), vpc_cidr),
        Ingress::HalfSubnet => {
            let half = subnet_cidr.replace(".0/24", ".0/25");
            s.allow_cidr(
                sg,
                false,
                "tcp",
                Some((i32::from(port), i32::from(port))),
                &half,
            );
        }
    }
    match rules.egress {
        Egress::AllAnywhere => s.allow_cidr(sg, true, "-1", None, "0.0.0.0/0"),
        Egress::Nothing => {}
        Egress::SelfBroker => s.allow_group(sg, true, port, sg),
        Egress::HttpsAnywhere => s.allow_cidr(sg, true, "tcp", Some((443, 443)), "0.0.0.0/0"),
        Egress::SelfAll => s.sg_mut(sg).egress.push(esm_guard::model::SgRule {
            protocol: "-1".into(),
            group_ids: vec![sg.to_string()],
            ..Default::default()
        }),
    }
}

fn port_of(auth: AuthPlan) -> u16 {
    match auth {
        AuthPlan::Msk(Auth::Iam) | AuthPlan::Serverless => 9098,
        AuthPlan::Msk(Auth::Scram) => 9096,
        AuthPlan::Msk(Auth::Tls) => 9094,
        AuthPlan::Msk(Auth::Plaintext) => 9092,
        AuthPlan::Mq(engine) => engine.port(),
        AuthPlan::DocumentDb => 27017,
    }
}

fn shape_mapping(s: &mut Sample, uuid: &str, plan: &MappingPlan) {
    let region = s.region();
    let m = s.mapping_mut(uuid);
    if plan.problem {
        m.last_processing_result = Some("PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS.".into());
    }
    if plan.role_unknown {
        m.execution_role = None;
    }
    m.on_failure_destination = plan.dlq.map(|kind| match kind {
        "s3" => "arn:aws:s3:::esm-failures".to_string(),
        kind => format!("arn:aws:{kind}:{region}:{ACCOUNT}:failures-{uuid}"),
    });
}

pub(super) fn build(account: &Account) -> Snapshot {
    let mut s = Sample::default();
    for v in &account.vpcs {
        let vpc = s.vpc();
        let vpc_cidr = s
            .snapshot
            .vpcs
            .iter()
            .find(|x| x.id == vpc)
            .unwrap()
            .cidr_blocks[0]
            .to_string();
        if v.dns_off {
            s.vpc_mut(&vpc).dns_hostnames = Some(false);
        }
        let private: Vec<String> = (0..v.azs).map(|i| s.private_subnet(&vpc, AZS[i])).collect();
        let public: Vec<String> = (0..v.azs).map(|i| s.public_subnet(&vpc, AZS[i])).collect();

        if let Some(n) = &v.nat {
            let mut nats: Vec<String> = Vec::new();
            for i in 0..v.azs {
                if n.single && i > 0 {
                    nats.push(nats[0].clone());
                    continue;
                }
                let home = if n.in_private_subnet {
                    &private[i]
                } else {
                    &public[i]
                };
                let nat = s.nat(home);
                s.nat_mut(&nat).state = n.state.into();
                if n.private_connectivity {
                    s.nat_mut(&nat).connectivity_type = "private".into();
                }
                nats.push(nat);
            }
            for (i, subnet) in private.iter().enumerate() {
                s.route_via_nat(subnet, &nats[i]);
            }
            if n.blackhole {
                s.route_table_of(&private[0])
                    .routes
                    .iter_mut()
                    .for_each(|r| {
                        if r.destination == "0.0.0.0/0" {
                            r.state = "blackhole".into();
                        }
                    });
            }
        }
        if v.tgw {
            let last = private.last().unwrap().clone();
            s.set_default_route(
                &last,
                RouteTarget::TransitGateway("tgw-0a1b2c3d4e5f60718".into()),
            );
        }

        // Clusters and their mappings.
        let mut first_group: Option<String> = None;
        let mut mapping_uuids: Vec<String> = Vec::new();
        for c in &v.clusters {
            let port = port_of(c.auth);
            let subnets: Vec<String> = picked(c.azs, v.azs)
                .into_iter()
                .map(|i| {
                    if c.public {
                        public[i].clone()
                    } else {
                        private[i].clone()
                    }
                })
                .collect();
            let subnet_cidr = s.subnet(&subnets[0]).cidr.to_string();
            let sg = s.security_group(&vpc);
            apply_rules(&mut s, &sg, c.rules, port, &subnet_cidr, &vpc_cidr);
            first_group.get_or_insert(sg.clone());
            let arn = match c.auth {
                AuthPlan::Msk(auth) => s.msk_cluster(&subnets, std::slice::from_ref(&sg), auth),
                AuthPlan::Serverless => s.serverless_cluster(&subnets, std::slice::from_ref(&sg)),
                AuthPlan::Mq(engine) => {
                    s.mq_broker(engine, &subnets, std::slice::from_ref(&sg), false)
                }
                AuthPlan::DocumentDb => s.docdb_cluster(&subnets, std::slice::from_ref(&sg), 27017),
            };
            for m in &c.mappings {
                let uuid = match c.auth {
                    AuthPlan::Mq(_) => s.mq_mapping(&arn),
                    AuthPlan::DocumentDb => s.docdb_mapping(&arn),
                    _ => s.msk_mapping(&arn, m.provisioned),
                };
                shape_mapping(&mut s, &uuid, m);
                mapping_uuids.push(uuid);
            }
        }
        for (k, sm) in v.self_managed.iter().enumerate() {
            let server = if sm.by_address {
                format!(
                    "{}:{}",
                    vpc_cidr.replace(".0.0/16", &format!(".200.{}", 10 + k)),
                    sm.port
                )
            } else {
                format!("b-{k}.kafka.internal:{}", sm.port)
            };
            let uuid = if sm.internet {
                s.self_managed_mapping(&[&server], &[], &[], sm.mapping.provisioned)
            } else {
                let subnets = if sm.public {
                    public.clone()
                } else {
                    private.clone()
                };
                let subnet_cidr = s.subnet(&subnets[0]).cidr.to_string();
                let sg = s.security_group(&vpc);
                apply_rules(&mut s, &sg, sm.rules, sm.port, &subnet_cidr, &vpc_cidr);
                first_group.get_or_insert(sg.clone());
                s.self_managed_mapping(&[&server], &subnets, &[sg], sm.mapping.provisioned)
            };
            shape_mapping(&mut s, &uuid, &sm.mapping);
            mapping_uuids.push(uuid);
        }

        // Endpoints.
        for (service, plan) in SERVICES.iter().zip(&v.endpoints) {
            let Some(e) = plan else { continue };
            let subnets: Vec<String> = picked(e.azs, v.azs)
                .into_iter()
                .map(|i| private[i].clone())
                .collect();
            let group = match (e.group, &first_group) {
                (EndpointGroup::ClusterGroup, Some(g)) => g.clone(),
                (EndpointGroup::OwnBare, _) => s.security_group(&vpc),
                _ => {
                    let g = s.security_group(&vpc);
                    s.allow_cidr(&g, false, "tcp", Some((443, 443)), &vpc_cidr);
                    g
                }
            };
            let id = s.endpoint(&vpc, service, &subnets, &[group], e.private_dns);
            if e.pending {
                s.endpoint_mut(&id).state = "pending".into();
            }
            let action = match *service {
                "lambda" => "lambda:InvokeFunction",
                "sts" => "sts:AssumeRole",
                "secretsmanager" => "secretsmanager:GetSecretValue",
                _ => "sqs:SendMessage",
            };
            let document = match e.policy {
                PolicyPlan::Default => None,
                PolicyPlan::Guide if *service == "lambda" || *service == "sts" => {
                    Some(esm_guard::policy::service_principal_policy(action))
                }
                PolicyPlan::Guide => Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": action,
                        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Resource": "*"}]})
                    .to_string(),
                ),
                PolicyPlan::DenyAll => Some(
                    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#.into(),
                ),
                PolicyPlan::Conditional => Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "*", "Principal": "*", "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceVpc": vpc}}}]})
                    .to_string(),
                ),
                PolicyPlan::OtherPrincipal => Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": action,
                        "Principal": {"AWS": "arn:aws:iam::210987654321:role/other"}, "Resource": "*"}]})
                    .to_string(),
                ),
            };
            s.endpoint_mut(&id).policy_document = document;
        }

        // Network ACL of the private subnets.
        let entries = match v.acl {
            AclPlan::Default => None,
            AclPlan::DenyEphemeralIn => {
                let mut e = allow_all_entries();
                e.push(nacl_entry(
                    90,
                    false,
                    "6",
                    false,
                    "0.0.0.0/0",
                    Some((1024, 65535)),
                ));
                Some(e)
            }
            AclPlan::Deny443Out => {
                let mut e = allow_all_entries();
                e.push(nacl_entry(
                    90,
                    true,
                    "6",
                    false,
                    "0.0.0.0/0",
                    Some((443, 443)),
                ));
                Some(e)
            }
            AclPlan::VpcOnly => Some(vec![
                nacl_entry(100, false, "-1", true, &vpc_cidr, None),
                nacl_entry(100, true, "-1", true, &vpc_cidr, None),
                nacl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
                nacl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
            ]),
        };
        if let Some(entries) = entries {
            s.network_acl(&vpc, &private, entries);
        }
    }
    if let Some(n) = account.gap {
        let uuids: Vec<String> = s.snapshot.mappings.iter().map(|m| m.uuid.clone()).collect();
        if !uuids.is_empty() {
            s.gap(
                "lambda:GetFunction",
                GapScope::Mapping(uuids[n % uuids.len()].clone()),
            );
        }
    }
    s.build()
}

// ---------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------

/// What AWS would reject, or RULES.md forbids, in an automatic action.
fn invalid(snapshot: &Snapshot, action: &Action) -> Option<String> {
    if action.command.contains("0.0.0.0/0") || action.command.contains("CidrIp") {
        return Some("opens an address range".into());
    }
    let group_vpc = |id: &str| {
        snapshot
            .security_groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.vpc_id.clone())
    };
    match &action.kind {
        ActionKind::AuthorizeIngress {
            group_id,
            source_group_id: peer,
            ..
        }
        | ActionKind::AuthorizeEgress {
            group_id,
            destination_group_id: peer,
            ..
        } => {
            // A group created with a planned endpoint is the mapping's own: it exists.
            match (group_vpc(group_id), group_vpc(peer)) {
                (Some(a), Some(b)) if a == b => None,
                other => Some(format!(
                    "groups {group_id} and {peer} are not in one VPC: {other:?}"
                )),
            }
        }
        ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            subnet_ids,
            security_group_ids,
            private_dns_enabled,
            ..
        } => {
            let mut azs = BTreeSet::new();
            for id in subnet_ids {
                let Some(subnet) = snapshot.subnets.iter().find(|s| s.id == *id) else {
                    return Some(format!("unknown subnet {id}"));
                };
                if subnet.vpc_id != *vpc_id {
                    return Some(format!("subnet {id} is not in {vpc_id}"));
                }
                if !azs.insert(subnet.availability_zone.clone()) {
                    return Some(format!(
                        "two subnets in {} (AWS takes one per AZ)",
                        subnet.availability_zone
                    ));
                }
            }
            if security_group_ids
                .iter()
                .any(|g| group_vpc(g).as_deref() != Some(vpc_id.as_str()))
            {
                return Some("a group of another VPC".into());
            }
            let vpc = snapshot.vpcs.iter().find(|v| v.id == *vpc_id)?;
            if *private_dns_enabled
                && (vpc.dns_support != Some(true) || vpc.dns_hostnames != Some(true))
            {
                return Some(format!(
                    "private DNS in {vpc_id}, whose DNS attributes are off (AWS rejects it)"
                ));
            }
            None
        }
        ActionKind::Manual { .. } => Some("a manual step marked automatic".into()),
    }
}

fn check_convergence(snapshot: &Snapshot) -> Result<(), TestCaseError> {
    let report = evaluate(snapshot);
    let actions = plan(snapshot, &report);
    let automatic: Vec<&Action> = actions.iter().filter(|a| a.automatic).collect();
    for a in &automatic {
        prop_assert!(!a.fixes.is_empty(), "{} fixes nothing", a.id);
        if let Some(why) = invalid(snapshot, a) {
            return Err(TestCaseError::fail(format!("{}: {why}\n{a:#?}", a.id)));
        }
    }

    let mut after = snapshot.clone();
    for a in &automatic {
        simulate(&mut after, a);
    }
    let again = evaluate(&after);
    for a in &automatic {
        for r in &a.fixes {
            let left: Vec<_> = again
                .mapping(&r.esm_uuid)
                .into_iter()
                .flat_map(|m| &m.findings)
                .filter(|f| f.rule == r.rule && f.id == r.finding)
                .collect();
            prop_assert!(
                left.is_empty(),
                "{} was applied but {:?} is still there: {left:#?}",
                a.id,
                r
            );
        }
    }
    let replanned = plan(&after, &again);
    let more: Vec<&Action> = replanned.iter().filter(|a| a.automatic).collect();
    prop_assert!(more.is_empty(), "planning again automates more: {more:#?}");

    // The automatic actions never make any mapping's verdict worse.
    let before: BTreeMap<&str, Verdict> = report
        .mappings
        .iter()
        .map(|m| (m.uuid.as_str(), m.verdict))
        .collect();
    for m in &again.mappings {
        let was = before[m.uuid.as_str()];
        prop_assert!(
            m.verdict <= was || was == Verdict::Fail,
            "{}: {was:?} before the automatic actions, {:?} after: {:#?}\nactions: {:#?}",
            m.uuid,
            m.verdict,
            m.findings,
            automatic
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 2048, ..ProptestConfig::default() })]

    #[test]
    fn applying_the_automatic_plan_converges(account in account()) {
        check_convergence(&build(&account))?;
    }
}

/// The generator covers what the property is about: findings, automatic actions and
/// endpoint creation all occur (a generator that produced only healthy accounts would make
/// the property vacuous).
#[test]
fn the_generator_produces_what_the_property_needs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut rules = BTreeSet::new();
    let (mut automatic, mut endpoints, mut verdicts) = (0, 0, BTreeSet::new());
    for _ in 0..64 {
        let snapshot = build(&account().new_tree(&mut runner).unwrap().current());
        let report = evaluate(&snapshot);
        for m in &report.mappings {
            verdicts.insert(m.verdict);
            rules.extend(m.findings.iter().map(|f| f.rule));
        }
        for a in plan(&snapshot, &report).iter().filter(|a| a.automatic) {
            automatic += 1;
            endpoints += usize::from(matches!(a.kind, ActionKind::CreateInterfaceEndpoint { .. }));
        }
    }
    assert!(
        automatic > 20 && endpoints > 5,
        "{automatic} automatic actions, {endpoints} endpoints"
    );
    assert_eq!(verdicts.len(), 4, "{verdicts:?}");
    assert!(rules.len() >= 15, "{rules:?}");
}
