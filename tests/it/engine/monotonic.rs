//! The path checks are monotonic, as a property over generated accounts: a deny added to
//! any network ACL, or an allow taken from any security group, never makes a verdict
//! better; a rule no path uses changes no verdict at all.

use proptest::prelude::*;

use esm_guard::model::{NaclEntry, NetworkAcl, SecurityGroup, SgRule, Snapshot};
use esm_guard::rules::Report;
use esm_guard::{evaluate, Verdict};

use super::convergence::{account, build};

/// Worse is higher: pass < warn < unknown < fail.
fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 0,
        Verdict::Warn => 1,
        Verdict::Unknown => 2,
        Verdict::Fail => 3,
    }
}

fn never_better(before: &Report, after: &Report, change: &str) -> Result<(), TestCaseError> {
    for m in &before.mappings {
        let later = after
            .mapping(&m.uuid)
            .ok_or_else(|| TestCaseError::fail(format!("{} vanished", m.uuid)))?;
        prop_assert!(
            rank(later.verdict) >= rank(m.verdict),
            "{change} turned {} from {:?} into {:?}: {:#?}",
            m.uuid,
            m.verdict,
            later.verdict,
            later.findings
        );
    }
    Ok(())
}

/// A deny entry: which ACL (an index), direction, number, protocol, ports, range.
#[derive(Debug, Clone)]
struct Deny {
    acl: usize,
    egress: bool,
    number: i32,
    tcp_ports: Option<(i32, i32)>,
    cidr: &'static str,
}

fn deny() -> impl Strategy<Value = Deny> {
    (
        any::<usize>(),
        any::<bool>(),
        1i32..32766,
        prop_oneof![
            Just(None),
            Just(Some((443, 443))),
            Just(Some((1024, 65535))),
            Just(Some((9000, 9100))),
            Just(Some((30000, 40000))),
            Just(Some((9098, 9098)))
        ],
        prop_oneof![
            Just("0.0.0.0/0"),
            Just("10.0.0.0/8"),
            Just("10.0.0.0/24"),
            Just("10.1.1.0/24"),
            Just("10.0.0.128/25"),
            Just("198.51.100.0/24"),
            Just("52.94.0.0/16")
        ],
    )
        .prop_map(|(acl, egress, number, tcp_ports, cidr)| Deny {
            acl,
            egress,
            number,
            tcp_ports,
            cidr,
        })
}

fn add_deny(snapshot: &mut Snapshot, d: &Deny) -> String {
    let n = snapshot.network_acls.len();
    let acl = &mut snapshot.network_acls[d.acl % n];
    // A rule number is unique per direction: replace one that is taken.
    acl.entries
        .retain(|e| !(e.egress == d.egress && e.rule_number == d.number));
    acl.entries.push(NaclEntry {
        rule_number: d.number,
        egress: d.egress,
        protocol: if d.tcp_ports.is_some() { "6" } else { "-1" }.into(),
        allow: false,
        cidr: Some(d.cidr.parse().expect("valid CIDR")),
        ipv6_cidr: None,
        port_from: d.tcp_ports.map(|p| p.0),
        port_to: d.tcp_ports.map(|p| p.1),
    });
    format!("{d:?} on {}", acl.id)
}

/// Removes the `pick`-th allow rule of all groups (ingress and egress).
fn remove_allow(snapshot: &mut Snapshot, pick: usize) -> Option<String> {
    let total: usize = snapshot
        .security_groups
        .iter()
        .map(|g| g.ingress.len() + g.egress.len())
        .sum();
    if total == 0 {
        return None;
    }
    let mut k = pick % total;
    for g in &mut snapshot.security_groups {
        for (name, rules) in [("ingress", &mut g.ingress), ("egress", &mut g.egress)] {
            if k < rules.len() {
                let removed = rules.remove(k);
                return Some(format!("removing {name} {removed:?} of {}", g.id));
            }
            k -= rules.len();
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 1024, ..ProptestConfig::default() })]

    #[test]
    fn a_deny_added_to_any_acl_never_improves_a_verdict(account in account(), denies in prop::collection::vec(deny(), 1..4)) {
        let mut snapshot = build(&account);
        let before = evaluate(&snapshot);
        let mut change = Vec::new();
        for d in &denies {
            change.push(add_deny(&mut snapshot, d));
        }
        never_better(&before, &evaluate(&snapshot), &change.join(", "))?;
    }

    #[test]
    fn an_allow_taken_from_any_group_never_improves_a_verdict(account in account(), picks in prop::collection::vec(any::<usize>(), 1..4)) {
        let mut snapshot = build(&account);
        let before = evaluate(&snapshot);
        let mut change = Vec::new();
        for pick in picks {
            change.extend(remove_allow(&mut snapshot, pick));
        }
        never_better(&before, &evaluate(&snapshot), &change.join(", "))?;
    }

    #[test]
    fn rules_no_path_uses_change_no_verdict(account in account(), d in deny(), open in any::<bool>()) {
        let mut snapshot = build(&account);
        let before = evaluate(&snapshot);
        // An ACL no subnet is associated with, and a group nothing carries.
        let vpc = snapshot.vpcs[0].id.clone();
        let mut acl = NetworkAcl {
            id: "acl-0unused".into(),
            vpc_id: vpc.clone(),
            is_default: false,
            subnet_ids: vec![],
            entries: esm_guard::sample::allow_all_entries(),
        };
        acl.entries.push(NaclEntry {
            rule_number: d.number,
            egress: d.egress,
            protocol: "-1".into(),
            allow: open,
            cidr: Some(d.cidr.parse().expect("valid CIDR")),
            ipv6_cidr: None,
            port_from: None,
            port_to: None,
        });
        snapshot.network_acls.push(acl);
        snapshot.security_groups.push(SecurityGroup {
            id: "sg-0unused".into(),
            name: "unused".into(),
            vpc_id: vpc,
            ingress: vec![SgRule { protocol: "-1".into(), ipv4_ranges: vec!["0.0.0.0/0".parse().unwrap()], ..SgRule::default() }],
            egress: vec![],
            tags: Default::default(),
        });
        // And, on a group a path uses, a UDP rule: paths are TCP.
        if let Some(g) = snapshot.security_groups.first_mut() {
            g.ingress.push(SgRule {
                protocol: "udp".into(),
                from_port: Some(0),
                to_port: Some(65535),
                ipv4_ranges: vec!["0.0.0.0/0".parse().unwrap()],
                ..SgRule::default()
            });
        }
        let after = evaluate(&snapshot);
        for m in &before.mappings {
            let later = after.mapping(&m.uuid).expect("same mappings");
            prop_assert_eq!(later.verdict, m.verdict, "{}: {:#?}", m.uuid, later.findings);
        }
    }
}
