//! A small evaluator for VPC endpoint policies: the IAM subset endpoint policies use. The
//! integration tests also judge the function role's identity policy with it (the IAM check
//! of every request the function makes): statements without a Principal apply to anyone.
//!
//! Deny wins over Allow; wildcards in actions (case-insensitive) and resources; principals
//! `*`, `{"AWS": ...}` and `{"Service": ...}`. Conditions on keys whose value is known for a
//! request through the endpoint (`aws:SourceVpc`, `aws:SourceVpce`, the principal's keys)
//! are evaluated with IAM's rules for absent keys; any other condition that would decide
//! the outcome is never counted as an allow: the result is `Undecidable`, quoting it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
    /// Statements that apply to an IAM principal only when it is one of the exact ARNs they
    /// list, by ARN; every other statement is in `general`. A policy esm-guard writes for a
    /// VPC has one statement per execution role, and each mapping's check then reads its
    /// own statement instead of all of them (linear, not quadratic, in the VPC's mappings).
    by_arn: HashMap<String, Vec<usize>>,
    general: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub allow: bool,
    pub principal: PrincipalSpec,
    pub actions: Matcher,
    pub resources: Matcher,
    /// The statement's Condition block, as JSON text, when it has one.
    pub condition: Option<String>,
    /// The same block, one test per (operator, key).
    pub tests: Vec<ConditionTest>,
}

/// One `"Operator": {"key": values}` pair of a Condition block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionTest {
    /// As written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// Lower case: condition keys are not case-sensitive.
    pub key: String,
    pub values: Vec<String>,
}

/// What a request carries for one condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'a> {
    Is(&'a str),
    /// A multivalued key (`aws:TagKeys`): only `ForAllValues:` / `ForAnyValue:` operators
    /// decide on it.
    Set(&'a [&'a str]),
    /// Known not to be in the request context.
    Absent,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub patterns: Vec<String>,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// No principal element: endpoint policies then apply to every principal.
    Any,
    Listed {
        aws: Vec<String>,
        service: Vec<String>,
        other: Vec<String>,
    },
    /// `NotPrincipal`: too rare in endpoint policies to judge statically.
    Not(String),
}

/// Who makes the request being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    Service(&'a str),
    /// An IAM role or user ARN.
    Aws(&'a str),
    /// Not known (the execution role could not be read).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub action: &'a str,
    pub principal: Principal<'a>,
    /// `None` when not known (the execution role could not be read): a statement whose
    /// Resource could exclude it cannot decide.
    pub resource: Option<&'a str>,
    /// The condition keys whose value (or absence) is known for this request, keys in lower
    /// case; every other key is unknown.
    pub context: &'a [(&'a str, KeyValue<'a>)],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement matches (its Sid, when it has one).
    ExplicitDeny(Option<String>),
    /// No statement allows.
    ImplicitDeny,
    /// The outcome hangs on something static evaluation cannot judge; each string says what.
    Undecidable(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON: {0}")]
    Json(String),
    #[error("policy has no Statement")]
    NoStatement,
    #[error("statement {index}: {problem}")]
    Statement { index: usize, problem: String },
}

impl Policy {
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        let value: Value =
            serde_json::from_str(document).map_err(|e| PolicyError::Json(e.to_string()))?;
        let statements = match value.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Err(PolicyError::NoStatement),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, s)| {
                parse_statement(s).map_err(|problem| PolicyError::Statement { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_arn: HashMap<String, Vec<usize>> = HashMap::new();
        let mut general = Vec::new();
        for (i, statement) in statements.iter().enumerate() {
            match exact_arns(&statement.principal) {
                Some(arns) => {
                    for arn in arns {
                        let entry = by_arn.entry(arn.clone()).or_default();
                        if entry.last() != Some(&i) {
                            entry.push(i);
                        }
                    }
                }
                None => general.push(i),
            }
        }
        Ok(Policy {
            statements,
            by_arn,
            general,
        })
    }

    /// The default endpoint policy: one unconditional Allow of `*` to everyone on `*`.
    pub fn is_full_access(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow
                && s.condition.is_none()
                && matches!(&s.principal, PrincipalSpec::Any)
                    | matches!(&s.principal, PrincipalSpec::Listed { aws, .. } if aws.iter().any(|a| a == "*"))
                && !s.actions.negated
                && s.actions.patterns.iter().any(|p| p == "*")
                && !s.resources.negated
                && s.resources.patterns.iter().any(|p| p == "*")
        }) && !self.statements.iter().any(|s| !s.allow)
    }

    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        let mut allowed = false;
        let mut unsure_allow = Vec::new();
        let mut unsure_deny = Vec::new();
        // Statements in document order (the first explicit deny is the one reported).
        let candidates: Vec<usize> = match request.principal {
            Principal::Aws(arn) => {
                let mut c = self.general.clone();
                c.extend(self.by_arn.get(arn).into_iter().flatten());
                c.sort_unstable();
                c
            }
            _ => (0..self.statements.len()).collect(),
        };
        for statement in candidates.into_iter().map(|i| &self.statements[i]) {
            let applies = match statement.applies(request) {
                Applies::No => continue,
                Applies::Yes => None,
                Applies::Maybe(why) => Some(format!("{} {why}", statement.label())),
            };
            let applies = match (applies, statement.conditions_hold(request)) {
                (_, Tri::False) => continue,
                (None, Tri::True) => None,
                (Some(why), _) => Some(why),
                (None, Tri::Unknown(why)) => Some(format!(
                    "{} has Condition {} ({why})",
                    statement.label(),
                    statement.condition.as_deref().unwrap_or_default()
                )),
            };
            match (statement.allow, applies) {
                (false, None) => return Decision::ExplicitDeny(statement.sid.clone()),
                (false, Some(why)) => unsure_deny.push(why),
                (true, None) => allowed = true,
                (true, Some(why)) => unsure_allow.push(why),
            }
        }
        if !unsure_deny.is_empty() {
            Decision::Undecidable(unsure_deny)
        } else if allowed {
            Decision::Allow
        } else if !unsure_allow.is_empty() {
            Decision::Undecidable(unsure_allow)
        } else {
            Decision::ImplicitDeny
        }
    }
}

enum Applies {
    Yes,
    No,
    Maybe(String),
}

/// A three-valued truth: conditions on keys esm-guard cannot know are `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown(String),
}

impl ConditionTest {
    /// IAM's rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
    /// values of one key are ORed; a key absent from the request matches no value, so a
    /// negated operator holds and the others do not; `...IfExists` holds when the key is
    /// absent; `Null` tests presence; `ForAllValues` holds for an absent key,
    /// `ForAnyValue` does not.
    fn holds(&self, context: &[(&str, KeyValue<'_>)]) -> Tri {
        let unknown = |why: &str| Tri::Unknown(format!("{} on {} {why}", self.operator, self.key));
        let Some(value) = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| *v)
        else {
            return unknown("cannot be known for this request");
        };
        if self.values.iter().any(|v| v.contains("${")) {
            return unknown("uses a policy variable");
        }
        let (set, rest) = match self.operator.split_once(':') {
            Some((set, rest)) => (Some(set), rest),
            None => (None, self.operator.as_str()),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        if base == "Null" {
            let wants_absent = match self.values.first().map(|v| v.to_ascii_lowercase()) {
                Some(v) if v == "true" => true,
                Some(v) if v == "false" => false,
                _ => return unknown("has a value that is neither true nor false"),
            };
            return bool_tri(matches!(value, KeyValue::Absent) == wants_absent);
        }
        let (negated, compare): (bool, fn(&str, &str) -> bool) = match base {
            "StringEquals" => (false, |p, v| p == v),
            "StringNotEquals" => (true, |p, v| p == v),
            "StringEqualsIgnoreCase" => (false, |p, v| p.eq_ignore_ascii_case(v)),
            "StringNotEqualsIgnoreCase" => (true, |p, v| p.eq_ignore_ascii_case(v)),
            "StringLike" => (false, glob_match),
            "StringNotLike" => (true, glob_match),
            "ArnEquals" | "ArnLike" => (false, glob_match),
            "ArnNotEquals" | "ArnNotLike" => (true, glob_match),
            "Bool" => (false, |p, v| p.eq_ignore_ascii_case(v)),
            _ => return unknown("uses an operator esm-guard does not evaluate"),
        };
        match value {
            KeyValue::Absent => bool_tri(match set {
                Some("ForAllValues") => true,
                Some("ForAnyValue") => false,
                _ => if_exists || negated,
            }),
            KeyValue::Is(v) => {
                let any = self.values.iter().any(|p| compare(p, v));
                bool_tri(any != negated)
            }
            KeyValue::Set(values) => {
                let each = |v: &&str| self.values.iter().any(|p| compare(p, v)) != negated;
                match set {
                    Some("ForAllValues") => bool_tri(values.iter().all(each)),
                    Some("ForAnyValue") => bool_tri(values.iter().any(each)),
                    _ => unknown("is multivalued and needs ForAllValues or ForAnyValue"),
                }
            }
        }
    }
}

fn bool_tri(b: bool) -> Tri {
    if b {
        Tri::True
    } else {
        Tri::False
    }
}

impl Statement {
    fn label(&self) -> String {
        match &self.sid {
            Some(sid) => format!("statement {sid:?}"),
            None => "a statement".to_string(),
        }
    }

    fn applies(&self, request: &Request<'_>) -> Applies {
        let action = self
            .actions
            .matches(|p| glob_match_by(p, request.action, |a, b| a.eq_ignore_ascii_case(&b)));
        if !action {
            return Applies::No;
        }
        let principal = self.principal_applies(request);
        let resource = match request.resource {
            Some(resource) => {
                if !self.resources.matches(|p| glob_match(p, resource)) {
                    return Applies::No;
                }
                None
            }
            // Only `Resource: "*"` decides for a resource nobody knows.
            None if !self.resources.negated && self.resources.patterns.iter().any(|p| p == "*") => {
                None
            }
            None => Some(format!(
                "names resources {:?} and the resource asked for (the execution role) is not known",
                self.resources.patterns
            )),
        };
        match (principal, resource) {
            (Applies::No, _) => Applies::No,
            (Applies::Maybe(why), _) | (Applies::Yes, Some(why)) => Applies::Maybe(why),
            (Applies::Yes, None) => Applies::Yes,
        }
    }

    /// Whether the Condition block holds for `request`: every test must.
    fn conditions_hold(&self, request: &Request<'_>) -> Tri {
        if self.condition.is_some() && self.tests.is_empty() {
            return Tri::Unknown("its Condition block is not understood".into());
        }
        let mut unknown = None;
        for test in &self.tests {
            match test.holds(request.context) {
                Tri::False => return Tri::False,
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::True => {}
            }
        }
        match unknown {
            Some(why) => Tri::Unknown(why),
            None => Tri::True,
        }
    }

    fn principal_applies(&self, request: &Request<'_>) -> Applies {
        match &self.principal {
            PrincipalSpec::Any => Applies::Yes,
            PrincipalSpec::Not(text) => Applies::Maybe(format!("uses NotPrincipal {text}")),
            PrincipalSpec::Listed { aws, service, .. } => {
                if aws.iter().any(|a| a == "*") {
                    return Applies::Yes;
                }
                match request.principal {
                    Principal::Service(name) => {
                        if service.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                            Applies::Yes
                        } else {
                            Applies::No
                        }
                    }
                    Principal::Aws(arn) => {
                        if aws.iter().any(|a| aws_principal_matches(a, arn)) {
                            Applies::Yes
                        } else {
                            Applies::No
                        }
                    }
                    Principal::Unknown if aws.is_empty() => Applies::No,
                    Principal::Unknown => Applies::Maybe(format!(
                        "names AWS principals {aws:?} and the caller's role is not known"
                    )),
                }
            }
        }
    }
}

impl Matcher {
    fn matches(&self, test: impl Fn(&str) -> bool) -> bool {
        self.patterns.iter().any(|p| test(p)) != self.negated
    }
}

/// The ARNs a statement's principal lists, when it applies to an IAM principal exactly when
/// the principal is one of them: no wildcard, no account entry, nothing but `AWS` entries.
fn exact_arns(principal: &PrincipalSpec) -> Option<&[String]> {
    match principal {
        PrincipalSpec::Listed {
            aws,
            service,
            other,
        } if !aws.is_empty()
            && service.is_empty()
            && other.is_empty()
            && aws.iter().all(|a| {
                a.starts_with("arn:") && !a.contains(['*', '?']) && !a.ends_with(":root")
            }) =>
        {
            Some(aws)
        }
        _ => None,
    }
}

/// An AWS principal entry admits a role ARN when it is that ARN, the account's root (in the
/// role's partition), or the bare account id (the account then delegates to its own IAM
/// policies).
fn aws_principal_matches(entry: &str, arn: &str) -> bool {
    if entry == arn || glob_match(entry, arn) {
        return true;
    }
    let mut parts = arn.split(':');
    let partition = parts.nth(1).unwrap_or_default();
    let account = parts.nth(2).unwrap_or_default();
    !account.is_empty()
        && (entry == account || entry == format!("arn:{partition}:iam::{account}:root"))
}

fn parse_statement(s: &Value) -> Result<Statement, String> {
    let obj = s.as_object().ok_or("is not an object")?;
    let allow = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        Some(other) => return Err(format!("Effect {other:?} is neither Allow nor Deny")),
        None => return Err("has no Effect".into()),
    };
    let actions = matcher(obj.get("Action"), obj.get("NotAction"), "Action")?;
    let resources = match (obj.get("Resource"), obj.get("NotResource")) {
        // Endpoint policies may omit Resource; it then means every resource.
        (None, None) => Matcher {
            patterns: vec!["*".into()],
            negated: false,
        },
        (r, nr) => matcher(r, nr, "Resource")?,
    };
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err("has both Principal and NotPrincipal".into()),
        (None, Some(np)) => PrincipalSpec::Not(np.to_string()),
        (None, None) => PrincipalSpec::Any,
        (Some(Value::String(s)), None) if s == "*" => PrincipalSpec::Any,
        (Some(Value::Object(map)), None) => {
            let mut aws = Vec::new();
            let mut service = Vec::new();
            let mut other = Vec::new();
            for (kind, value) in map {
                let values = strings(value).ok_or(format!(
                    "Principal.{kind} is not a string or list of strings"
                ))?;
                match kind.as_str() {
                    "AWS" => aws.extend(values),
                    "Service" => service.extend(values),
                    _ => other.extend(values),
                }
            }
            PrincipalSpec::Listed {
                aws,
                service,
                other,
            }
        }
        (Some(other), None) => return Err(format!("Principal {other} is not understood")),
    };
    let condition = match obj.get("Condition") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(c) => Some(c.to_string()),
    };
    // A block that is not {operator: {key: value(s)}} keeps no tests: it is undecidable.
    let mut tests = Vec::new();
    if let Some(Value::Object(operators)) = obj.get("Condition") {
        'parse: for (operator, keys) in operators {
            let Value::Object(keys) = keys else {
                tests.clear();
                break 'parse;
            };
            for (key, values) in keys {
                let values = match values {
                    Value::Bool(b) => vec![b.to_string()],
                    Value::Number(n) => vec![n.to_string()],
                    other => match strings(other) {
                        Some(v) => v,
                        None => {
                            tests.clear();
                            break 'parse;
                        }
                    },
                };
                tests.push(ConditionTest {
                    operator: operator.clone(),
                    key: key.to_ascii_lowercase(),
                    values,
                });
            }
        }
    }
    Ok(Statement {
        sid: obj.get("Sid").and_then(Value::as_str).map(str::to_string),
        allow,
        principal,
        actions,
        resources,
        condition,
        tests,
    })
}

fn matcher(plain: Option<&Value>, not: Option<&Value>, name: &str) -> Result<Matcher, String> {
    match (plain, not) {
        (Some(v), None) => Ok(Matcher {
            patterns: strings(v).ok_or(format!("{name} is not a string or list of strings"))?,
            negated: false,
        }),
        (None, Some(v)) => Ok(Matcher {
            patterns: strings(v).ok_or(format!("Not{name} is not a string or list of strings"))?,
            negated: true,
        }),
        (Some(_), Some(_)) => Err(format!("has both {name} and Not{name}")),
        (None, None) => Err(format!("has no {name}")),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// IAM wildcard match: `*` any run of characters, `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob_match_by(pattern, text, |a, b| a == b)
}

/// `glob_match` with `eq` deciding whether two characters match (case-insensitive actions).
fn glob_match_by(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    // Most patterns are `*` or a literal: no need to walk them.
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern.len() == text.len()
            && pattern.chars().zip(text.chars()).all(|(a, b)| eq(a, b));
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        // A `*` in the pattern is always a wildcard, even against a literal `*` in the text.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The guide's restrictive policy for an interface endpoint of Lambda or STS.
pub fn service_principal_policy(action: &str) -> String {
    // Only two actions ever come here, and the engine asks once per mapping and endpoint:
    // build each document once.
    static LAMBDA: LazyLock<String> =
        LazyLock::new(|| build_service_principal_policy("lambda:InvokeFunction"));
    static STS: LazyLock<String> =
        LazyLock::new(|| build_service_principal_policy("sts:AssumeRole"));
    match action {
        "lambda:InvokeFunction" => LAMBDA.clone(),
        "sts:AssumeRole" => STS.clone(),
        other => build_service_principal_policy(other),
    }
}

fn build_service_principal_policy(action: &str) -> String {
    serde_json::json!({
        "Statement": [{
            "Action": action,
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The guide's restrictive policy for an endpoint the execution role uses on resources
/// (Secrets Manager: `GetSecretValue` on the secrets; destinations likewise).
pub fn role_policy(grants: &[(String, String, String)]) -> String {
    let statements: Vec<Value> = grants
        .iter()
        .map(|(action, role, resource)| {
            serde_json::json!({
                "Action": action,
                "Effect": "Allow",
                "Principal": {"AWS": [role]},
                "Resource": resource
            })
        })
        .collect();
    serde_json::json!({ "Statement": statements }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/consumer";
    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-abc";

    fn lambda_invoke() -> Request<'static> {
        Request {
            action: "lambda:InvokeFunction",
            principal: Principal::Service("lambda.amazonaws.com"),
            resource: Some("arn:aws:lambda:us-east-1:123456789012:function:f"),
            context: &[],
        }
    }

    fn get_secret() -> Request<'static> {
        Request {
            action: "secretsmanager:GetSecretValue",
            principal: Principal::Aws(ROLE),
            resource: Some(SECRET),
            context: &[],
        }
    }

    fn decide(policy: &str, request: Request<'_>) -> Decision {
        Policy::parse(policy).unwrap().evaluate(&request)
    }

    /// The ARN index must decide exactly as reading every statement in order does.
    #[test]
    fn the_arn_index_decides_as_a_full_scan() {
        let doc = r#"{"Statement":[
            {"Sid":"a","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/a","arn:aws:iam::123456789012:role/shared"]},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
            {"Sid":"b-deny","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/b"},"Action":"secretsmanager:*","Resource":"*"},
            {"Sid":"b","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/b"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
            {"Sid":"acct","Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
            {"Sid":"glob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app-*"},"Action":"SecretsManager:Get*","Resource":"*"},
            {"Sid":"cond","Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"x"}}},
            {"Sid":"no-secret","Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:forbidden-*"}
        ]}"#;
        let policy = Policy::parse(doc).unwrap();
        let mut full_scan = policy.clone();
        full_scan.by_arn.clear();
        full_scan.general = (0..full_scan.statements.len()).collect();
        for role in [
            "arn:aws:iam::123456789012:role/a",
            "arn:aws:iam::123456789012:role/b",
            "arn:aws:iam::123456789012:role/shared",
            "arn:aws:iam::123456789012:role/app-x",
            "arn:aws:iam::210987654321:role/other",
            "arn:aws:iam::123456789012:role/nobody",
        ] {
            for resource in [
                SECRET,
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:forbidden-1",
            ] {
                let request = Request {
                    action: "secretsmanager:GetSecretValue",
                    principal: Principal::Aws(role),
                    resource: Some(resource),
                    context: &[],
                };
                assert_eq!(
                    policy.evaluate(&request),
                    full_scan.evaluate(&request),
                    "{role} on {resource}"
                );
            }
        }
        let b = Request {
            action: "secretsmanager:GetSecretValue",
            principal: Principal::Aws("arn:aws:iam::123456789012:role/b"),
            resource: Some(SECRET),
            context: &[],
        };
        assert_eq!(
            policy.evaluate(&b),
            Decision::ExplicitDeny(Some("b-deny".into()))
        );
        // Only the statements naming exact role ARNs are indexed.
        assert_eq!(policy.general, vec![3, 4, 5, 6]);
    }

    #[test]
    fn conditions_on_known_keys_are_evaluated() {
        let vpce = [
            ("aws:sourcevpce", KeyValue::Is("vpce-1")),
            ("aws:sourcevpc", KeyValue::Is("vpc-1")),
            ("aws:principalorgid", KeyValue::Absent),
            ("aws:principalaccount", KeyValue::Absent),
        ];
        let request = Request {
            context: &vpce,
            ..lambda_invoke()
        };
        let with = |condition: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{condition}}}]}}"#
            )
        };
        let cases = [
            (
                r#"{"StringEquals":{"aws:SourceVpce":"vpce-1"}}"#,
                Decision::Allow,
            ),
            (
                r#"{"StringEquals":{"aws:SourceVpce":["vpce-2","vpce-1"]}}"#,
                Decision::Allow,
            ),
            (
                r#"{"StringEquals":{"aws:SourceVpce":"vpce-2"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"StringNotEquals":{"aws:SourceVpc":"vpc-1"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"StringLike":{"aws:SourceVpc":"vpc-*"}}"#,
                Decision::Allow,
            ),
            // Keys only IAM principals carry are absent for the Lambda service principal.
            (
                r#"{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
                Decision::Allow,
            ),
            (
                r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-1"}}"#,
                Decision::Allow,
            ),
            (r#"{"Null":{"aws:PrincipalOrgID":"true"}}"#, Decision::Allow),
            (
                r#"{"Null":{"aws:PrincipalOrgID":"false"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"ForAnyValue:StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
                Decision::ImplicitDeny,
            ),
            (
                r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#,
                Decision::Allow,
            ),
            // Both tests of one block must hold.
            (
                r#"{"StringEquals":{"aws:SourceVpce":"vpce-1","aws:SourceVpc":"vpc-2"}}"#,
                Decision::ImplicitDeny,
            ),
        ];
        for (condition, want) in cases {
            let policy = Policy::parse(&with(condition)).unwrap();
            assert_eq!(policy.evaluate(&request), want, "{condition}");
        }
        for undecidable in [
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            r#"{"StringEquals":{"aws:SourceVpce":"${aws:username}"}}"#,
            r#"{"IpAddress":{"aws:SourceVpce":"10.0.0.0/8"}}"#,
            r#"{"StringEquals":"not an object"}"#,
        ] {
            let policy = Policy::parse(&with(undecidable)).unwrap();
            assert!(
                matches!(policy.evaluate(&request), Decision::Undecidable(_)),
                "{undecidable}"
            );
        }
        // A deny on a key that holds denies; one that does not hold lets the allow through.
        let deny = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Sid":"OnlyOurVpce","Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}}]}"#;
        assert_eq!(
            Policy::parse(deny).unwrap().evaluate(&request),
            Decision::Allow
        );
        let other = [("aws:sourcevpce", KeyValue::Is("vpce-9"))];
        assert_eq!(
            Policy::parse(deny).unwrap().evaluate(&Request {
                context: &other,
                ..lambda_invoke()
            }),
            Decision::ExplicitDeny(Some("OnlyOurVpce".into()))
        );
    }

    #[test]
    fn multivalued_keys_need_a_set_operator() {
        let with = |condition: &str| {
            Policy::parse(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"ec2:CreateVpcEndpoint","Resource":"*","Condition":{condition}}}]}}"#
            ))
            .unwrap()
        };
        let decide = |condition: &str, keys: &[&str]| {
            let context = [("aws:tagkeys", KeyValue::Set(keys))];
            with(condition).evaluate(&Request {
                action: "ec2:CreateVpcEndpoint",
                principal: Principal::Aws(ROLE),
                resource: Some("arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/*"),
                context: &context,
            })
        };
        let all = r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#;
        assert_eq!(decide(all, &["a"]), Decision::Allow);
        assert_eq!(decide(all, &["a", "b"]), Decision::Allow);
        assert_eq!(decide(all, &["a", "c"]), Decision::ImplicitDeny);
        // Vacuously true with no keys, as IAM documents for ForAllValues.
        assert_eq!(decide(all, &[]), Decision::Allow);
        let any = r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#;
        assert_eq!(decide(any, &["c", "a"]), Decision::Allow);
        assert_eq!(decide(any, &["c"]), Decision::ImplicitDeny);
        assert_eq!(decide(any, &[]), Decision::ImplicitDeny);
        let none = r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#;
        assert_eq!(decide(none, &["a"]), Decision::Allow);
        assert_eq!(decide(none, &["a", "secret"]), Decision::ImplicitDeny);
        // Without a set operator a multivalued key decides nothing.
        let plain = r#"{"StringEquals":{"aws:TagKeys":"a"}}"#;
        assert!(matches!(decide(plain, &["a"]), Decision::Undecidable(_)));
    }

    #[test]
    fn an_unknown_resource_is_decided_only_by_resource_star() {
        let star = service_principal_policy("sts:AssumeRole");
        let named = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/consumer"}]}"#;
        let unknown = Request {
            action: "sts:AssumeRole",
            principal: Principal::Service("lambda.amazonaws.com"),
            resource: None,
            context: &[],
        };
        assert_eq!(decide(&star, unknown), Decision::Allow);
        assert!(matches!(decide(named, unknown), Decision::Undecidable(_)));
        assert_eq!(
            decide(
                named,
                Request {
                    resource: Some(ROLE),
                    ..unknown
                }
            ),
            Decision::Allow
        );
    }

    #[test]
    fn glob() {
        let cases = [
            ("a*c", "a*bc", true),
            ("a*", "a*", true),
            ("*b", "*xb", true),
            ("*", "anything", true),
            ("lambda:*", "lambda:invokefunction", true),
            ("lambda:invoke*", "lambda:invokefunction", true),
            ("lambda:invoke*", "lambda:getfunction", false),
            ("lambda:?nvokeFunction", "lambda:InvokeFunction", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn the_guides_policies_allow_what_the_esm_needs() {
        let lambda = service_principal_policy("lambda:InvokeFunction");
        assert_eq!(decide(&lambda, lambda_invoke()), Decision::Allow);
        let sts = service_principal_policy("sts:AssumeRole");
        let assume = Request {
            action: "sts:AssumeRole",
            principal: Principal::Service("lambda.amazonaws.com"),
            resource: Some(ROLE),
            context: &[],
        };
        assert_eq!(decide(&sts, assume), Decision::Allow);
        // Lambda's policy does not grant STS, and vice versa.
        assert_eq!(decide(&lambda, assume), Decision::ImplicitDeny);
        let secrets = role_policy(&[(
            "secretsmanager:GetSecretValue".into(),
            ROLE.into(),
            SECRET.into(),
        )]);
        assert_eq!(decide(&secrets, get_secret()), Decision::Allow);
        let other_secret = Request {
            resource: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:other"),
            ..get_secret()
        };
        assert_eq!(decide(&secrets, other_secret), Decision::ImplicitDeny);
    }

    #[test]
    fn action_wildcards_are_case_insensitive() {
        for action in ["*", "lambda:*", "Lambda:Invoke*", "LAMBDA:INVOKEFUNCTION"] {
            let doc = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"{action}","Resource":"*"}}]}}"#
            );
            assert_eq!(decide(&doc, lambda_invoke()), Decision::Allow, "{action}");
        }
        let doc = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"lambda:Get*","Resource":"*"}}"#;
        assert_eq!(decide(doc, lambda_invoke()), Decision::ImplicitDeny);
    }

    #[test]
    fn deny_wins() {
        let doc = r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Sid":"NoInvoke","Effect":"Deny","Principal":"*","Action":"lambda:InvokeFunction","Resource":"*"}]}"#;
        assert_eq!(
            decide(doc, lambda_invoke()),
            Decision::ExplicitDeny(Some("NoInvoke".into()))
        );
        let policy = Policy::parse(doc).unwrap();
        assert!(!policy.is_full_access(), "a Deny makes it restricted");
    }

    #[test]
    fn principals() {
        let by_account = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
        assert_eq!(decide(by_account, get_secret()), Decision::Allow);
        let by_root = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"secretsmanager:*","Resource":"*"}]}"#;
        assert_eq!(decide(by_root, get_secret()), Decision::Allow);
        let other_role = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/other"},"Action":"*","Resource":"*"}]}"#;
        assert_eq!(decide(other_role, get_secret()), Decision::ImplicitDeny);
        let service_only = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"*","Resource":"*"}]}"#;
        assert_eq!(decide(service_only, get_secret()), Decision::ImplicitDeny);
        assert_eq!(decide(service_only, lambda_invoke()), Decision::Allow);
        let unknown_role = Request {
            principal: Principal::Unknown,
            ..get_secret()
        };
        assert!(matches!(
            decide(other_role, unknown_role),
            Decision::Undecidable(_)
        ));
        let star = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}]}"#;
        assert_eq!(decide(star, unknown_role), Decision::Allow);
    }

    #[test]
    fn resource_wildcards_and_not_resource() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-*"}]}"#;
        assert_eq!(decide(doc, get_secret()), Decision::Allow);
        let not = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","NotResource":"arn:aws:secretsmanager:*"}]}"#;
        assert_eq!(decide(not, get_secret()), Decision::ImplicitDeny);
        let not_action = r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"lambda:InvokeFunction","Resource":"*"}]}"#;
        assert_eq!(decide(not_action, lambda_invoke()), Decision::ImplicitDeny);
    }

    #[test]
    fn conditions_are_never_silently_allowed() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}]}"#;
        match decide(doc, lambda_invoke()) {
            Decision::Undecidable(why) => assert!(why[0].contains("aws:PrincipalOrgID"), "{why:?}"),
            other => panic!("expected undecidable, got {other:?}"),
        }
        // An unconditional allow next to a conditional deny is still undecidable.
        let deny = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert!(matches!(
            decide(deny, lambda_invoke()),
            Decision::Undecidable(_)
        ));
        // An unconditional allow beside a conditional allow is an allow.
        let both = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
            {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Bool":{"x":"y"}}}]}"#;
        assert_eq!(decide(both, lambda_invoke()), Decision::Allow);
    }

    #[test]
    fn full_access_is_recognised() {
        let default =
            r#"{"Statement":[{"Action":"*","Effect":"Allow","Principal":"*","Resource":"*"}]}"#;
        assert!(Policy::parse(default).unwrap().is_full_access());
        let guide = service_principal_policy("lambda:InvokeFunction");
        assert!(!Policy::parse(&guide).unwrap().is_full_access());
    }

    #[test]
    fn malformed_policies_name_the_problem() {
        assert!(matches!(Policy::parse("{"), Err(PolicyError::Json(_))));
        assert_eq!(Policy::parse("{}"), Err(PolicyError::NoStatement));
        let bad_effect = r#"{"Statement":[{"Effect":"Maybe","Action":"*"}]}"#;
        assert!(Policy::parse(bad_effect)
            .unwrap_err()
            .to_string()
            .contains("Maybe"));
        let no_action = r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#;
        assert!(Policy::parse(no_action)
            .unwrap_err()
            .to_string()
            .contains("no Action"));
        let number = r#"{"Statement":[{"Effect":"Allow","Action":7}]}"#;
        assert!(Policy::parse(number).is_err());
    }
}
