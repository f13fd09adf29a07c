use aws_lambda_events::event::s3::S3Event;
use smartpit_settlement::SettlementFunction;
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let function = SettlementFunction::new(&aws_from_env().await, Resources::from_env()?);
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<S3Event>| async move {
            // An error makes Lambda retry the event (twice), then its failure destination; so
            // does an event the runtime cannot read as an S3 notification.
            function.handle_event(&event.payload).await.map_err(|e| e.0)
        },
    ))
    .await
}
