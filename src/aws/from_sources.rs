//! Amazon MQ brokers and DocumentDB clusters into the model, failing closed: a field AWS
//! always sends that is missing makes the answer incomplete, never a default.

use aws_sdk_docdb::types::{DbCluster, DbSubnetGroup};
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;

use super::from_ec2::Incomplete;
use crate::model::{DocDbCluster, MqBroker, MqEngine};

/// A broker (`mq:DescribeBroker`). Its subnets and groups are what the mapping uses; a
/// public broker has them too, but is reached over the internet.
pub(crate) fn mq_broker(o: &DescribeBrokerOutput) -> Result<MqBroker, Incomplete> {
    let arn = o
        .broker_arn()
        .ok_or_else(|| "a broker without BrokerArn".to_string())?;
    // Real answers spell it `ActiveMQ` where the API model says `ACTIVEMQ`: any case.
    let engine = match o.engine_type().map(|e| e.as_str().to_ascii_uppercase()) {
        Some(e) if e == "ACTIVEMQ" => MqEngine::ActiveMq,
        Some(e) if e == "RABBITMQ" => MqEngine::RabbitMq,
        Some(other) => return Err(format!("broker {arn} with engine {other}")),
        None => return Err(format!("broker {arn} without EngineType")),
    };
    let publicly_accessible = o
        .publicly_accessible()
        .ok_or_else(|| format!("broker {arn} without PubliclyAccessible"))?;
    let subnet_ids = o
        .subnet_ids
        .clone()
        .filter(|s| !s.is_empty() || publicly_accessible)
        .ok_or_else(|| format!("broker {arn} without SubnetIds"))?;
    // A broker without security groups uses its VPC's default group, which AWS names in
    // the answer; none at all for a VPC broker is an incomplete answer.
    let security_group_ids = o
        .security_groups
        .clone()
        .filter(|g| !g.is_empty() || publicly_accessible)
        .ok_or_else(|| format!("broker {arn} without SecurityGroups"))?;
    Ok(MqBroker {
        arn: arn.to_string(),
        id: o.broker_id().unwrap_or_default().to_string(),
        engine,
        deployment_mode: o.deployment_mode().map(|d| d.as_str().to_string()),
        subnet_ids,
        security_group_ids,
        publicly_accessible,
        state: o.broker_state().map(|s| s.as_str().to_string()),
    })
}

/// A DocumentDB cluster (`rds:DescribeDBClusters`) with its subnet group
/// (`rds:DescribeDBSubnetGroups`).
pub(crate) fn docdb_cluster(
    c: &DbCluster,
    group: &DbSubnetGroup,
) -> Result<DocDbCluster, Incomplete> {
    let arn = c
        .db_cluster_arn()
        .ok_or_else(|| "a DocumentDB cluster without DBClusterArn".to_string())?;
    let port = c
        .port()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("DocumentDB cluster {arn} without a Port"))?;
    let security_group_ids = c
        .vpc_security_groups
        .as_ref()
        .ok_or_else(|| format!("DocumentDB cluster {arn} without VpcSecurityGroups"))?
        .iter()
        // A group being removed no longer admits anything; one being added soon will.
        .filter(|g| g.status().is_none_or(|s| s != "removing"))
        .map(|g| {
            g.vpc_security_group_id()
                .map(str::to_string)
                .ok_or_else(|| format!("DocumentDB cluster {arn}: a group without its id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let subnet_ids = group
        .subnets
        .as_ref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("subnet group of DocumentDB cluster {arn} without Subnets"))?
        .iter()
        .map(|s| {
            s.subnet_identifier()
                .map(str::to_string)
                .ok_or_else(|| format!("subnet group of {arn}: a subnet without its id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DocDbCluster {
        arn: arn.to_string(),
        id: c.db_cluster_identifier().unwrap_or_default().to_string(),
        port,
        subnet_group: c.db_subnet_group().unwrap_or_default().to_string(),
        vpc_id: group
            .vpc_id()
            .ok_or_else(|| format!("subnet group of DocumentDB cluster {arn} without VpcId"))?
            .to_string(),
        subnet_ids,
        security_group_ids,
        status: c.status().map(str::to_string),
    })
}
