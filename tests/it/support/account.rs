//! Builds realistic accounts in the emulator through the AWS SDK, as a user would.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, ResourceType, Tag, TagSpecification,
    UserIdGroupPair, VpcEndpointType,
};
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, ClientAuthentication, EncryptionInTransit, EncryptionInfo, Iam,
    ProvisionedRequest, Sasl, Scram, Unauthenticated,
};
use aws_sdk_lambda::types::{
    EndPointType, FunctionCode, ProvisionedPollerConfig, Runtime, SelfManagedEventSource,
    SourceAccessConfiguration, SourceAccessType,
};

use super::emulator::{control, Account};

pub struct Builder {
    pub account_id: String,
    pub ec2: aws_sdk_ec2::Client,
    pub kafka: aws_sdk_kafka::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub mq: aws_sdk_mq::Client,
    pub docdb: aws_sdk_docdb::Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Iam,
    Scram,
    Plaintext,
}

/// The smallest valid zip: an end-of-central-directory record.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

impl Builder {
    pub fn new(account: &Account) -> Self {
        Builder {
            account_id: account.id.clone(),
            ec2: aws_sdk_ec2::Client::new(&account.config),
            kafka: aws_sdk_kafka::Client::new(&account.config),
            lambda: aws_sdk_lambda::Client::new(&account.config),
            mq: aws_sdk_mq::Client::new(&account.config),
            docdb: aws_sdk_docdb::Client::new(&account.config),
        }
    }

    /// A VPC with DNS support and hostnames on, and an internet gateway attached.
    pub async fn vpc(&self, cidr: &str) -> String {
        let vpc = self
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .send()
            .await
            .expect("CreateVpc");
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("vpc id")
            .to_string();
        self.set_vpc_dns(&vpc_id, true).await;
        let igw = self
            .ec2
            .create_internet_gateway()
            .send()
            .await
            .expect("CreateInternetGateway");
        let igw_id = igw
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .expect("igw id")
            .to_string();
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("AttachInternetGateway");
        vpc_id
    }

    pub async fn set_vpc_dns(&self, vpc_id: &str, on: bool) {
        let value = AttributeBooleanValue::builder().value(on).build();
        self.ec2
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_support(value.clone())
            .send()
            .await
            .expect("dns support");
        self.ec2
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_hostnames(value)
            .send()
            .await
            .expect("dns hostnames");
    }

    pub async fn igw_of(&self, vpc_id: &str) -> String {
        let out = self
            .ec2
            .describe_internet_gateways()
            .filters(
                Filter::builder()
                    .name("attachment.vpc-id")
                    .values(vpc_id)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeInternetGateways");
        out.internet_gateways()[0]
            .internet_gateway_id()
            .expect("igw")
            .to_string()
    }

    /// A subnet with a route table of its own (local route only).
    pub async fn private_subnet(&self, vpc_id: &str, cidr: &str, az: &str) -> String {
        let subnet = self
            .ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .expect("CreateSubnet");
        let subnet_id = subnet
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_string();
        let table = self
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .send()
            .await
            .expect("CreateRouteTable");
        let table_id = table
            .route_table()
            .and_then(|t| t.route_table_id())
            .expect("rtb id")
            .to_string();
        self.ec2
            .associate_route_table()
            .route_table_id(&table_id)
            .subnet_id(&subnet_id)
            .send()
            .await
            .expect("AssociateRouteTable");
        subnet_id
    }

    /// A subnet whose route table sends 0.0.0.0/0 to the VPC's internet gateway.
    pub async fn public_subnet(&self, vpc_id: &str, cidr: &str, az: &str) -> String {
        let subnet_id = self.private_subnet(vpc_id, cidr, az).await;
        let igw = self.igw_of(vpc_id).await;
        let table = self.route_table_of(&subnet_id).await;
        self.ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw)
            .send()
            .await
            .expect("CreateRoute igw");
        subnet_id
    }

    pub async fn route_table_of(&self, subnet_id: &str) -> String {
        let out = self
            .ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("association.subnet-id")
                    .values(subnet_id)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeRouteTables");
        out.route_tables()[0]
            .route_table_id()
            .expect("rtb")
            .to_string()
    }

    /// A public NAT gateway in `public_subnet`, and `private_subnet`'s default route to it.
    pub async fn nat_route(&self, public_subnet: &str, private_subnet: &str) -> String {
        let eip = self
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("AllocateAddress");
        let nat = self
            .ec2
            .create_nat_gateway()
            .subnet_id(public_subnet)
            .allocation_id(eip.allocation_id().expect("allocation id"))
            .send()
            .await
            .expect("CreateNatGateway");
        let nat_id = nat
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .expect("nat id")
            .to_string();
        let table = self.route_table_of(private_subnet).await;
        self.ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat_id)
            .send()
            .await
            .expect("CreateRoute nat");
        nat_id
    }

    /// A security group (AWS gives it egress to everywhere).
    pub async fn security_group(&self, vpc_id: &str, name: &str) -> String {
        let out = self
            .ec2
            .create_security_group()
            .vpc_id(vpc_id)
            .group_name(name)
            .description(format!("{name} (esm-guard test)"))
            .send()
            .await
            .expect("CreateSecurityGroup");
        out.group_id().expect("sg id").to_string()
    }

    fn group_permission(port: i32, peer: &str) -> IpPermission {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(peer).build())
            .build()
    }

    pub async fn allow_ingress_from_group(&self, group: &str, port: i32, peer: &str) {
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(Self::group_permission(port, peer))
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
    }

    /// The security group the guide sets up for a cluster: broker port and 443 from itself.
    pub async fn cluster_group(&self, vpc_id: &str, name: &str, port: i32) -> String {
        let sg = self.security_group(vpc_id, name).await;
        self.allow_ingress_from_group(&sg, port, &sg).await;
        self.allow_ingress_from_group(&sg, 443, &sg).await;
        sg
    }

    /// An interface endpoint for `service` (`lambda`, `sts`, ...).
    pub async fn endpoint(
        &self,
        vpc_id: &str,
        service: &str,
        subnets: &[String],
        groups: &[String],
        private_dns: bool,
    ) -> String {
        let out = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(vpc_id)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(format!("com.amazonaws.us-east-1.{service}"))
            .set_subnet_ids(Some(subnets.to_vec()))
            .set_security_group_ids(Some(groups.to_vec()))
            .private_dns_enabled(private_dns)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::VpcEndpoint)
                    .tags(
                        Tag::builder()
                            .key("Name")
                            .value(format!("{service}-endpoint"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("CreateVpcEndpoint");
        out.vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .expect("vpce id")
            .to_string()
    }

    /// A provisioned MSK cluster.
    pub async fn msk_cluster(
        &self,
        name: &str,
        subnets: &[String],
        groups: &[String],
        auth: Auth,
    ) -> String {
        let sasl = Sasl::builder()
            .iam(Iam::builder().enabled(auth == Auth::Iam).build())
            .scram(Scram::builder().enabled(auth == Auth::Scram).build())
            .build();
        let client_auth = ClientAuthentication::builder()
            .sasl(sasl)
            .unauthenticated(
                Unauthenticated::builder()
                    .enabled(auth == Auth::Plaintext)
                    .build(),
            )
            .build();
        let transit = EncryptionInTransit::builder()
            .client_broker(if auth == Auth::Plaintext {
                aws_sdk_kafka::types::ClientBroker::Plaintext
            } else {
                aws_sdk_kafka::types::ClientBroker::Tls
            })
            .build();
        let provisioned = ProvisionedRequest::builder()
            .kafka_version("3.6.0")
            .number_of_broker_nodes(subnets.len() as i32)
            .broker_node_group_info(
                BrokerNodeGroupInfo::builder()
                    .instance_type("kafka.m5.large")
                    .set_client_subnets(Some(subnets.to_vec()))
                    .set_security_groups(Some(groups.to_vec()))
                    .build(),
            )
            .client_authentication(client_auth)
            .encryption_info(
                EncryptionInfo::builder()
                    .encryption_in_transit(transit)
                    .build(),
            )
            .build();
        let out = self
            .kafka
            .create_cluster_v2()
            .cluster_name(name)
            .provisioned(provisioned)
            .send()
            .await
            .expect("CreateClusterV2");
        out.cluster_arn().expect("cluster arn").to_string()
    }

    /// A function (and its execution role).
    pub async fn function(&self, name: &str) -> String {
        let role = control(
            "POST",
            "/_esm_guard/iam/role",
            Some(
                &serde_json::json!({"Account": self.account_id, "RoleName": format!("{name}-role")}),
            ),
        );
        let out = self
            .lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role["Arn"].as_str().expect("role arn"))
            .code(
                FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
        out.function_arn().expect("function arn").to_string()
    }

    /// A mapping of `function` on an MSK cluster; SCRAM clusters get a secret.
    pub async fn msk_mapping(
        &self,
        function: &str,
        cluster_arn: &str,
        provisioned: bool,
        secret: Option<&str>,
    ) -> String {
        let mut request = self
            .lambda
            .create_event_source_mapping()
            .function_name(function)
            .event_source_arn(cluster_arn)
            .topics("orders")
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest);
        if provisioned {
            request = request.provisioned_poller_config(
                ProvisionedPollerConfig::builder()
                    .minimum_pollers(1)
                    .maximum_pollers(2)
                    .build(),
            );
        }
        if let Some(secret) = secret {
            request = request.source_access_configurations(
                SourceAccessConfiguration::builder()
                    .r#type(SourceAccessType::SaslScram512Auth)
                    .uri(secret)
                    .build(),
            );
        }
        request
            .send()
            .await
            .expect("CreateEventSourceMapping (MSK)")
            .uuid()
            .expect("uuid")
            .to_string()
    }

    /// A self-managed Kafka mapping in `subnets` with `groups`.
    pub async fn self_managed_mapping(
        &self,
        function: &str,
        servers: &[&str],
        subnets: &[String],
        groups: &[String],
        provisioned: bool,
    ) -> String {
        let source = SelfManagedEventSource::builder()
            .endpoints(
                EndPointType::KafkaBootstrapServers,
                servers.iter().map(|s| s.to_string()).collect(),
            )
            .build();
        let mut request = self
            .lambda
            .create_event_source_mapping()
            .function_name(function)
            .self_managed_event_source(source)
            .topics("orders")
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest);
        for s in subnets {
            request = request.source_access_configurations(
                SourceAccessConfiguration::builder()
                    .r#type(SourceAccessType::VpcSubnet)
                    .uri(format!("subnet:{s}"))
                    .build(),
            );
        }
        for g in groups {
            request = request.source_access_configurations(
                SourceAccessConfiguration::builder()
                    .r#type(SourceAccessType::VpcSecurityGroup)
                    .uri(format!("security_group:{g}"))
                    .build(),
            );
        }
        if provisioned {
            request = request.provisioned_poller_config(
                ProvisionedPollerConfig::builder()
                    .minimum_pollers(1)
                    .maximum_pollers(2)
                    .build(),
            );
        }
        request
            .send()
            .await
            .expect("CreateEventSourceMapping (self-managed)")
            .uuid()
            .expect("uuid")
            .to_string()
    }

    /// Associates `subnets` with network ACL `acl` (taken from the ACL they had).
    pub async fn replace_acl(&self, subnets: &[String], acl: &str) {
        for subnet in subnets {
            let out = self
                .ec2
                .describe_network_acls()
                .filters(
                    Filter::builder()
                        .name("association.subnet-id")
                        .values(subnet)
                        .build(),
                )
                .send()
                .await
                .expect("DescribeNetworkAcls");
            let association = out
                .network_acls()
                .iter()
                .flat_map(|a| a.associations())
                .find(|a| a.subnet_id() == Some(subnet.as_str()))
                .and_then(|a| a.network_acl_association_id())
                .expect("the subnet's ACL association")
                .to_string();
            self.ec2
                .replace_network_acl_association()
                .association_id(association)
                .network_acl_id(acl)
                .send()
                .await
                .expect("ReplaceNetworkAclAssociation");
        }
    }

    /// Sets what Lambda reports for a mapping (the real API cannot).
    pub fn set_last_processing_result(&self, uuid: &str, result: &str) {
        control(
            "POST",
            &format!("/_esm_guard/esm/{uuid}"),
            Some(&serde_json::json!({"LastProcessingResult": result})),
        );
    }
}
