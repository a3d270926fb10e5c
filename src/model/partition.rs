//! The AWS partition a region belongs to, and what differs between partitions: ARNs,
//! and the names of the interface-endpoint services.

/// An AWS partition: `aws`, `aws-cn`, `aws-us-gov` (and the isolated ones, named by their
/// ARN prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    Aws,
    China,
    GovCloud,
    Iso,
    IsoB,
    IsoE,
    IsoF,
}

impl Partition {
    /// The partition of a region code (`us-east-1`, `cn-north-1`, `us-gov-west-1`, ...).
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::China
        } else if region.starts_with("us-gov-") {
            Partition::GovCloud
        } else if region.starts_with("us-isob-") {
            Partition::IsoB
        } else if region.starts_with("us-isof-") || region.starts_with("eu-isof-") {
            Partition::IsoF
        } else if region.starts_with("eu-isoe-") {
            Partition::IsoE
        } else if region.starts_with("us-iso-") {
            Partition::Iso
        } else {
            Partition::Aws
        }
    }

    /// The partition named by an ARN (`arn:PARTITION:...`), if it is one esm-guard knows.
    pub fn of_arn(arn: &str) -> Option<Partition> {
        let mut parts = arn.split(':');
        if parts.next() != Some("arn") {
            return None;
        }
        match parts.next()? {
            "aws" => Some(Partition::Aws),
            "aws-cn" => Some(Partition::China),
            "aws-us-gov" => Some(Partition::GovCloud),
            "aws-iso" => Some(Partition::Iso),
            "aws-iso-b" => Some(Partition::IsoB),
            "aws-iso-e" => Some(Partition::IsoE),
            "aws-iso-f" => Some(Partition::IsoF),
            _ => None,
        }
    }

    /// The partition's ARN prefix: `arn:<this>:...`.
    pub fn id(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::China => "aws-cn",
            Partition::GovCloud => "aws-us-gov",
            Partition::Iso => "aws-iso",
            Partition::IsoB => "aws-iso-b",
            Partition::IsoE => "aws-iso-e",
            Partition::IsoF => "aws-iso-f",
        }
    }

    /// The account's root principal, `arn:PARTITION:iam::ACCOUNT:root`.
    pub fn account_root(self, account: &str) -> String {
        format!("arn:{}:iam::{account}:root", self.id())
    }

    /// The interface-endpoint service name of `service` (`lambda`, `sts`, ...) in `region`.
    ///
    /// In the China regions some services carry a `cn.` prefix: AWS's China PrivateLink page
    /// lists `cn.com.amazonaws.<region>.lambda` (also S3 and ECR), while STS, Secrets
    /// Manager, SQS and SNS keep `com.amazonaws.<region>.<service>`
    /// (https://docs.amazonaws.cn/en_us/vpc/latest/privatelink/aws-services-cross-region-privatelink-support.html).
    /// `serves` accepts both spellings there, so a mistake in this table can only cost a
    /// planned endpoint, never a verdict.
    pub fn endpoint_service_name(self, region: &str, service: &str) -> String {
        match (self, service) {
            (Partition::China, "lambda" | "s3" | "ecr.api" | "ecr.dkr") => {
                format!("cn.com.amazonaws.{region}.{service}")
            }
            _ => format!("com.amazonaws.{region}.{service}"),
        }
    }

    /// Whether an endpoint of service name `name` is the endpoint of `service` in `region`:
    /// the full name, not its last word, so another region's endpoint (PrivateLink's
    /// cross-region endpoints) never counts.
    pub fn names_service(self, name: &str, region: &str, service: &str) -> bool {
        let plain = name
            .strip_prefix("com.amazonaws.")
            .or_else(|| {
                (self == Partition::China)
                    .then(|| name.strip_prefix("cn.com.amazonaws."))
                    .flatten()
            })
            .and_then(|rest| rest.strip_prefix(region))
            .and_then(|rest| rest.strip_prefix('.'));
        plain == Some(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_partitions() {
        assert_eq!(Partition::of_region("us-east-1"), Partition::Aws);
        assert_eq!(Partition::of_region("cn-northwest-1"), Partition::China);
        assert_eq!(Partition::of_region("us-gov-west-1"), Partition::GovCloud);
        assert_eq!(Partition::of_region("us-iso-east-1"), Partition::Iso);
        assert_eq!(Partition::of_region("us-isob-east-1"), Partition::IsoB);
        assert_eq!(
            Partition::of_arn("arn:aws-us-gov:iam::1:role/x"),
            Some(Partition::GovCloud)
        );
        assert_eq!(Partition::of_arn("not-an-arn"), None);
    }

    #[test]
    fn service_names_are_matched_whole() {
        let aws = Partition::Aws;
        assert!(aws.names_service("com.amazonaws.us-east-1.lambda", "us-east-1", "lambda"));
        assert!(!aws.names_service("com.amazonaws.us-west-2.lambda", "us-east-1", "lambda"));
        assert!(!aws.names_service("com.amazonaws.us-east-1.lambda", "us-east-1", "sts"));
        assert!(!aws.names_service(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123.lambda",
            "us-east-1",
            "lambda"
        ));
        assert!(!aws.names_service("cn.com.amazonaws.us-east-1.lambda", "us-east-1", "lambda"));
        let cn = Partition::China;
        assert!(cn.names_service("cn.com.amazonaws.cn-north-1.lambda", "cn-north-1", "lambda"));
        assert!(cn.names_service("com.amazonaws.cn-north-1.sts", "cn-north-1", "sts"));
        assert_eq!(
            cn.endpoint_service_name("cn-north-1", "lambda"),
            "cn.com.amazonaws.cn-north-1.lambda"
        );
        assert_eq!(
            Partition::GovCloud.endpoint_service_name("us-gov-west-1", "sts"),
            "com.amazonaws.us-gov-west-1.sts"
        );
        assert_eq!(Partition::China.account_root("1"), "arn:aws-cn:iam::1:root");
    }
}
