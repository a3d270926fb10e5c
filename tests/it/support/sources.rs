//! Amazon MQ brokers, DocumentDB clusters and the mappings on them, built through the SDK as
//! a user would (the shapes the emulator checks as AWS does).

use aws_sdk_docdb::types::Filter;
use aws_sdk_lambda::types::{
    DocumentDbEventSourceConfig, SourceAccessConfiguration, SourceAccessType,
};
use aws_sdk_mq::types::{DeploymentMode, EngineType, User};

use super::account::Builder;

impl Builder {
    /// A broker in `subnets` (one: a single instance; two: active/standby for ActiveMQ, a
    /// cluster for RabbitMQ). Returns its ARN.
    pub async fn mq_broker(
        &self,
        name: &str,
        engine: EngineType,
        subnets: &[String],
        groups: &[String],
        public: bool,
    ) -> String {
        let (mode, version) = match (&engine, subnets.len()) {
            (_, 1) => (DeploymentMode::SingleInstance, None),
            (EngineType::Activemq, _) => (DeploymentMode::ActiveStandbyMultiAz, None),
            _ => (DeploymentMode::ClusterMultiAz, None::<&str>),
        };
        let version = version.unwrap_or(match engine {
            EngineType::Activemq => "5.18",
            _ => "3.13",
        });
        self.mq
            .create_broker()
            .broker_name(name)
            .engine_type(engine)
            .engine_version(version)
            .host_instance_type("mq.m5.large")
            .deployment_mode(mode)
            .publicly_accessible(public)
            .set_subnet_ids(Some(subnets.to_vec()))
            .set_security_groups(Some(groups.to_vec()))
            .users(
                User::builder()
                    .username("lambda")
                    .password("a-long-password-1")
                    .build(),
            )
            .send()
            .await
            .expect("CreateBroker")
            .broker_arn()
            .expect("broker arn")
            .to_string()
    }

    /// A DocumentDB cluster whose subnet group holds `subnets`. Returns its ARN.
    pub async fn docdb_cluster(&self, name: &str, subnets: &[String], groups: &[String]) -> String {
        let group = format!("{name}-subnets");
        self.docdb
            .create_db_subnet_group()
            .db_subnet_group_name(&group)
            .db_subnet_group_description("esm-guard test")
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .expect("CreateDBSubnetGroup");
        self.docdb
            .create_db_cluster()
            .db_cluster_identifier(name)
            .engine("docdb")
            .master_username("guard")
            .master_user_password("a-long-password-1")
            .db_subnet_group_name(&group)
            .set_vpc_security_group_ids(Some(groups.to_vec()))
            .send()
            .await
            .expect("CreateDBCluster")
            .db_cluster()
            .and_then(|c| c.db_cluster_arn())
            .expect("cluster arn")
            .to_string()
    }

    fn secret(&self, name: &str) -> SourceAccessConfiguration {
        SourceAccessConfiguration::builder()
            .r#type(SourceAccessType::BasicAuth)
            .uri(format!(
                "arn:aws:secretsmanager:us-east-1:{}:secret:{name}-AbCdEf",
                self.account_id
            ))
            .build()
    }

    /// A mapping of `function` on the broker's queue `orders`.
    pub async fn mq_mapping(&self, function: &str, broker_arn: &str) -> String {
        self.lambda
            .create_event_source_mapping()
            .function_name(function)
            .event_source_arn(broker_arn)
            .queues("orders")
            .source_access_configurations(self.secret("mq"))
            .send()
            .await
            .expect("CreateEventSourceMapping (MQ)")
            .uuid()
            .expect("uuid")
            .to_string()
    }

    /// A mapping of `function` on the cluster's change stream of database `orders`.
    pub async fn docdb_mapping(&self, function: &str, cluster_arn: &str) -> String {
        self.lambda
            .create_event_source_mapping()
            .function_name(function)
            .event_source_arn(cluster_arn)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
            .document_db_event_source_config(
                DocumentDbEventSourceConfig::builder()
                    .database_name("orders")
                    .collection_name("events")
                    .build(),
            )
            .source_access_configurations(self.secret("docdb"))
            .send()
            .await
            .expect("CreateEventSourceMapping (DocumentDB)")
            .uuid()
            .expect("uuid")
            .to_string()
    }

    /// The cluster's subnet group's VPC, read back (a check that the emulator kept it).
    pub async fn docdb_vpc(&self, cluster_arn: &str) -> Option<String> {
        let clusters = self
            .docdb
            .describe_db_clusters()
            .filters(
                Filter::builder()
                    .name("db-cluster-id")
                    .values(cluster_arn)
                    .build(),
            )
            .send()
            .await
            .ok()?;
        let group = clusters
            .db_clusters()
            .first()?
            .db_subnet_group()?
            .to_string();
        let groups = self
            .docdb
            .describe_db_subnet_groups()
            .db_subnet_group_name(group)
            .send()
            .await
            .ok()?;
        groups
            .db_subnet_groups()
            .first()?
            .vpc_id()
            .map(str::to_string)
    }
}
