use smartpit_invoices::expiry::ExpirySweep;
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let function = ExpirySweep::new(&aws_from_env().await, Resources::from_env()?);
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, std::convert::Infallible>(function.handle(event.payload).await)
        },
    ))
    .await
}
