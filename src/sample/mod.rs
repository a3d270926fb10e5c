//! Sample accounts built in memory, for tests, the property test and the benchmarks.
//!
//! Each VPC comes as AWS creates one: a main route table with only the local route, a
//! default network ACL that allows everything, and a default security group.

mod sources;

use crate::model::*;

/// Builds a snapshot step by step; ids are sequential and deterministic.
#[derive(Debug, Clone)]
pub struct Sample {
    pub snapshot: Snapshot,
    next: u32,
}

pub const ACCOUNT: &str = "123456789012";

/// The policy EC2 reports for an endpoint created without one.
pub const DEFAULT_ENDPOINT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// How a mapping authenticates to an MSK cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Iam,
    Scram,
    Tls,
    Plaintext,
}

impl Default for Sample {
    fn default() -> Self {
        Sample::new("us-east-1")
    }
}

impl Sample {
    pub fn new(region: &str) -> Self {
        Sample {
            snapshot: Snapshot::new(region),
            next: 0,
        }
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:017x}", self.next)
    }

    pub fn region(&self) -> String {
        self.snapshot.region.clone()
    }

    /// The ARN prefix of the region's partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        Partition::of_region(&self.snapshot.region).id()
    }

    /// A VPC `10.N.0.0/16` with DNS on, an internet gateway, a main route table (local
    /// only), an allow-all default network ACL and a default security group.
    pub fn vpc(&mut self) -> String {
        let id = self.id("vpc");
        let n = self.snapshot.vpcs.len() as u32 % 256;
        self.snapshot.vpcs.push(Vpc {
            id: id.clone(),
            cidr_blocks: vec![format!("10.{n}.0.0/16").parse().expect("valid CIDR")],
            dns_support: Some(true),
            dns_hostnames: Some(true),
            tags: Some(Default::default()),
        });
        let igw = self.id("igw");
        self.snapshot.internet_gateways.push(InternetGateway {
            id: igw,
            vpc_ids: vec![id.clone()],
        });
        let rtb = self.id("rtb");
        self.snapshot.route_tables.push(RouteTable {
            id: rtb,
            vpc_id: id.clone(),
            main: true,
            subnet_ids: vec![],
            routes: vec![local_route(&format!("10.{n}.0.0/16"))],
        });
        let acl = self.id("acl");
        self.snapshot.network_acls.push(NetworkAcl {
            id: acl,
            vpc_id: id.clone(),
            is_default: true,
            subnet_ids: vec![],
            entries: allow_all_entries(),
        });
        id
    }

    pub fn igw_of(&self, vpc: &str) -> String {
        self.snapshot
            .internet_gateways
            .iter()
            .find(|g| g.vpc_ids.iter().any(|v| v == vpc))
            .map(|g| g.id.clone())
            .unwrap_or_default()
    }

    fn vpc_octet(&self, vpc: &str) -> u32 {
        self.snapshot
            .vpcs
            .iter()
            .position(|v| v.id == vpc)
            .map(|p| p as u32 % 256)
            .unwrap_or(0)
    }

    /// A subnet with its own route table holding only the local route.
    pub fn private_subnet(&mut self, vpc: &str, az: &str) -> String {
        let id = self.id("subnet");
        let octet = self.vpc_octet(vpc);
        let k = self
            .snapshot
            .subnets
            .iter()
            .filter(|s| s.vpc_id == vpc)
            .count() as u32;
        self.snapshot.subnets.push(Subnet {
            id: id.clone(),
            vpc_id: vpc.to_string(),
            availability_zone: az.to_string(),
            cidr: format!("10.{octet}.{}.0/24", k % 256)
                .parse()
                .expect("valid CIDR"),
            ipv6_cidrs: vec![],
        });
        let rtb = self.id("rtb");
        self.snapshot.route_tables.push(RouteTable {
            id: rtb,
            vpc_id: vpc.to_string(),
            main: false,
            subnet_ids: vec![id.clone()],
            routes: vec![local_route(&format!("10.{octet}.0.0/16"))],
        });
        id
    }

    /// A subnet whose route table sends 0.0.0.0/0 to the VPC's internet gateway.
    pub fn public_subnet(&mut self, vpc: &str, az: &str) -> String {
        let id = self.private_subnet(vpc, az);
        let igw = self.igw_of(vpc);
        self.set_default_route(&id, RouteTarget::InternetGateway(igw));
        id
    }

    pub fn route_table_of(&mut self, subnet: &str) -> &mut RouteTable {
        let pos = self
            .snapshot
            .route_tables
            .iter()
            .position(|t| t.subnet_ids.iter().any(|s| s == subnet))
            .expect("subnet has a route table");
        &mut self.snapshot.route_tables[pos]
    }

    pub fn set_default_route(&mut self, subnet: &str, target: RouteTarget) {
        let table = self.route_table_of(subnet);
        table.routes.retain(|r| r.destination != "0.0.0.0/0");
        table.routes.push(Route {
            destination: "0.0.0.0/0".into(),
            target,
            state: "active".into(),
        });
    }

    /// A public NAT gateway, available, in `public_subnet`.
    pub fn nat(&mut self, public_subnet: &str) -> String {
        let id = self.id("nat");
        let vpc = self.subnet(public_subnet).vpc_id.clone();
        self.snapshot.nat_gateways.push(NatGateway {
            id: id.clone(),
            vpc_id: vpc,
            subnet_id: public_subnet.to_string(),
            state: "available".into(),
            connectivity_type: "public".into(),
        });
        id
    }

    pub fn nat_mut(&mut self, id: &str) -> &mut NatGateway {
        self.snapshot
            .nat_gateways
            .iter_mut()
            .find(|n| n.id == id)
            .expect("known NAT gateway")
    }

    pub fn subnet(&self, id: &str) -> &Subnet {
        self.snapshot
            .subnets
            .iter()
            .find(|s| s.id == id)
            .expect("known subnet")
    }

    /// A security group with no ingress and the default egress (all traffic to 0.0.0.0/0).
    pub fn security_group(&mut self, vpc: &str) -> String {
        let id = self.id("sg");
        self.snapshot.security_groups.push(SecurityGroup {
            id: id.clone(),
            name: id.clone(),
            vpc_id: vpc.to_string(),
            ingress: vec![],
            egress: vec![SgRule {
                protocol: "-1".into(),
                ipv4_ranges: vec!["0.0.0.0/0".parse().expect("valid CIDR")],
                ..SgRule::default()
            }],
            tags: Default::default(),
        });
        id
    }

    pub fn sg_mut(&mut self, id: &str) -> &mut SecurityGroup {
        self.snapshot
            .security_groups
            .iter_mut()
            .find(|g| g.id == id)
            .expect("known security group")
    }

    /// Adds a TCP rule `port` from (ingress) or to (egress) a group.
    pub fn allow_group(&mut self, sg: &str, egress: bool, port: u16, peer: &str) {
        let rule = SgRule {
            protocol: "tcp".into(),
            from_port: Some(i32::from(port)),
            to_port: Some(i32::from(port)),
            group_ids: vec![peer.to_string()],
            ..SgRule::default()
        };
        let g = self.sg_mut(sg);
        if egress {
            g.egress.push(rule)
        } else {
            g.ingress.push(rule)
        }
    }

    /// A security group that admits the broker port and 443 from itself, as the guide sets up.
    pub fn cluster_group(&mut self, vpc: &str, port: u16) -> String {
        let sg = self.security_group(vpc);
        self.allow_group(&sg, false, port, &sg);
        self.allow_group(&sg, false, 443, &sg);
        sg
    }

    /// An interface endpoint for `service` (`lambda`, `sts`, ...), available, with the
    /// default (full access) policy, as EC2 reports it.
    pub fn endpoint(
        &mut self,
        vpc: &str,
        service: &str,
        subnets: &[String],
        groups: &[String],
        private_dns: bool,
    ) -> String {
        let id = self.id("vpce");
        let region = self.region();
        self.snapshot.vpc_endpoints.push(VpcEndpoint {
            id: id.clone(),
            vpc_id: vpc.to_string(),
            service_name: Partition::of_region(&region).endpoint_service_name(&region, service),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            subnet_ids: subnets.to_vec(),
            security_group_ids: groups.to_vec(),
            route_table_ids: vec![],
            private_dns_enabled: private_dns,
            policy_document: Some(DEFAULT_ENDPOINT_POLICY.to_string()),
            tags: Default::default(),
        });
        id
    }

    pub fn endpoint_mut(&mut self, id: &str) -> &mut VpcEndpoint {
        self.snapshot
            .vpc_endpoints
            .iter_mut()
            .find(|e| e.id == id)
            .expect("known endpoint")
    }

    /// A network ACL associated with `subnets` (taken from their previous ACL).
    pub fn network_acl(
        &mut self,
        vpc: &str,
        subnets: &[String],
        entries: Vec<NaclEntry>,
    ) -> String {
        let id = self.id("acl");
        for acl in &mut self.snapshot.network_acls {
            acl.subnet_ids.retain(|s| !subnets.contains(s));
        }
        self.snapshot.network_acls.push(NetworkAcl {
            id: id.clone(),
            vpc_id: vpc.to_string(),
            is_default: false,
            subnet_ids: subnets.to_vec(),
            entries,
        });
        id
    }

    /// A provisioned MSK cluster on `subnets` with `groups`, authenticating as `auth`.
    pub fn msk_cluster(&mut self, subnets: &[String], groups: &[String], auth: Auth) -> String {
        let n = self.id("c");
        let arn = format!(
            "arn:{}:kafka:{}:{ACCOUNT}:cluster/{n}/0000-{n}",
            self.partition(),
            self.region()
        );
        self.snapshot.clusters.push(MskCluster {
            arn: arn.clone(),
            name: n,
            state: Some("ACTIVE".into()),
            kind: ClusterKind::Provisioned {
                broker_subnets: subnets.to_vec(),
                security_groups: groups.to_vec(),
                client_authentication: ClientAuthentication {
                    iam: auth == Auth::Iam,
                    scram: auth == Auth::Scram,
                    tls: auth == Auth::Tls,
                    unauthenticated: auth == Auth::Plaintext,
                },
                client_broker_encryption: Some(
                    if auth == Auth::Plaintext {
                        "PLAINTEXT"
                    } else {
                        "TLS"
                    }
                    .into(),
                ),
            },
        });
        arn
    }

    /// An MSK Serverless cluster.
    pub fn serverless_cluster(&mut self, subnets: &[String], groups: &[String]) -> String {
        let n = self.id("s");
        let arn = format!(
            "arn:{}:kafka:{}:{ACCOUNT}:cluster/{n}/0000-{n}",
            self.partition(),
            self.region()
        );
        self.snapshot.clusters.push(MskCluster {
            arn: arn.clone(),
            name: n,
            state: Some("ACTIVE".into()),
            kind: ClusterKind::Serverless {
                vpc_configs: vec![ServerlessVpcConfig {
                    subnet_ids: subnets.to_vec(),
                    security_group_ids: groups.to_vec(),
                }],
            },
        });
        arn
    }

    /// An MSK VPC connection in this account (client subnets and groups) to a cluster of
    /// another account.
    pub fn vpc_connection(&mut self, subnets: &[String], groups: &[String]) -> String {
        let n = self.id("vc");
        let arn = format!(
            "arn:{}:kafka:{}:{ACCOUNT}:vpc-connection/444455556666/{n}/0000-{n}",
            self.partition(),
            self.region()
        );
        let vpc = self.subnet(&subnets[0]).vpc_id.clone();
        self.snapshot.vpc_connections.push(VpcConnection {
            arn: arn.clone(),
            target_cluster_arn: format!(
                "arn:{}:kafka:{}:444455556666:cluster/{n}/0000-{n}",
                self.partition(),
                self.region()
            ),
            state: Some("AVAILABLE".into()),
            authentication: Some("SASL_IAM".into()),
            vpc_id: vpc,
            subnet_ids: subnets.to_vec(),
            security_group_ids: groups.to_vec(),
        });
        arn
    }

    /// A mapping reading through an MSK VPC connection.
    pub fn vpc_connection_mapping(&mut self, connection_arn: &str, provisioned: bool) -> String {
        self.mapping(
            EventSource::MskVpcConnection {
                connection_arn: connection_arn.to_string(),
            },
            provisioned,
            vec![],
        )
    }

    fn mapping(
        &mut self,
        source: EventSource,
        provisioned: bool,
        access: Vec<SourceAccess>,
    ) -> String {
        self.next += 1;
        let uuid = format!("00000000-0000-4000-8000-{:012x}", self.next);
        let region = self.region();
        self.snapshot.mappings.push(EventSourceMapping {
            uuid: uuid.clone(),
            arn: Some(format!(
                "arn:{}:lambda:{region}:{ACCOUNT}:event-source-mapping:{uuid}",
                self.partition()
            )),
            function_arn: format!(
                "arn:{}:lambda:{region}:{ACCOUNT}:function:consumer-{}",
                self.partition(),
                self.next
            ),
            execution_role: Some(format!(
                "arn:{}:iam::{ACCOUNT}:role/consumer-{}",
                self.partition(),
                self.next
            )),
            source,
            provisioned_poller: provisioned.then_some(ProvisionedPollerConfig {
                minimum_pollers: Some(1),
                maximum_pollers: Some(2),
            }),
            source_access: access,
            topics: vec!["orders".into()],
            on_failure_destination: None,
            state: Some("Enabled".into()),
            last_processing_result: Some("OK".into()),
            state_transition_reason: Some("User action".into()),
            tags: Default::default(),
        });
        uuid
    }

    /// A mapping on an MSK cluster; a SCRAM cluster gets a Secrets Manager secret.
    pub fn msk_mapping(&mut self, cluster_arn: &str, provisioned: bool) -> String {
        let scram = self.snapshot.clusters.iter().any(|c| {
            c.arn == cluster_arn
                && matches!(&c.kind, ClusterKind::Provisioned { client_authentication, .. } if client_authentication.scram)
        });
        let access = if scram {
            vec![SourceAccess {
                kind: "SASL_SCRAM_512_AUTH".into(),
                uri: format!(
                    "arn:{}:secretsmanager:{}:{ACCOUNT}:secret:AmazonMSK_kafka-{}",
                    self.partition(),
                    self.region(),
                    self.next
                ),
            }]
        } else {
            vec![]
        };
        self.mapping(
            EventSource::Msk {
                cluster_arn: cluster_arn.to_string(),
            },
            provisioned,
            access,
        )
    }

    /// A self-managed Kafka mapping in `subnets` with `groups` (none: over the internet).
    pub fn self_managed_mapping(
        &mut self,
        servers: &[&str],
        subnets: &[String],
        groups: &[String],
        provisioned: bool,
    ) -> String {
        let mut access: Vec<SourceAccess> = subnets
            .iter()
            .map(|s| SourceAccess {
                kind: "VPC_SUBNET".into(),
                uri: format!("subnet:{s}"),
            })
            .collect();
        access.extend(groups.iter().map(|g| SourceAccess {
            kind: "VPC_SECURITY_GROUP".into(),
            uri: format!("security_group:{g}"),
        }));
        let servers = servers.iter().map(|s| s.to_string()).collect();
        self.mapping(
            EventSource::SelfManaged {
                bootstrap_servers: servers,
            },
            provisioned,
            access,
        )
    }

    /// Adds a rule for `protocol` (`tcp`, `-1`, ...) on `ports` (both bounds inclusive; `None`
    /// for all) from (ingress) or to (egress) `cidr`.
    pub fn allow_cidr(
        &mut self,
        sg: &str,
        egress: bool,
        protocol: &str,
        ports: Option<(i32, i32)>,
        cidr: &str,
    ) {
        let rule = SgRule {
            protocol: protocol.to_string(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            ipv4_ranges: vec![cidr.parse().expect("valid CIDR")],
            ..SgRule::default()
        };
        let g = self.sg_mut(sg);
        if egress {
            g.egress.push(rule)
        } else {
            g.ingress.push(rule)
        }
    }

    /// Routes `subnet`'s 0.0.0.0/0 to NAT gateway `nat`.
    pub fn route_via_nat(&mut self, subnet: &str, nat: &str) {
        self.set_default_route(subnet, RouteTarget::NatGateway(nat.to_string()));
    }

    /// A public subnet in `az` with an available public NAT gateway in it: (subnet, NAT).
    pub fn public_nat(&mut self, vpc: &str, az: &str) -> (String, String) {
        let public = self.public_subnet(vpc, az);
        let nat = self.nat(&public);
        (public, nat)
    }

    /// Interface endpoints with private DNS for Lambda and STS, as the guide sets them up.
    pub fn guide_endpoints(
        &mut self,
        vpc: &str,
        subnets: &[String],
        groups: &[String],
    ) -> Vec<String> {
        ["lambda", "sts"]
            .iter()
            .map(|service| self.endpoint(vpc, service, subnets, groups, true))
            .collect()
    }

    pub fn vpc_mut(&mut self, id: &str) -> &mut Vpc {
        self.snapshot
            .vpcs
            .iter_mut()
            .find(|v| v.id == id)
            .expect("known VPC")
    }

    pub fn cluster_mut(&mut self, arn: &str) -> &mut MskCluster {
        self.snapshot
            .clusters
            .iter_mut()
            .find(|c| c.arn == arn)
            .expect("known cluster")
    }

    /// Records that `api_call` failed with access denied, leaving `scope` undecided.
    pub fn gap(&mut self, api_call: &str, scope: GapScope) {
        self.snapshot.gaps.push(DataGap {
            api_call: api_call.to_string(),
            iam_action: api_call.to_string(),
            error: format!("AccessDenied: not authorized to perform {api_call}"),
            scope,
            cause: GapCause::Denied,
        });
    }

    pub fn mapping_mut(&mut self, uuid: &str) -> &mut EventSourceMapping {
        self.snapshot
            .mappings
            .iter_mut()
            .find(|m| m.uuid == uuid)
            .expect("known mapping")
    }

    pub fn build(&self) -> Snapshot {
        self.snapshot.clone()
    }
}

fn local_route(cidr: &str) -> Route {
    Route {
        destination: cidr.to_string(),
        target: RouteTarget::Local,
        state: "active".into(),
    }
}

/// The entries of a default network ACL: allow everything, then the final deny.
pub fn allow_all_entries() -> Vec<NaclEntry> {
    let mut entries = Vec::new();
    for egress in [false, true] {
        entries.push(nacl_entry(100, egress, "-1", true, "0.0.0.0/0", None));
        entries.push(nacl_entry(32767, egress, "-1", false, "0.0.0.0/0", None));
    }
    entries
}

pub fn nacl_entry(
    rule_number: i32,
    egress: bool,
    protocol: &str,
    allow: bool,
    cidr: &str,
    ports: Option<(i32, i32)>,
) -> NaclEntry {
    NaclEntry {
        rule_number,
        egress,
        protocol: protocol.to_string(),
        allow,
        cidr: Some(cidr.parse().expect("valid CIDR")),
        ipv6_cidr: None,
        port_from: ports.map(|p| p.0),
        port_to: ports.map(|p| p.1),
    }
}

/// The guide's healthy on-demand setup: an IAM cluster in two private subnets, with Lambda
/// and STS endpoints (private DNS) in those subnets under the cluster's group.
/// Returns (sample, mapping uuid).
pub fn healthy_on_demand() -> (Sample, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1b");
    let sg = s.cluster_group(&vpc, 9098);
    let subnets = vec![a, b];
    let groups = vec![sg];
    s.endpoint(&vpc, "lambda", &subnets, &groups, true);
    s.endpoint(&vpc, "sts", &subnets, &groups, true);
    let cluster = s.msk_cluster(&subnets, &groups, Auth::Iam);
    let uuid = s.msk_mapping(&cluster, false);
    (s, uuid)
}

/// The guide's NAT setup for on-demand mode: an IAM cluster in two private subnets whose
/// default routes go to a public NAT gateway in the same AZ. Returns (sample, mapping uuid).
pub fn healthy_nat_on_demand() -> (Sample, String) {
    let mut s = Sample::default();
    let vpc = s.vpc();
    let a = s.private_subnet(&vpc, "us-east-1a");
    let b = s.private_subnet(&vpc, "us-east-1b");
    for (subnet, az) in [(&a, "us-east-1a"), (&b, "us-east-1b")] {
        let (_, nat) = s.public_nat(&vpc, az);
        s.route_via_nat(subnet, &nat);
    }
    let sg = s.cluster_group(&vpc, 9098);
    let cluster = s.msk_cluster(&[a, b], &[sg], Auth::Iam);
    let uuid = s.msk_mapping(&cluster, false);
    (s, uuid)
}
