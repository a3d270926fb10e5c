//! Unit-level faults through aws-smithy-mocks: the SDK clients answer from rules, no
//! emulator, so one call at a time can be made to fail exactly as AWS would.

use aws_sdk_ec2::types::{
    IpPermission, NetworkAcl, NetworkAclEntry, RouteTable, RuleAction, SecurityGroup, Subnet,
    UserIdGroupPair,
};
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, ClientAuthentication, Cluster, Iam, Provisioned, Sasl,
};
use aws_sdk_lambda::types::ProvisionedPollerConfig;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use esm_guard::aws::{collect, Clients, CollectError, CollectOptions};
use esm_guard::rules::{evaluate, Report, RuleId, Verdict};

const UUID: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
const CLUSTER: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/0000-1";

fn error(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("injected {code}"))
        .build()
}

/// Rules for a healthy provisioned mapping, with `route_tables` answering as given.
fn healthy_rules(route_tables: Rule) -> (Vec<Rule>, Vec<Rule>, Vec<Rule>) {
    let lambda = vec![mock!(aws_sdk_lambda::Client::get_event_source_mapping).then_output(|| {
        aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput::builder()
            .uuid(UUID)
            .event_source_arn(CLUSTER)
            .function_arn("arn:aws:lambda:us-east-1:123456789012:function:orders")
            .provisioned_poller_config(ProvisionedPollerConfig::builder().minimum_pollers(1).build())
            .build()
    })];
    let kafka = vec![
        mock!(aws_sdk_kafka::Client::describe_cluster_v2).then_output(|| {
            let nodes = BrokerNodeGroupInfo::builder()
                .client_subnets("subnet-1")
                .security_groups("sg-1")
                .instance_type("kafka.m5.large")
                .build();
            let auth = ClientAuthentication::builder()
                .sasl(
                    Sasl::builder()
                        .iam(Iam::builder().enabled(true).build())
                        .build(),
                )
                .build();
            aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output::builder()
                .cluster_info(
                    Cluster::builder()
                        .cluster_arn(CLUSTER)
                        .cluster_name("orders")
                        .provisioned(
                            Provisioned::builder()
                                .broker_node_group_info(nodes)
                                .client_authentication(auth)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
    ];
    let ec2 = vec![
        // Read twice: the mappings' subnets, then their VPCs'.
        mock!(aws_sdk_ec2::Client::describe_subnets)
            .sequence()
            .output(|| {
                aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput::builder()
                    .subnets(
                        Subnet::builder()
                            .subnet_id("subnet-1")
                            .vpc_id("vpc-1")
                            .availability_zone("us-east-1a")
                            .cidr_block("10.0.1.0/24")
                            .build(),
                    )
                    .build()
            })
            .repeatedly()
            .build(),
        route_tables,
        mock!(aws_sdk_ec2::Client::describe_nat_gateways).then_output(|| {
            // AWS sends the list, empty or not (a missing one is a cut answer).
            aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput::builder()
                .set_nat_gateways(Some(vec![]))
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_vpc_endpoints).then_output(|| {
            aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput::builder()
                .set_vpc_endpoints(Some(vec![]))
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(|| {
            let self_ref = IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(9098)
                .to_port(9098)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
                .build();
            let all_out = IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build();
            aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput::builder(
            )
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-1")
                    .vpc_id("vpc-1")
                    .ip_permissions(self_ref)
                    .ip_permissions_egress(all_out)
                    .build(),
            )
            .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_network_acls).then_output(|| {
            let entry = |egress: bool| {
                NetworkAclEntry::builder()
                    .rule_number(100)
                    .egress(egress)
                    .protocol("-1")
                    .rule_action(RuleAction::Allow)
                    .cidr_block("0.0.0.0/0")
                    .build()
            };
            aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput::builder()
                .network_acls(
                    NetworkAcl::builder()
                        .network_acl_id("acl-1")
                        .vpc_id("vpc-1")
                        .is_default(true)
                        .entries(entry(false))
                        .entries(entry(true))
                        .build(),
                )
                .build()
        }),
    ];
    (lambda, kafka, ec2)
}

fn local_route_tables() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_route_tables).then_output(|| {
        aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput::builder()
            .route_tables(
                RouteTable::builder()
                    .route_table_id("rtb-1")
                    .vpc_id("vpc-1")
                    .associations(
                        aws_sdk_ec2::types::RouteTableAssociation::builder()
                            .main(true)
                            .build(),
                    )
                    .routes(
                        aws_sdk_ec2::types::Route::builder()
                            .destination_cidr_block("10.0.0.0/16")
                            .gateway_id("local")
                            .state(aws_sdk_ec2::types::RouteState::Active)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

async fn audit(route_tables: Rule) -> Result<Report, CollectError> {
    let (lambda, kafka, ec2) = healthy_rules(route_tables);
    let lambda_refs: Vec<&Rule> = lambda.iter().collect();
    let kafka_refs: Vec<&Rule> = kafka.iter().collect();
    let ec2_refs: Vec<&Rule> = ec2.iter().collect();
    let clients = Clients {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &ec2_refs),
        lambda: mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &lambda_refs),
        kafka: mock_client!(aws_sdk_kafka, RuleMode::MatchAny, &kafka_refs),
        // Never called: the mapping reads from MSK.
        mq: aws_sdk_mq::Client::from_conf(
            aws_sdk_mq::Config::builder()
                .behavior_version(aws_sdk_mq::config::BehaviorVersion::latest())
                .region(aws_sdk_mq::config::Region::new("us-east-1"))
                .build(),
        ),
        rds: aws_sdk_docdb::Client::from_conf(
            aws_sdk_docdb::Config::builder()
                .behavior_version(aws_sdk_docdb::config::BehaviorVersion::latest())
                .region(aws_sdk_docdb::config::Region::new("us-east-1"))
                .build(),
        ),
        region: "us-east-1".into(),
    };
    let options = CollectOptions {
        scope: esm_guard::aws::Scope {
            mappings: vec![UUID.into()],
            vpcs: vec![],
            ..Default::default()
        },
        ..Default::default()
    };
    collect(&clients, &options, &|_| {})
        .await
        .map(|c| evaluate(&c.snapshot))
}

#[tokio::test]
async fn every_fact_read_passes() {
    let report = audit(local_route_tables()).await.expect("collect");
    assert_eq!(
        report.mappings[0].verdict,
        Verdict::Pass,
        "{:?}",
        report.mappings[0].findings
    );
}

#[tokio::test]
async fn each_denial_throttle_or_server_error_is_unknown_naming_the_call() {
    for code in [
        "UnauthorizedOperation",
        "RequestLimitExceeded",
        "Throttling",
        "InternalError",
        "Unavailable",
    ] {
        let denied = mock!(aws_sdk_ec2::Client::describe_route_tables).then_error(move || {
            aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesError::generic(error(
                code,
            ))
        });
        let report = audit(denied).await.expect("a gap, not an error");
        let m = &report.mappings[0];
        assert_eq!(m.verdict, Verdict::Unknown, "{code}");
        let gap = m
            .findings
            .iter()
            .find(|f| f.rule == RuleId::InsufficientData)
            .expect("insufficient-data");
        assert!(
            gap.message.contains("ec2:DescribeRouteTables") && gap.message.contains(code),
            "{}",
            gap.message
        );
    }
}

#[tokio::test]
async fn an_invalid_request_stops_the_run_naming_the_call() {
    let broken = mock!(aws_sdk_ec2::Client::describe_route_tables).then_error(|| {
        aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesError::generic(error(
            "InvalidParameterValue",
        ))
    });
    let error = audit(broken).await.expect_err("a defect, not a gap");
    assert!(
        error.to_string().contains("ec2:DescribeRouteTables")
            && error.to_string().contains("InvalidParameterValue"),
        "{error}"
    );
}
