//! Amazon MQ brokers and DocumentDB clusters in sample accounts, and the mappings on them.

use super::*;

impl Sample {
    /// An Amazon MQ broker in `subnets` with `groups` (one subnet: a single instance; two:
    /// active/standby or a cluster), or with a public endpoint.
    pub fn mq_broker(
        &mut self,
        engine: MqEngine,
        subnets: &[String],
        groups: &[String],
        publicly_accessible: bool,
    ) -> String {
        self.next += 1;
        let id = format!("b-{:08x}-0000-4000-8000-{:012x}", self.next, self.next);
        let arn = format!(
            "arn:{}:mq:{}:{ACCOUNT}:broker:orders-{}:{id}",
            self.partition(),
            self.region(),
            self.next
        );
        self.snapshot.mq_brokers.push(MqBroker {
            arn: arn.clone(),
            id,
            engine,
            deployment_mode: Some(
                match (engine, subnets.len()) {
                    (_, 1) => "SINGLE_INSTANCE",
                    (MqEngine::ActiveMq, _) => "ACTIVE_STANDBY_MULTI_AZ",
                    (MqEngine::RabbitMq, _) => "CLUSTER_MULTI_AZ",
                }
                .into(),
            ),
            subnet_ids: subnets.to_vec(),
            security_group_ids: groups.to_vec(),
            publicly_accessible,
            state: Some("RUNNING".into()),
        });
        arn
    }

    /// A mapping on an MQ broker: always with a secret (BASIC_AUTH), as Lambda requires.
    pub fn mq_mapping(&mut self, broker_arn: &str) -> String {
        let secret = self.secret();
        self.mapping(
            EventSource::Mq {
                broker_arn: broker_arn.to_string(),
            },
            false,
            vec![SourceAccess {
                kind: "BASIC_AUTH".into(),
                uri: secret,
            }],
        )
    }

    /// A DocumentDB cluster whose subnet group holds `subnets`.
    pub fn docdb_cluster(&mut self, subnets: &[String], groups: &[String], port: u16) -> String {
        self.next += 1;
        let id = format!("orders-docdb-{}", self.next);
        let arn = format!(
            "arn:{}:rds:{}:{ACCOUNT}:cluster:{id}",
            self.partition(),
            self.region()
        );
        let vpc_id = self.subnet(&subnets[0]).vpc_id.clone();
        self.snapshot.docdb_clusters.push(DocDbCluster {
            arn: arn.clone(),
            id: id.clone(),
            port,
            subnet_group: format!("{id}-subnets"),
            vpc_id,
            subnet_ids: subnets.to_vec(),
            security_group_ids: groups.to_vec(),
            status: Some("available".into()),
        });
        arn
    }

    /// A mapping on a DocumentDB cluster: always with a secret (BASIC_AUTH).
    pub fn docdb_mapping(&mut self, cluster_arn: &str) -> String {
        let secret = self.secret();
        self.mapping(
            EventSource::DocumentDb {
                cluster_arn: cluster_arn.to_string(),
            },
            false,
            vec![SourceAccess {
                kind: "BASIC_AUTH".into(),
                uri: secret,
            }],
        )
    }

    /// A Secrets Manager secret's ARN, new each time.
    fn secret(&mut self) -> String {
        self.next += 1;
        format!(
            "arn:{}:secretsmanager:{}:{ACCOUNT}:secret:broker-credentials-{}",
            self.partition(),
            self.region(),
            self.next
        )
    }
}
