//! Counting the AWS calls code makes when it runs in the caller's own process (the operator's
//! `issue-cards`, the benches, a test of the issuance): every client the service builds carries
//! the [`CountCalls`] interceptor; it records `service:Operation` for each call made inside
//! [`counted`], and does nothing elsewhere (Lambda never counts). The functions' calls on the
//! local stack are counted by the stack itself, at each instance's AWS endpoint, and answered in
//! `x-local-aws-calls` (infra/local-stack/src/runtime.rs).

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

tokio::task_local! {
    static CALLS: Arc<Mutex<Vec<String>>>;
}

/// Runs `f`, returning its output and the calls it made (`DynamoDB:GetItem`, …), in order.
pub async fn counted<F: Future>(f: F) -> (F::Output, Vec<String>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let out = CALLS.scope(calls.clone(), f).await;
    let list = calls.lock().map(|l| l.clone()).unwrap_or_default();
    (out, list)
}

/// Records one entry per operation executed (retries of it are not counted again).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = CALLS.try_with(|calls| {
            if let (Some(m), Ok(mut list)) = (cfg.load::<Metadata>(), calls.lock()) {
                list.push(format!("{}:{}", m.service(), m.name()));
            }
        });
        Ok(())
    }
}
