//! Seeds the built-in demo account in a running emulator (ESM_GUARD_EMULATOR_URL), with the
//! same SDK builder the integration tests use: healthy and broken Kafka mappings, and an
//! Amazon MQ and a DocumentDB mapping beside them.

// The example uses only part of the test support.
#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use support::account::{Auth, Builder};
use support::emulator::Account;

#[tokio::main]
async fn main() {
    let id = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "123456789012".into());
    let endpoint = std::env::var("ESM_GUARD_EMULATOR_URL").expect("ESM_GUARD_EMULATOR_URL");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            &id, "secret", None, None, "demo",
        ))
        .load()
        .await;
    let b = Builder::new(&Account {
        id,
        config,
        endpoint,
    });

    let vpc = b.vpc("10.0.0.0/16").await;
    let private: Vec<String> = vec![
        b.private_subnet(&vpc, "10.0.1.0/24", "us-east-1a").await,
        b.private_subnet(&vpc, "10.0.2.0/24", "us-east-1b").await,
    ];

    // 1. Healthy: an IAM cluster in private subnets, Lambda and STS endpoints with private DNS.
    let sg = b.cluster_group(&vpc, "orders-msk", 9098).await;
    b.endpoint(&vpc, "lambda", &private, std::slice::from_ref(&sg), true)
        .await;
    b.endpoint(&vpc, "sts", &private, std::slice::from_ref(&sg), true)
        .await;
    let orders = b
        .msk_cluster("orders", &private, std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let f = b.function("orders-consumer").await;
    let healthy = b.msk_mapping(&f, &orders, false, None).await;

    // 2. On-demand in private subnets of a VPC with no NAT gateway and no endpoints.
    let vpc2 = b.vpc("10.1.0.0/16").await;
    let bare: Vec<String> = vec![
        b.private_subnet(&vpc2, "10.1.1.0/24", "us-east-1a").await,
        b.private_subnet(&vpc2, "10.1.2.0/24", "us-east-1b").await,
    ];
    let sg2 = b.cluster_group(&vpc2, "payments-msk", 9098).await;
    let payments = b.msk_cluster("payments", &bare, &[sg2], Auth::Iam).await;
    let g = b.function("payments-consumer").await;
    let no_path = b.msk_mapping(&g, &payments, false, None).await;
    b.set_last_processing_result(
        &no_path,
        "PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured).",
    );

    // 3. The wrong broker port: SASL/SCRAM dials 9096, the group admits only 9092.
    let sg3 = b.cluster_group(&vpc, "audit-msk", 9092).await;
    let audit = b.msk_cluster("audit", &private, &[sg3], Auth::Scram).await;
    let h = b.function("audit-consumer").await;
    let wrong_port = b
        .msk_mapping(
            &h,
            &audit,
            true,
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_audit-Ab12Cd"),
        )
        .await;

    // 4. Behind endpoints whose security group admits no 443 from the cluster's group.
    let vpc4 = b.vpc("10.2.0.0/16").await;
    let subnets4: Vec<String> = vec![
        b.private_subnet(&vpc4, "10.2.1.0/24", "us-east-1a").await,
        b.private_subnet(&vpc4, "10.2.2.0/24", "us-east-1b").await,
    ];
    let sg4 = b.security_group(&vpc4, "events-msk").await;
    b.allow_ingress_from_group(&sg4, 9098, &sg4).await;
    let endpoint_sg = b.security_group(&vpc4, "events-endpoints").await;
    b.endpoint(
        &vpc4,
        "lambda",
        &subnets4,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    b.endpoint(
        &vpc4,
        "sts",
        &subnets4,
        std::slice::from_ref(&endpoint_sg),
        true,
    )
    .await;
    let events = b.msk_cluster("events", &subnets4, &[sg4], Auth::Iam).await;
    let k = b.function("events-consumer").await;
    let blocked = b.msk_mapping(&k, &events, false, None).await;

    // 5. Amazon MQ (RabbitMQ) beside the healthy cluster: the same endpoints serve it, but
    // it authenticates with a secret and there is no Secrets Manager endpoint.
    let mq_sg = b.cluster_group(&vpc, "notifications-mq", 5671).await;
    let broker = b
        .mq_broker(
            "notifications",
            aws_sdk_mq::types::EngineType::Rabbitmq,
            &private[..1],
            &[mq_sg],
            false,
        )
        .await;
    let m = b.function("notifications-consumer").await;
    let mq = b.mq_mapping(&m, &broker).await;

    // 6. DocumentDB in the fully served VPC 4 layout, but its group admits no 27017.
    let docdb_sg = b.security_group(&vpc, "profiles-docdb").await;
    b.allow_ingress_from_group(&docdb_sg, 443, &docdb_sg).await;
    b.endpoint(
        &vpc,
        "secretsmanager",
        &private,
        std::slice::from_ref(&docdb_sg),
        true,
    )
    .await;
    let cluster = b.docdb_cluster("profiles", &private, &[docdb_sg]).await;
    let p = b.function("profiles-consumer").await;
    let docdb = b.docdb_mapping(&p, &cluster).await;

    eprintln!("demo account seeded:");
    eprintln!("  healthy                      {healthy}");
    eprintln!("  on-demand, no NAT/endpoints  {no_path}");
    eprintln!("  wrong broker port            {wrong_port}");
    eprintln!("  endpoint blocks 443          {blocked}");
    eprintln!("  Amazon MQ, no Secrets Manager {mq}");
    eprintln!("  DocumentDB, port not admitted {docdb}");
}
