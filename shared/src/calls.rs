//! Counting the AWS calls a request makes. Every client the service builds carries the
//! [`CountCalls`] interceptor; it records `service:Operation` for each call made inside
//! [`counted`], and does nothing elsewhere (Lambda never counts). The local stack counts every
//! request it serves and answers the list in `x-local-aws-calls`, so the tests can hold each
//! route to the round trips docs/ARCHITECTURE.md documents.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

tokio::task_local! {
    static CALLS: Arc<Mutex<Vec<String>>>;
    static GUARD: Guard;
}

/// Decides whether a call may be sent: the service, the operation and the serialised request
/// body in; `Err` with the reason to refuse it. The local stack sets one per function, made
/// from the function's policies in the template, so a call its role would not allow fails as
/// it would on AWS.
pub type Guard = Arc<dyn Fn(&str, &str, &[u8]) -> Result<(), String> + Send + Sync>;

/// Runs `f` with every AWS call checked by `guard` before it is sent.
pub async fn guarded<F: Future>(guard: Guard, f: F) -> F::Output {
    GUARD.scope(guard, f).await
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

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let verdict = GUARD.try_with(|guard| {
            let Some(m) = cfg.load::<Metadata>() else {
                return Ok(());
            };
            let body = context.request().body().bytes().unwrap_or_default();
            guard(m.service(), m.name(), body)
        });
        match verdict {
            Ok(Err(why)) => Err(why.into()),
            _ => Ok(()),
        }
    }
}
