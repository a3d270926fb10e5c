//! The values the command line accepts, each checked with an error that quotes the bad value.

use std::path::Path;

use super::CliError;

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub(super) fn parse_role_arn(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && crate::model::Partition::of_arn(text).is_some()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && is_account_id(parts[4])
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|r| !r.is_empty());
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{} is not an IAM role ARN (arn:aws:iam::123456789012:role/esm-guard-audit)",
            quote(text)
        ))
    }
}

pub(super) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// A region code: letters and digits in dash-separated parts, ending in a number.
pub(super) fn parse_region(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("{} is not a region (e.g. us-east-1)", quote(text)))
    }
}

/// The account ids in an --accounts file: one per line, `#` comments, blank lines skipped;
/// anything else names its line.
pub(super) fn read_accounts(path: &Path) -> Result<Vec<String>, CliError> {
    let failed = |problem: String| CliError::File {
        path: path.display().to_string(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
    let mut accounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or_default().trim();
        if id.is_empty() {
            continue;
        }
        if !is_account_id(id) {
            return Err(failed(format!(
                "line {}: {} is not a 12-digit account id",
                n + 1,
                quote(id)
            )));
        }
        if !accounts.iter().any(|a| a == id) {
            accounts.push(id.to_string());
        }
    }
    if accounts.is_empty() {
        return Err(failed("lists no account".into()));
    }
    Ok(accounts)
}

/// Minutes from 0 (exclusive) to 120, fractions allowed (`0.5` is 30 seconds).
pub(super) fn parse_minutes(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 && m <= 120.0 => Ok(m),
        _ => Err(format!(
            "{} is not a number of minutes from more than 0 to 120 (e.g. 10 or 0.5)",
            quote(text)
        )),
    }
}

/// At most this much of a bad value is repeated in an error.
const QUOTE_MAX: usize = 80;

pub(super) fn quote(text: &str) -> String {
    let cut: String = text.chars().take(QUOTE_MAX).collect();
    let more = text.chars().count().saturating_sub(QUOTE_MAX);
    let quoted = format!("{:?}", cut);
    if more > 0 {
        format!("{quoted} (and {more} more characters)")
    } else {
        quoted
    }
}

pub(super) fn parse_vpc_id(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("vpc-").unwrap_or_default();
    if !hex.is_empty() && hex.len() <= 17 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{} is not a VPC id (vpc- followed by up to 17 hex digits)",
            quote(text)
        ))
    }
}

/// A mapping UUID, or the ARN of one (`arn:PARTITION:lambda:REGION:ACCOUNT:event-source-mapping:UUID`).
pub(super) fn parse_esm(text: &str) -> Result<String, String> {
    let is_uuid = |t: &str| {
        let groups: Vec<&str> = t.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let is_arn = parts.len() == 7
        && parts[0] == "arn"
        && crate::model::Partition::of_arn(text).is_some()
        && parts[2] == "lambda"
        && parts[5] == "event-source-mapping"
        && is_uuid(parts[6]);
    if is_uuid(text) || is_arn {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{} is not an event source mapping UUID or ARN (e.g. 14e0db71-5d35-4eb5-b481-8945cf9d10c2)",
            quote(text)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_ids_are_checked_and_quoted_short() {
        assert!(parse_esm("14e0db71-5d35-4eb5-b481-8945cf9d10c2").is_ok());
        assert!(parse_esm(
            "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:14e0db71-5d35-4eb5-b481-8945cf9d10c2"
        )
        .is_ok());
        assert!(parse_esm(
            "arn:aws-cn:lambda:cn-north-1:123456789012:event-source-mapping:14e0db71-5d35-4eb5-b481-8945cf9d10c2"
        )
        .is_ok());
        for bad in [
            "",
            "x",
            "14e0db71-5d35-4eb5-b481",
            "arn:aws:lambda:us-east-1:1:function:f",
        ] {
            assert!(parse_esm(bad).is_err(), "{bad}");
        }
        let huge = "a".repeat(70_000);
        let error = parse_esm(&huge).unwrap_err();
        assert!(error.len() < 300, "{}", error.len());
        assert!(error.contains("69920 more characters"), "{error}");
    }
}
