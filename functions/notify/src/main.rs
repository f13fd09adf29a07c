use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use smartpit_notify::{NotifyFunction, Settings};
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let function = NotifyFunction::new(
        &aws_from_env().await,
        Resources::from_env()?,
        Settings::from_env(),
    );
    let function = &function;
    // The runtime parses the stream event as AWS sends it (aws_lambda_events' type); one that
    // does not parse is an invocation error, and Lambda retries the batch.
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<StreamEvent>| async move {
            Ok::<_, std::convert::Infallible>(
                function
                    .handle_stream(&event.payload, chrono::Utc::now)
                    .await,
            )
        },
    ))
    .await
}
