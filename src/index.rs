//! Lookups over a snapshot, built once per evaluation so that every rule is a map lookup
//! rather than a scan (10,000 mappings must evaluate in well under a second).

use std::collections::HashMap;

use crate::model::*;

pub struct Index<'a> {
    pub snapshot: &'a Snapshot,
    pub clusters: HashMap<&'a str, &'a MskCluster>,
    pub vpcs: HashMap<&'a str, &'a Vpc>,
    pub subnets: HashMap<&'a str, &'a Subnet>,
    pub security_groups: HashMap<&'a str, &'a SecurityGroup>,
    pub nat_gateways: HashMap<&'a str, &'a NatGateway>,
    route_table_by_subnet: HashMap<&'a str, &'a RouteTable>,
    main_route_table: HashMap<&'a str, &'a RouteTable>,
    acl_by_subnet: HashMap<&'a str, &'a NetworkAcl>,
    default_acl: HashMap<&'a str, &'a NetworkAcl>,
    endpoints_by_vpc: HashMap<&'a str, Vec<&'a VpcEndpoint>>,
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
            route_table_by_subnet: HashMap::new(),
            main_route_table: HashMap::new(),
            acl_by_subnet: HashMap::new(),
            default_acl: HashMap::new(),
            endpoints_by_vpc: HashMap::new(),
        };
        for table in &snapshot.route_tables {
            if table.main {
                index.main_route_table.insert(&table.vpc_id, table);
            }
            for subnet in &table.subnet_ids {
                index.route_table_by_subnet.insert(subnet, table);
            }
        }
        for acl in &snapshot.network_acls {
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
        }
        index
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
