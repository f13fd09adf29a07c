use aws_lambda_events::event::sns::SnsEvent;
use smartpit_notify::mail_events::MailEvents;
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let function = MailEvents::new(&aws_from_env().await, Resources::from_env()?);
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SnsEvent>| async move {
            function
                .handle_event(&event.payload, chrono::Utc::now())
                .await
        },
    ))
    .await
}
