//! `esm-guard-lambda`: the function. Wires only: configuration parsed once, clients built
//! once, JSON logs per Lambda's logging controls, then the runtime loop.

use esm_guard::lambda::config::Config;
use esm_guard::lambda::handler::{self, Deps};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // AWS_LAMBDA_LOG_FORMAT=JSON gives JSON lines; AWS_LAMBDA_LOG_LEVEL sets the level.
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "the function's configuration is invalid");
    })?;
    let sdk = esm_guard::aws::load_config(None).await;
    let deps = Deps::new(&sdk, config);
    let deps = &deps;
    // Boxed: the handler's future is deep enough to overflow the compiler's layout queries.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        // The invocation's deadline bounds the collection (and its retries).
        let deadline = event.context.deadline;
        // The account of arn:aws:lambda:REGION:ACCOUNT:function:NAME: events from others are
        // not this function's.
        let _ = deps
            .function_arn
            .set(event.context.invoked_function_arn.clone());
        if let Some(account) = event
            .context
            .invoked_function_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
        {
            let _ = deps.account.set(account.to_string());
        }
        Box::pin(handler::invoke_until(deps, event.payload, Some(deadline)))
    }))
    .await
}
