//! Arbitrary bytes as the Lambda runtime would hand them over: JSON-decoded into a
//! `serde_json::Value` (what `LambdaEvent<Value>` carries), then classified. `classify` must
//! never panic; every outcome must be one of its documented shapes. `foreign` (the handler's
//! region/account/source check) runs on the same value.
#![no_main]

/// esm-guard's `src/lambda/event.rs`, compiled in (see fuzz/Cargo.toml).
#[allow(dead_code)]
#[path = "../../src/lambda/event.rs"]
mod event;

use event::{classify, EventError, Trigger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        // The runtime rejects what is not JSON before the handler runs.
        return;
    };
    // The handler's second look, for events of other regions and accounts: never panics.
    let _ = event::foreign(&event, "us-east-1", Some("123456789012"));
    let _ = event::foreign(&event, "us-east-1", None);
    match classify(&event) {
        Ok(Trigger::Mapping { uuid, .. }) => {
            assert!(
                !uuid.trim().is_empty(),
                "a mapping trigger with a blank uuid"
            );
        }
        Ok(Trigger::Network { vpc_id, .. }) => {
            if let Some(vpc) = vpc_id {
                assert!(vpc.starts_with("vpc-"), "not a VPC id: {vpc:?}");
            }
        }
        Ok(Trigger::Sweep { .. }) => {}
        Ok(Trigger::Ignored { reason }) => assert!(!reason.is_empty()),
        Err(error) => {
            // Every error names what is wrong.
            let text = error.to_string();
            match &error {
                EventError::NotAnObject { .. } => assert!(!event.is_object()),
                EventError::Missing { field }
                | EventError::WrongType { field, .. }
                | EventError::Invalid { field, .. } => {
                    assert!(text.contains(field.as_str()), "{text}")
                }
            }
        }
    }
});
