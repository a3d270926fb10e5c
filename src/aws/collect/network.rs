//! Reading the network of the VPCs in scope: subnets, route tables, NAT gateways, endpoints,
//! security groups, network ACLs, the VPCs' DNS attributes and the prefix lists rules name.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use super::*;

impl Collector<'_> {
    /// Subnets by a filter (`subnet-id`, `vpc-id`) over `values`, 200 values a call.
    pub(super) async fn subnets(
        &self,
        name: &str,
        values: &[String],
    ) -> Result<Read<Vec<Subnet>>, CollectError> {
        const CALL: &str = "ec2:DescribeSubnets";
        let ec2 = &self.clients.ec2;
        let mut subnets = Vec::new();
        for chunk in values.chunks(FILTER_CHUNK) {
            let filter = Filter::builder()
                .name(name)
                .set_values(Some(chunk.to_vec()))
                .build();
            let listed = pages!(
                self,
                "ec2:DescribeSubnets",
                ec2.describe_subnets().filters(filter).max_results(1000),
                |page| {
                    for s in list(&page.subnets, CALL, "subnet")? {
                        subnets.push(from_ec2::subnet(s)?);
                    }
                    Ok(())
                }
            );
            if let Err(class) = listed {
                return Ok(Err(Ok(class?)));
            }
        }
        Ok(Ok(subnets))
    }

    /// Subnets, route tables, NAT gateways, endpoints, security groups and network ACLs of
    /// the VPCs (and, for remediation, the VPCs themselves), the calls run concurrently;
    /// then the answers are checked against each other.
    pub(super) async fn network(
        &self,
        vpc_ids: &[String],
        with_vpcs: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        let ec2 = &self.clients.ec2;
        for chunk in vpc_ids.chunks(FILTER_CHUNK) {
            let vpc_filter = || {
                Filter::builder()
                    .name("vpc-id")
                    .set_values(Some(chunk.to_vec()))
                    .build()
            };
            let subnets = self.subnets("vpc-id", chunk);
            let tables = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeRouteTables",
                    ec2.describe_route_tables()
                        .filters(vpc_filter())
                        .max_results(100),
                    |page| {
                        for t in list(&page.route_tables, "ec2:DescribeRouteTables", "route table")?
                        {
                            out.push(from_ec2::route_table(t)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let nats = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeNatGateways",
                    ec2.describe_nat_gateways()
                        .filter(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for n in list(&page.nat_gateways, "ec2:DescribeNatGateways", "NAT gateway")?
                        {
                            out.push(from_ec2::nat_gateway(n)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let endpoints = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeVpcEndpoints",
                    ec2.describe_vpc_endpoints()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for e in list(&page.vpc_endpoints, "ec2:DescribeVpcEndpoints", "endpoint")?
                        {
                            out.push(from_ec2::vpc_endpoint(e)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let groups = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeSecurityGroups",
                    ec2.describe_security_groups()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for g in list(
                            &page.security_groups,
                            "ec2:DescribeSecurityGroups",
                            "security group",
                        )? {
                            out.push(from_ec2::security_group(g)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let acls = async {
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeNetworkAcls",
                    ec2.describe_network_acls()
                        .filters(vpc_filter())
                        .max_results(1000),
                    |page| {
                        for a in list(&page.network_acls, "ec2:DescribeNetworkAcls", "network ACL")?
                        {
                            out.push(from_ec2::network_acl(a)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let vpcs = async {
                if !with_vpcs {
                    return Ok(Vec::new());
                }
                let mut out = Vec::new();
                let r = pages!(
                    self,
                    "ec2:DescribeVpcs",
                    ec2.describe_vpcs().filters(vpc_filter()).max_results(1000),
                    |page| {
                        for v in list(&page.vpcs, "ec2:DescribeVpcs", "VPC")? {
                            out.push(from_ec2::vpc(v)?);
                        }
                        Ok(())
                    }
                );
                r.map(|_| out)
            };
            let (subnets, tables, nats, endpoints, groups, acls, vpcs) =
                tokio::join!(subnets, tables, nats, endpoints, groups, acls, vpcs);
            let mut unknown: BTreeMap<&'static str, ErrorClass> = BTreeMap::new();
            let mut take = |call: &'static str, read: Read<()>| -> Result<(), CollectError> {
                if let Err(class) = read {
                    unknown.insert(call, class?);
                }
                Ok(())
            };
            let subnets = split(subnets?);
            take("ec2:DescribeSubnets", subnets.1)?;
            let tables = split(tables);
            take("ec2:DescribeRouteTables", tables.1)?;
            let nats = split(nats);
            take("ec2:DescribeNatGateways", nats.1)?;
            let endpoints = split(endpoints);
            take("ec2:DescribeVpcEndpoints", endpoints.1)?;
            let groups = split(groups);
            take("ec2:DescribeSecurityGroups", groups.1)?;
            let acls = split(acls);
            take("ec2:DescribeNetworkAcls", acls.1)?;
            let vpcs = split(vpcs);
            // Only remediation reads VPCs, for their opt-out tags: a VPC not read keeps its
            // tags unknown, and nothing in it changes. No verdict depends on it.
            let _ = vpcs.1;
            snapshot.subnets.retain(|s| !chunk.contains(&s.vpc_id));
            snapshot.subnets.extend(subnets.0);
            snapshot.route_tables.extend(tables.0);
            snapshot.nat_gateways.extend(nats.0);
            snapshot.vpc_endpoints.extend(endpoints.0);
            snapshot.security_groups.extend(groups.0);
            snapshot.network_acls.extend(acls.0);
            for id in chunk {
                let read = vpcs.0.iter().find(|v| v.id == *id).cloned();
                snapshot.vpcs.push(read.unwrap_or_else(|| Vpc {
                    id: id.clone(),
                    ..Vpc::default()
                }));
            }
            for (call, class) in &unknown {
                snapshot.gaps.extend(
                    chunk
                        .iter()
                        .map(|v| gap(call, class, GapScope::Vpc(v.clone()))),
                );
            }
            let read: BTreeSet<&str> = [
                "ec2:DescribeSubnets",
                "ec2:DescribeRouteTables",
                "ec2:DescribeNatGateways",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeNetworkAcls",
            ]
            .into_iter()
            .filter(|c| !unknown.contains_key(c))
            .collect();
            let gaps = consistency(snapshot, chunk, &read);
            snapshot.gaps.extend(gaps);
        }
        Ok(())
    }

    /// `enableDnsSupport` and `enableDnsHostnames`, only for VPCs where a private-DNS
    /// interface endpoint is relied on (or, for remediation, where one may be created).
    pub(super) async fn vpc_dns(
        &self,
        vpc_ids: &[String],
        all: bool,
        snapshot: &mut Snapshot,
    ) -> Result<(), CollectError> {
        use aws_sdk_ec2::types::VpcAttributeName;
        const CALL: &str = "ec2:DescribeVpcAttribute";
        let ec2 = &self.clients.ec2;
        let relied: BTreeSet<&str> = snapshot
            .vpc_endpoints
            .iter()
            .filter(|e| e.is_interface() && e.private_dns_enabled)
            .map(|e| e.vpc_id.as_str())
            .collect();
        let wanted: Vec<String> = vpc_ids
            .iter()
            .filter(|v| all || relied.contains(v.as_str()))
            .cloned()
            .collect();
        for vpc_id in wanted {
            let mut values = [None, None];
            for (slot, attribute) in [
                VpcAttributeName::EnableDnsSupport,
                VpcAttributeName::EnableDnsHostnames,
            ]
            .into_iter()
            .enumerate()
            {
                self.count(CALL);
                let call = ec2
                    .describe_vpc_attribute()
                    .vpc_id(&vpc_id)
                    .attribute(attribute.clone())
                    .send();
                let class = match self.bounded(call).await {
                    None => ErrorClass::Deadline,
                    Some(Ok(out)) => {
                        let value = match attribute {
                            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
                            _ => out.enable_dns_hostnames(),
                        };
                        match value.and_then(|v| v.value()) {
                            Some(v) => {
                                values[slot] = Some(v);
                                continue;
                            }
                            None => ErrorClass::Incomplete(format!(
                                "{CALL} answered without the value of {}",
                                attribute.as_str()
                            )),
                        }
                    }
                    Some(Err(e)) => judge(CALL, &e)?,
                };
                snapshot
                    .gaps
                    .push(gap(CALL, &class, GapScope::Vpc(vpc_id.clone())));
                break;
            }
            if let Some(vpc) = snapshot.vpcs.iter_mut().find(|v| v.id == vpc_id) {
                vpc.dns_support = values[0];
                vpc.dns_hostnames = values[1];
            }
        }
        Ok(())
    }

    /// The entries of every managed prefix list that a rule of a group on the mappings'
    /// paths references (the mappings' groups, the interface endpoints' groups): one
    /// paginated call per list, only when one is referenced.
    pub(super) async fn prefix_lists(&self, snapshot: &mut Snapshot) -> Result<(), CollectError> {
        const CALL: &str = "ec2:GetManagedPrefixListEntries";
        let ec2 = &self.clients.ec2;
        let wanted: BTreeSet<String> = {
            let index = Index::new(snapshot);
            let mut groups: BTreeSet<&str> = BTreeSet::new();
            for m in &snapshot.mappings {
                if let Some((_, g)) = configured_network(m, &index) {
                    for id in g {
                        if let Some(group) = index.security_groups.get(id.as_str()) {
                            groups.insert(group.id.as_str());
                        }
                    }
                }
            }
            for e in snapshot.vpc_endpoints.iter().filter(|e| e.is_interface()) {
                groups.extend(e.security_group_ids.iter().map(String::as_str));
            }
            snapshot
                .security_groups
                .iter()
                .filter(|g| groups.contains(g.id.as_str()))
                .flat_map(|g| g.ingress.iter().chain(&g.egress))
                .flat_map(|r| r.prefix_list_ids.iter().cloned())
                .collect()
        };
        for id in wanted {
            let mut entries_of = PrefixList {
                id: id.clone(),
                ..PrefixList::default()
            };
            let read = pages!(
                self,
                "ec2:GetManagedPrefixListEntries",
                ec2.get_managed_prefix_list_entries()
                    .prefix_list_id(&id)
                    .max_results(100),
                |page| {
                    let entries = list(&page.entries, CALL, "Entries")?;
                    from_ec2::prefix_list(&id, entries, &mut entries_of)
                }
            );
            match read {
                Ok(()) => snapshot.prefix_lists.push(entries_of),
                // A list a rule references cannot be missing: not found is unknown too.
                Err(class) => {
                    snapshot
                        .gaps
                        .push(gap(CALL, &class?, GapScope::PrefixList(id.clone())))
                }
            }
        }
        Ok(())
    }
}
