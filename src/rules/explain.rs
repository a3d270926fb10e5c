//! What each rule checks, why (in the guide's terms), and how to fix it: `esm-guard explain`.

use super::{RuleId, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    pub rule: RuleId,
    pub severity: Severity,
    pub applies: &'static str,
    pub checks: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    /// Whether esm-guard can make the fix itself (with remediation enabled).
    pub automated: bool,
}

impl Explanation {
    /// What `--remediate apply` does about the rule, in the planner's own terms: some rules
    /// are automated on one path only.
    pub fn automated_text(&self) -> &'static str {
        match (self.rule, self.automated) {
            (RuleId::HttpsEgress, true) => {
                "on the endpoint path, with --remediate apply (REMEDIATION=apply in the function): TCP 443 to the endpoint's group; never on the NAT path (0.0.0.0/0): esm-guard prints the exact AWS CLI command"
            }
            (RuleId::BrokerEgress, true) => {
                "for MSK, with --remediate apply (REMEDIATION=apply in the function): a self-referencing rule on the broker port; never for self-managed brokers' addresses: esm-guard prints the exact AWS CLI command"
            }
            (RuleId::NoServicePath, true) => {
                "the missing interface endpoints, with --remediate apply (REMEDIATION=apply in the function); never a NAT gateway or a route: esm-guard prints the exact AWS CLI commands"
            }
            (_, true) => "yes, with --remediate apply (REMEDIATION=apply in the function)",
            (_, false) => "never; esm-guard prints the exact AWS CLI command",
        }
    }
}

pub fn explain(rule: RuleId) -> Explanation {
    use RuleId::*;
    let (severity, applies, checks, why, fix, automated) = match rule {
        ClusterNotFound => (
            Severity::Fail,
            "MSK, Amazon MQ and DocumentDB mappings",
            "The event source named by the mapping's EventSourceArn exists in the region: the MSK cluster (or the MSK VPC connection of a cross-account or multi-VPC mapping), the Amazon MQ broker, the DocumentDB cluster.",
            "The mapping polls the source's brokers; without them it can only fail. Lambda reads MQ brokers and DocumentDB clusters of the function's own account and region only (the Lambda pages for both say so).",
            "Point the mapping at an existing source, or delete the mapping.",
            false,
        ),
        BrokerIngress => (
            Severity::Fail,
            "MSK, Amazon MQ and DocumentDB mappings",
            "The source's security groups admit TCP on the broker port from the mapping's ENIs: a self-referencing rule, or CIDRs covering the mapping's subnets. MSK: 9098 IAM, 9096 SASL/SCRAM, 9094 TLS, 9092 plaintext (14001-14100 through a VPC connection). Amazon MQ: 61617 (ActiveMQ), 5671 (RabbitMQ). DocumentDB: the cluster's port (27017 by default).",
            "Lambda creates hyperplane ENIs in the cluster's subnets with the cluster's security groups (not the function's); the guide asks for inbound traffic on the broker port, or a self-referencing rule.",
            "Add an inbound rule for TCP <broker port> on the cluster's security group from that same group.",
            true,
        ),
        BrokerEgress => (
            Severity::Fail,
            "mappings in a VPC",
            "The mapping's security groups let TCP on the broker port out to the brokers (self-reference, a covering CIDR, or 0.0.0.0/0).",
            "The ENIs carry the mapping's security groups; without egress on the broker port they cannot poll.",
            "Add an outbound rule for TCP <broker port> on the security group to itself (MSK) or to the brokers' addresses (self-managed).",
            true,
        ),
        NoServicePath => (
            Severity::Fail,
            "on-demand mappings",
            "Every required service (Lambda and STS; Secrets Manager when a secret is used; the on-failure destination's service) is reachable from every mapping subnet: through an interface endpoint with private DNS, or, from a private subnet only, through a NAT gateway.",
            "In on-demand mode the mapping invokes the function through the customer's VPC: the guide requires a NAT gateway in a public subnet or PrivateLink endpoints for Lambda, STS and Secrets Manager. A public subnet needs endpoints: a NAT gateway cannot serve it. Lambda's own error: \"Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and the OnFailure Destination (if one is configured)\".",
            "Create interface endpoints (com.amazonaws.<region>.lambda, .sts, .secretsmanager) in the mapping's subnets, one per AZ, with its security group and private DNS; or, for private subnets, route 0.0.0.0/0 to a NAT gateway in a public subnet of the same AZ. Amazon MQ and DocumentDB (what their Lambda pages add): the mapping always authenticates with a secret, so Secrets Manager is always needed; a publicly accessible MQ broker is reached over the internet and needs no path in the VPC; those pages also say provisioned mode needs no endpoints, but Lambda's API offers provisioned mode to Kafka and SQS only, so esm-guard judges MQ and DocumentDB mappings as on-demand; DocumentDB also needs TLS and change streams enabled on the cluster, which esm-guard does not read.",
            true,
        ),
        NatUnavailable => (
            Severity::Fail,
            "on-demand mappings on the NAT path",
            "The default route's NAT gateway exists and is available, and the route is not a blackhole.",
            "The NAT path is the only way out of a private subnet without endpoints.",
            "Create an available NAT gateway in a public subnet of the same AZ and point the route table's 0.0.0.0/0 at it.",
            false,
        ),
        NatNotPublic => (
            Severity::Fail,
            "on-demand mappings on the NAT path",
            "The NAT gateway has public connectivity and sits in a public subnet (default route to an internet gateway).",
            "The guide: a NAT gateway must always sit in a public subnet and be created with public connectivity.",
            "Create a public NAT gateway in a public subnet and route the mapping's subnets to it.",
            false,
        ),
        NatCrossAz => (
            Severity::Warn,
            "on-demand mappings on the NAT path",
            "The NAT gateway is in the same AZ as the subnet it serves.",
            "The guide: one NAT gateway per AZ, each private subnet routed to the NAT gateway of its own AZ.",
            "Create a NAT gateway in a public subnet of the subnet's AZ and route to it.",
            false,
        ),
        EgressUnverifiable => (
            Severity::Warn,
            "on-demand mappings",
            "The default route does not leave through a transit gateway, peering connection, virtual private gateway or appliance.",
            "Such a path leaves the VPC: esm-guard cannot see whether it reaches Lambda and STS.",
            "Verify the path by hand, or create interface endpoints with private DNS so the path stays in the VPC.",
            false,
        ),
        HttpsEgress => (
            Severity::Fail,
            "on-demand mappings",
            "The mapping's security groups let TCP 443 out toward the path: the endpoint's security group or subnets, or 0.0.0.0/0 for a NAT gateway.",
            "The guide's outbound rule: allow port 443 to the AWS services the mapping must reach.",
            "Add an outbound rule for TCP 443 to the endpoint's security group (endpoint path) or to 0.0.0.0/0 (NAT path).",
            true,
        ),
        EndpointUnavailable => (
            Severity::Fail,
            "on-demand mappings on the endpoint path",
            "The interface endpoint that captures the service is available.",
            "With private DNS, the endpoint takes the service's hostname for the whole VPC, even where a NAT gateway exists: an endpoint that is not available breaks the service.",
            "Wait for a pending endpoint, accept it, or delete and recreate a failed or rejected one.",
            false,
        ),
        EndpointPrivateDnsOff => (
            Severity::Warn,
            "on-demand mappings",
            "An endpoint for a required service has private DNS enabled.",
            "Without private DNS the service's public hostname does not resolve to the endpoint, so the mapping does not use it.",
            "Enable private DNS on the endpoint (aws ec2 modify-vpc-endpoint --private-dns-enabled).",
            false,
        ),
        VpcDnsDisabled => (
            Severity::Fail,
            "on-demand mappings on the endpoint path",
            "The VPC has enableDnsSupport and enableDnsHostnames.",
            "Endpoint private DNS needs both VPC DNS attributes.",
            "aws ec2 modify-vpc-attribute --enable-dns-support / --enable-dns-hostnames.",
            false,
        ),
        EndpointSgIngress => (
            Severity::Fail,
            "on-demand mappings on the endpoint path",
            "The endpoint's security groups admit TCP 443 from the mapping's security groups (or CIDRs covering its subnets).",
            "The guide: the endpoint's security group must allow inbound 443 from the cluster's security group.",
            "Add an inbound rule for TCP 443 on the endpoint's security group from the mapping's security group.",
            true,
        ),
        EndpointAzCoverage => (
            Severity::Warn,
            "on-demand mappings on the endpoint path",
            "The endpoint has a subnet in every AZ of the mapping's subnets.",
            "The guide selects the cluster's AZs and private subnets for each endpoint; an AZ without one sends traffic across AZs and loses the service with that AZ.",
            "Add a mapping subnet of each missing AZ to the endpoint.",
            false,
        ),
        EndpointPolicyDenies => (
            Severity::Fail,
            "on-demand mappings on the endpoint path",
            "The endpoint policy allows lambda:InvokeFunction (Lambda) and sts:AssumeRole (STS) to the Lambda service principal, and secretsmanager:GetSecretValue on the secret to the function's execution role (Secrets Manager). A statement whose Condition cannot be judged statically is reported as a warning, quoting it.",
            "An endpoint policy that denies these calls breaks the mapping as surely as a missing endpoint.",
            "Replace the policy with the guide's (see the fix's command), or add the missing statement.",
            false,
        ),
        EndpointPolicyOpen => (
            Severity::Info,
            "on-demand mappings on the endpoint path",
            "The endpoint does not keep the default full-access policy.",
            "The guide's best practice: restrict endpoint policies to what the mapping needs (for Secrets Manager, only the execution role on the secret).",
            "Apply the guide's restrictive policy to the endpoint.",
            false,
        ),
        NaclBlocks => (
            Severity::Fail,
            "mappings in a VPC",
            "The network ACLs of the mapping's subnets pass the broker port, 443 on the on-demand path, and the ephemeral return ports (1024-65535); lowest rule number wins.",
            "Network ACLs are stateless: the request and its reply must both be allowed.",
            "Add allow entries numbered below the blocking entry.",
            false,
        ),
        EsmReportedProblem => (
            Severity::Fail,
            "every mapping",
            "Lambda's own LastProcessingResult does not start with PROBLEM:. The finding names the kind of problem the text reports: connection (the network), authentication (SASL, mTLS, certificates), authorization (Kafka ACLs, IAM on the cluster), execution role, configuration, the function itself. Severity: fail, except when Lambda reports a connection problem, every other check passes (nothing at warn or above, nothing undecided, endpoints still coming up aside), and a change to the path happened since the last audit (esm-guard healed it, or a finding of the open alert is gone): then warn while a confirmation is pending, and fail again once follow-up checks came back with Lambda still reporting it. With no change known, Lambda's word stands: fail.",
            "Lambda reports, e.g., \"PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS...\" when the mapping cannot work. Lambda clears it only on its next successful poll, minutes after a fix, and nothing announces that: a report that predates a fix is not a failure of its own, while one that outlives the fix points to what esm-guard cannot see (the brokers' own firewall, their DNS names, a broker that is down).",
            "Fix the other findings, then watch LastProcessingResult (aws lambda get-event-source-mapping --uuid UUID --query LastProcessingResult, or esm-guard audit --esm UUID --wait-confirm 10). The function schedules follow-up checks itself (CONFIRM_AFTER_MINUTES, CONFIRM_ATTEMPTS).",
            false,
        ),
        PathDegraded => (
            Severity::Warn,
            "on-demand mappings",
            "Every address a required service's name resolves to is reachable from every mapping subnet: with private DNS, an endpoint's name resolves to its ENIs in all its subnets, so each (mapping subnet, endpoint subnet) pair is a path (the mapping's egress 443, both subnets' network ACLs both ways, the endpoint's ingress 443). Also fires for an endpoint in state partial.",
            "Clients pick one of the addresses at random: when some are blocked (a network ACL on another AZ's subnet that drops 443, say), some connections fail and the mapping stutters instead of stopping.",
            "Open the blocked boundary named in the finding (the exact entry or rule is in the fix), or remove the endpoint's subnet that cannot be reached.",
            false,
        ),
        EndpointPending => (
            Severity::Warn,
            "on-demand mappings on the endpoint path",
            "The interface endpoint that captures a required service is not pending or pendingAcceptance.",
            "A new endpoint is pending for a few minutes before it serves; one pending acceptance waits for the service owner. Until it is available the service is not reachable through it.",
            "Wait a few minutes; if it stays pending, look at it (aws ec2 describe-vpc-endpoints), accept it if it waits for acceptance, or recreate it.",
            false,
        ),
        EndpointPolicyScope => (
            Severity::Warn,
            "on-demand mappings on the endpoint path",
            "The Lambda and STS endpoint policies allow what the mapping needs with \"Resource\": \"*\", as the guide's policies do.",
            "The guide's policies for these endpoints grant the Lambda service principal lambda:InvokeFunction and sts:AssumeRole on \"Resource\": \"*\". A policy that names the function or the role works today and breaks the mapping when the function or its execution role changes.",
            "Apply the guide's policy (the fix shows it).",
            false,
        ),
        DestinationPath => (
            Severity::Warn,
            "provisioned mappings with an on-failure destination",
            "The on-failure destination's service (SQS, SNS, or S3) has a path from every mapping subnet: an interface endpoint with private DNS (a gateway endpoint for S3), or a NAT gateway.",
            "AWS's on-failure destination page for Kafka: \"You must deploy a VPC endpoint for your on-failure destination service inside your Kafka cluster VPC\" (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html). It does not exempt provisioned mode: without a path, failed records are not delivered.",
            "Create an interface endpoint for the destination's service (com.amazonaws.<region>.sqs or .sns; a gateway endpoint for S3) in the cluster's VPC, or route the subnets through a NAT gateway.",
            false,
        ),
        InsufficientData => (
            Severity::Unknown,
            "every mapping",
            "Every fact the rules need could be read.",
            "A guardrail must never say pass when it could not look.",
            "Grant the IAM action named in the finding to the role esm-guard runs as.",
            false,
        ),
    };
    Explanation {
        rule,
        severity,
        applies,
        checks,
        why,
        fix,
        automated,
    }
}
