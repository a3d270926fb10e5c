//! Refuses answers that were cut off. EC2's XML parser accepts a document cut mid-element
//! when the HTTP framing looks complete (a `Content-Length` that matches the cut body, or
//! no length and a clean close), and then hands over whatever it had read: a subnet without
//! its ACL, a rule without its protocol. An answer whose XML root element is not closed, or
//! whose JSON does not parse whole, becomes a response error instead, which the SDK retries
//! like a reset connection and which ends, past the retries, as a gap: never as a fact.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Copy, Default)]
pub struct CompleteAnswers;

#[derive(Debug, thiserror::Error)]
#[error("the answer was cut off: {0}")]
pub struct CutOff(pub String);

impl Intercept for CompleteAnswers {
    fn name(&self) -> &'static str {
        "esm-guard:CompleteAnswers"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(response) = context.response() else {
            return Ok(());
        };
        if !response.status().is_success() {
            return Ok(());
        }
        let Some(body) = response.body().bytes() else {
            return Ok(());
        };
        let Err(why) = check(body) else {
            return Ok(());
        };
        if let Some(outcome) = context.output_or_error_mut() {
            if outcome.is_ok() {
                *outcome = Err(OrchestratorError::response(Box::new(CutOff(why))));
            }
        }
        Ok(())
    }
}

/// Whether `body` is a whole document: XML whose root element is closed, or JSON that
/// parses to the end. Other bodies (empty, binary) are the deserializer's business.
pub fn check(body: &[u8]) -> Result<(), String> {
    let text = body.trim_ascii();
    match text.first() {
        Some(b'<') => check_xml(text),
        Some(b'{') | Some(b'[') => serde_json::from_slice::<serde::de::IgnoredAny>(text)
            .map(|_| ())
            .map_err(|e| format!("the JSON document ends early ({e})")),
        _ => Ok(()),
    }
}

fn check_xml(text: &[u8]) -> Result<(), String> {
    let mut rest = text;
    // Skip the prolog: `<?xml ...?>`, comments and declarations.
    let root = loop {
        let Some(start) = rest.iter().position(|&b| b == b'<') else {
            return Err("no XML root element".into());
        };
        rest = &rest[start + 1..];
        match rest.first() {
            Some(b'?') | Some(b'!') => {
                let Some(end) = rest.iter().position(|&b| b == b'>') else {
                    return Err("an XML declaration is not closed".into());
                };
                rest = &rest[end + 1..];
            }
            Some(_) => {
                let name_len = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
                    .unwrap_or(rest.len());
                break &rest[..name_len];
            }
            None => return Err("no XML root element".into()),
        }
    };
    if root.is_empty() {
        return Err("no XML root element".into());
    }
    // A root that closes itself (`<Root/>`) is the whole document.
    if let Some(open_end) = rest.iter().position(|&b| b == b'>') {
        if open_end > 0
            && rest[open_end - 1] == b'/'
            && rest[open_end + 1..].trim_ascii().is_empty()
        {
            return Ok(());
        }
    }
    let mut closing = Vec::with_capacity(root.len() + 3);
    closing.extend_from_slice(b"</");
    closing.extend_from_slice(root);
    closing.push(b'>');
    if text.ends_with(&closing) {
        Ok(())
    } else {
        Err(format!(
            "the XML root element <{}> is not closed",
            String::from_utf8_lossy(root)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    const WHOLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkAclsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><networkAclSet><item><networkAclId>acl-1</networkAclId><entrySet><item><ruleNumber>90</ruleNumber><protocol>6</protocol><ruleAction>deny</ruleAction></item></entrySet></item></networkAclSet></DescribeNetworkAclsResponse>
"#;

    #[test]
    fn whole_documents_pass() {
        assert_eq!(check(WHOLE.as_bytes()), Ok(()));
        assert_eq!(check(b"<Empty/>"), Ok(()));
        assert_eq!(check(b"{\"EventSourceMappings\": []}"), Ok(()));
        assert_eq!(check(b""), Ok(()));
    }

    #[test]
    fn every_cut_is_refused() {
        let body = WHOLE.trim_end().as_bytes();
        for cut in 1..body.len() {
            assert!(check(&body[..cut]).is_err(), "cut at {cut} passed");
        }
        let json = br#"{"EventSourceMappings": [{"UUID": "a"}], "NextMarker": "x"}"#;
        for cut in 1..json.len() {
            assert!(check(&json[..cut]).is_err(), "JSON cut at {cut} passed");
        }
    }
}
