//! Arbitrary bytes as an endpoint policy document (UTF-8 only, as the EC2 API returns a
//! string): `Policy::parse` must never panic, and a parsed policy must evaluate a fixed
//! set of requests (the ones esm-guard asks about) without panicking.
#![no_main]

/// esm-guard's `src/policy.rs`, compiled in (see fuzz/Cargo.toml).
#[allow(dead_code)]
#[path = "../../src/policy.rs"]
mod policy;

use libfuzzer_sys::fuzz_target;
use policy::{Decision, Policy, Principal, Request};

const ROLE: &str = "arn:aws:iam::123456789012:role/consumer";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let requests = [
        Request {
            action: "lambda:InvokeFunction",
            principal: Principal::Service("lambda.amazonaws.com"),
            resource: "arn:aws:lambda:us-east-1:123456789012:function:consumer",
        },
        Request {
            action: "sts:AssumeRole",
            principal: Principal::Service("lambda.amazonaws.com"),
            resource: ROLE,
        },
        Request {
            action: "secretsmanager:GetSecretValue",
            principal: Principal::Aws(ROLE),
            resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-abc",
        },
        Request {
            action: "secretsmanager:GetSecretValue",
            principal: Principal::Unknown,
            resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-abc",
        },
    ];
    let full = policy.is_full_access();
    for request in &requests {
        let decision = policy.evaluate(request);
        // What esm-guard calls full access (no Deny, an unconditional Allow of * on *
        // to everyone) must allow every request.
        if full {
            assert_eq!(
                decision,
                Decision::Allow,
                "full access, yet not for {request:?}"
            );
        }
    }
});
