//! What every function's `main` does, written once: JSON logs, the AWS configuration Lambda's
//! environment gives, the function built from its environment by its own crate
//! ([`HttpFunction::configured`], [`EventFunction::configured`]), and the runtime's loop on
//! the Runtime API. Each `main.rs` is one call; the local stack runs those binaries, and builds
//! a function in-process (for a test's clock) through the same `configured`.

use std::convert::Infallible;
use std::future::Future;

use aws_config::SdkConfig;
use lambda_http::lambda_runtime;
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{aws_from_env, init_logging, Resources, Vars};

/// A function behind API Gateway's HTTP API.
pub trait HttpFunction: Sized + Sync {
    /// The function as its environment configures it (the template's variables).
    fn configured(sdk: &SdkConfig, res: Resources, vars: &Vars) -> Result<Self, String>;

    /// One request, answered.
    fn serve(&self, req: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// A function fed events (a stream, a queue, a bucket, a schedule), read as AWS sends them.
pub trait EventFunction: Sized + Sync {
    /// The event's type (`aws_lambda_events`): one that does not parse is an invocation error.
    type Event: DeserializeOwned + Send;
    type Answer: Serialize + Send;

    fn configured(sdk: &SdkConfig, res: Resources, vars: &Vars) -> Result<Self, String>;

    /// One event; `Err` fails the invocation (Lambda retries it as the source says).
    fn on_event(
        &self,
        event: Self::Event,
    ) -> impl Future<Output = Result<Self::Answer, String>> + Send;
}

async fn configured<F>(
    make: impl FnOnce(&SdkConfig, Resources, &Vars) -> Result<F, String>,
) -> Result<F, String> {
    init_logging();
    let vars: Vars = std::env::vars().collect();
    let sdk = aws_from_env().await;
    make(&sdk, Resources::from_vars(&vars)?, &vars)
}

/// The `main` of an HTTP function.
pub async fn http<F: HttpFunction>() -> Result<(), lambda_http::Error> {
    let function = configured(F::configured).await?;
    let function = &function;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Infallible>(crate::http::served(req, |r| function.serve(r)).await)
    }))
    .await
}

/// The `main` of a function fed events.
pub async fn events<F: EventFunction>() -> Result<(), lambda_http::Error> {
    let function = configured(F::configured).await?;
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<F::Event>| async move {
            function.on_event(event.payload).await
        },
    ))
    .await
}

/// An HTTP function, configured from `vars` on a test stack's resources with no AWS to reach,
/// answers API Gateway's event `json` (its fixture): the status and the body as text. For unit
/// tests of what a function decides before any call.
pub async fn answer_offline<F: HttpFunction>(json: &str, vars: &Vars) -> (u16, String) {
    let res = Resources {
        key_environment: "test".into(),
        ..Resources::default()
    };
    let function = match F::configured(&offline_sdk(), res, vars) {
        Ok(f) => f,
        Err(e) => panic!("not configured: {e}"),
    };
    let resp = function.serve(api_gateway_event(json)).await;
    let body = String::from_utf8_lossy(resp.body().as_ref()).into_owned();
    (resp.status().as_u16(), body)
}

/// An AWS configuration on which no call can succeed (no credentials, a closed local port):
/// for unit tests that hand a function an event it must answer without AWS.
pub fn offline_sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-northeast-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build()
}

/// API Gateway's event (payload format 2.0) as `lambda_http` reads it in the function's
/// process; panics on a fixture that is not one (unit tests only).
pub fn api_gateway_event(json: &str) -> Request {
    match lambda_http::request::from_str(json) {
        Ok(req) => req,
        Err(e) => panic!("not an API Gateway event: {e}"),
    }
}
