//! The planned automatic actions applied to a copy of the snapshot, as AWS would apply
//! them once they succeed: what the convergence loop judges again.

use std::collections::HashMap;

use super::{Action, ActionKind};
use crate::model::{SgRule, Snapshot, VpcEndpoint};

/// Applies an automated action to the model, as AWS would after it succeeds.
pub fn simulate(snapshot: &mut Snapshot, action: &Action) {
    simulate_all(snapshot, std::iter::once(action));
}

/// Applies automated actions to the model, finding each group by id once.
pub fn simulate_all<'a>(snapshot: &mut Snapshot, actions: impl Iterator<Item = &'a Action>) {
    let groups: HashMap<String, usize> = snapshot
        .security_groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for action in actions {
        apply_to_model(snapshot, &groups, action);
    }
}

fn apply_to_model(snapshot: &mut Snapshot, groups: &HashMap<String, usize>, action: &Action) {
    match &action.kind {
        ActionKind::AuthorizeIngress {
            group_id,
            port,
            to_port,
            source_group_id,
            ..
        } => {
            if let Some(&i) = groups.get(group_id) {
                snapshot.security_groups[i].ingress.push(tcp_rule(
                    *port,
                    to_port.unwrap_or(*port),
                    source_group_id,
                ));
            }
        }
        ActionKind::AuthorizeEgress {
            group_id,
            port,
            to_port,
            destination_group_id,
            ..
        } => {
            if let Some(&i) = groups.get(group_id) {
                snapshot.security_groups[i].egress.push(tcp_rule(
                    *port,
                    to_port.unwrap_or(*port),
                    destination_group_id,
                ));
            }
        }
        ActionKind::CreateInterfaceEndpoint {
            vpc_id,
            service_name,
            subnet_ids,
            security_group_ids,
            policy_document,
            client_token,
            ..
        } => snapshot.vpc_endpoints.push(VpcEndpoint {
            id: format!("vpce-{client_token}"),
            vpc_id: vpc_id.clone(),
            service_name: service_name.clone(),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            subnet_ids: subnet_ids.clone(),
            security_group_ids: security_group_ids.clone(),
            route_table_ids: vec![],
            private_dns_enabled: true,
            policy_document: Some(policy_document.clone()),
            tags: Default::default(),
        }),
        ActionKind::Manual { .. } => {}
    }
}

fn tcp_rule(port: u16, last: u16, group: &str) -> SgRule {
    SgRule {
        protocol: "tcp".into(),
        from_port: Some(i32::from(port)),
        to_port: Some(i32::from(last)),
        group_ids: vec![group.to_string()],
        ..SgRule::default()
    }
}
