//! `https-egress`: the mapping's security groups let TCP 443 out toward the path: to an
//! endpoint's security group (or its ENIs' subnet) on the endpoint path, to 0.0.0.0/0 on the
//! NAT path. Both legs of the rule live here; the path checks call them.

use super::flow::{sg_leg, Hop, SgBlock};
use super::path::{Peer, SgPeer};
use super::{Ctx, Fix, RuleId};
use crate::model::{Subnet, VpcEndpoint};

/// The leg from the mapping's groups in subnet `from` to `endpoint`'s ENI in subnet `to`.
pub(super) fn to_endpoint(
    ctx: &Ctx<'_, '_>,
    endpoint: &VpcEndpoint,
    label: &str,
    from: &Subnet,
    to: &Subnet,
) -> Option<Hop> {
    let net = ctx.net;
    let first = net.first_group().unwrap_or_default().to_string();
    let endpoint_group = endpoint
        .security_group_ids
        .first()
        .cloned()
        .unwrap_or_default();
    sg_leg(
        ctx,
        &net.security_group_ids,
        true,
        (443, 443),
        SgPeer {
            groups: &endpoint.security_group_ids,
            addresses: Peer::Net(to.cidr),
        },
        &format!("endpoint {}", endpoint.id),
        || {
            SgBlock {
            rule: RuleId::HttpsEgress,
            subject: endpoint.id.clone(),
            resources: vec![first.clone(), endpoint.id.clone()],
            headline: format!(
                "The mapping's security group(s) {} let no TCP 443 out to endpoint {} ({label}): add an outbound rule for TCP 443 on {first} to {endpoint_group}",
                net.security_group_ids.join(", "),
                endpoint.id
            ),
            detail: format!("from subnet {} to its ENI in {}", from.id, to.id),
            fix: Some(Fix::EndpointEgress {
                esm_group: first.clone(),
                endpoint_id: endpoint.id.clone(),
                endpoint_group: endpoint_group.clone(),
            }),
        }
        },
    )
}

/// The leg from the mapping's groups to the internet (the NAT path).
pub(super) fn to_internet(ctx: &Ctx<'_, '_>) -> Option<Hop> {
    let net = ctx.net;
    let first = net.first_group().unwrap_or_default().to_string();
    sg_leg(
        ctx,
        &net.security_group_ids,
        true,
        (443, 443),
        SgPeer {
            groups: &[],
            addresses: Peer::Internet,
        },
        "the internet",
        || {
            SgBlock {
            rule: RuleId::HttpsEgress,
            subject: "internet".into(),
            resources: net.security_group_ids.clone(),
            headline: format!(
                "The mapping's security group(s) {} let no TCP 443 out to 0.0.0.0/0, which the NAT path to Lambda and STS needs: add an outbound rule for TCP 443 to 0.0.0.0/0 on {first}",
                net.security_group_ids.join(", ")
            ),
            detail: String::new(),
            fix: Some(Fix::EgressAnywhere {
                esm_group: first.clone(),
            }),
        }
        },
    )
}
