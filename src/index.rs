//! Lookups over a snapshot, built once per evaluation so that every rule is a map lookup
//! rather than a scan (10,000 mappings must evaluate in well under a second).

use std::collections::HashMap;

use crate::model::*;
use crate::policy::{Policy, PolicyError};

/// Ids from AWS are the keys, looked up once per rule per mapping: SipHash's protection
/// against chosen keys buys nothing here and costs an eighth of an evaluation.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct Index<'a> {
    pub snapshot: &'a Snapshot,
    pub clusters: FastMap<&'a str, &'a MskCluster>,
    pub vpc_connections: FastMap<&'a str, &'a VpcConnection>,
    pub mq_brokers: FastMap<&'a str, &'a MqBroker>,
    pub docdb_clusters: FastMap<&'a str, &'a DocDbCluster>,
    pub vpcs: FastMap<&'a str, &'a Vpc>,
    pub subnets: FastMap<&'a str, &'a Subnet>,
    pub security_groups: FastMap<&'a str, &'a SecurityGroup>,
    pub nat_gateways: FastMap<&'a str, &'a NatGateway>,
    pub prefix_lists: FastMap<&'a str, &'a PrefixList>,
    route_table_by_subnet: FastMap<&'a str, &'a RouteTable>,
    main_route_table: FastMap<&'a str, &'a RouteTable>,
    acl_by_subnet: FastMap<&'a str, &'a NetworkAcl>,
    default_acl: FastMap<&'a str, &'a NetworkAcl>,
    endpoints_by_vpc: FastMap<&'a str, Vec<&'a VpcEndpoint>>,
    subnets_by_vpc: FastMap<&'a str, Vec<&'a Subnet>>,
    /// Each network ACL's entries in rule-number order, (ingress, egress): sorted once, read
    /// for every flow of every mapping in its subnets.
    acl_entries: FastMap<&'a str, [Vec<&'a NaclEntry>; 2]>,
    /// Each endpoint's policy, parsed once: every mapping an endpoint serves reads it.
    endpoint_policies: FastMap<&'a str, Result<Policy, PolicyError>>,
}

impl<'a> Index<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut index = Index {
            snapshot,
            clusters: snapshot
                .clusters
                .iter()
                .map(|c| (c.arn.as_str(), c))
                .collect(),
            vpc_connections: snapshot
                .vpc_connections
                .iter()
                .map(|c| (c.arn.as_str(), c))
                .collect(),
            mq_brokers: snapshot
                .mq_brokers
                .iter()
                .map(|b| (b.arn.as_str(), b))
                .collect(),
            docdb_clusters: snapshot
                .docdb_clusters
                .iter()
                .map(|c| (c.arn.as_str(), c))
                .collect(),
            vpcs: snapshot.vpcs.iter().map(|v| (v.id.as_str(), v)).collect(),
            subnets: snapshot
                .subnets
                .iter()
                .map(|s| (s.id.as_str(), s))
                .collect(),
            security_groups: snapshot
                .security_groups
                .iter()
                .map(|g| (g.id.as_str(), g))
                .collect(),
            nat_gateways: snapshot
                .nat_gateways
                .iter()
                .map(|n| (n.id.as_str(), n))
                .collect(),
            prefix_lists: snapshot
                .prefix_lists
                .iter()
                .map(|p| (p.id.as_str(), p))
                .collect(),
            route_table_by_subnet: FastMap::default(),
            main_route_table: FastMap::default(),
            acl_by_subnet: FastMap::default(),
            default_acl: FastMap::default(),
            endpoints_by_vpc: FastMap::default(),
            subnets_by_vpc: FastMap::default(),
            acl_entries: FastMap::default(),
            endpoint_policies: FastMap::default(),
        };
        for subnet in &snapshot.subnets {
            index
                .subnets_by_vpc
                .entry(&subnet.vpc_id)
                .or_default()
                .push(subnet);
        }
        for table in &snapshot.route_tables {
            if table.main {
                index.main_route_table.insert(&table.vpc_id, table);
            }
            for subnet in &table.subnet_ids {
                index.route_table_by_subnet.insert(subnet, table);
            }
        }
        for acl in &snapshot.network_acls {
            let mut by_direction: [Vec<&NaclEntry>; 2] = [Vec::new(), Vec::new()];
            for entry in &acl.entries {
                by_direction[usize::from(entry.egress)].push(entry);
            }
            for entries in &mut by_direction {
                entries.sort_by_key(|e| e.rule_number);
            }
            index.acl_entries.insert(&acl.id, by_direction);
            if acl.is_default {
                index.default_acl.insert(&acl.vpc_id, acl);
            }
            for subnet in &acl.subnet_ids {
                index.acl_by_subnet.insert(subnet, acl);
            }
        }
        for endpoint in &snapshot.vpc_endpoints {
            index
                .endpoints_by_vpc
                .entry(&endpoint.vpc_id)
                .or_default()
                .push(endpoint);
            if let Some(document) = &endpoint.policy_document {
                index
                    .endpoint_policies
                    .insert(&endpoint.id, Policy::parse(document));
            }
        }
        index
    }

    /// The parsed policy of an endpoint; `None` when it has no policy document.
    pub fn endpoint_policy(&self, endpoint: &VpcEndpoint) -> Option<Result<&Policy, &PolicyError>> {
        self.endpoint_policies
            .get(endpoint.id.as_str())
            .map(Result::as_ref)
    }

    /// The route table that serves a subnet: its explicit association, else the main table.
    pub fn route_table_of(&self, subnet: &Subnet) -> Option<&'a RouteTable> {
        self.route_table_by_subnet
            .get(subnet.id.as_str())
            .or_else(|| self.main_route_table.get(subnet.vpc_id.as_str()))
            .copied()
    }

    /// The network ACL of a subnet: its association, else the VPC's default ACL.
    pub fn network_acl_of(&self, subnet: &Subnet) -> Option<&'a NetworkAcl> {
        self.acl_by_subnet
            .get(subnet.id.as_str())
            .or_else(|| self.default_acl.get(subnet.vpc_id.as_str()))
            .copied()
    }

    /// The entries of `acl` in one direction, lowest rule number first.
    pub fn acl_entries(&self, acl: &NetworkAcl, egress: bool) -> &[&'a NaclEntry] {
        self.acl_entries
            .get(acl.id.as_str())
            .map(|e| e[usize::from(egress)].as_slice())
            .unwrap_or_default()
    }

    pub fn subnets_in(&self, vpc_id: &str) -> &[&'a Subnet] {
        self.subnets_by_vpc
            .get(vpc_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn endpoints_in(&self, vpc_id: &str) -> &[&'a VpcEndpoint] {
        self.endpoints_by_vpc
            .get(vpc_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The IPv4 default route of a subnet, if its table has one.
    pub fn default_route(&self, subnet: &Subnet) -> Option<(&'a RouteTable, &'a Route)> {
        let table = self.route_table_of(subnet)?;
        table
            .routes
            .iter()
            .find(|r| r.destination == "0.0.0.0/0")
            .map(|r| (table, r))
    }

    /// A subnet is public when its default route goes to an internet gateway.
    pub fn is_public(&self, subnet: &Subnet) -> bool {
        matches!(
            self.default_route(subnet),
            Some((_, Route { target: RouteTarget::InternetGateway(_), state, .. })) if state != "blackhole"
        )
    }

    pub fn groups<'s>(&'s self, ids: &'s [String]) -> impl Iterator<Item = &'a SecurityGroup> + 's {
        ids.iter()
            .filter_map(|id| self.security_groups.get(id.as_str()).copied())
    }
}
