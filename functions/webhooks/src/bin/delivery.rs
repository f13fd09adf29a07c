use smartpit_shared::config::{aws_from_env, init_logging, Resources};
use smartpit_webhooks::delivery::{DeliveryEvent, WebhookDelivery};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let function = WebhookDelivery::new(
        &aws_from_env().await,
        Resources::from_env()?,
        smartpit_webhooks::Settings::from_env()?,
    );
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<DeliveryEvent>| async move {
            Ok::<_, std::convert::Infallible>(
                function
                    .handle_event(&event.payload, chrono::Utc::now)
                    .await,
            )
        },
    ))
    .await
}
