use smartpit_shared::config::{aws_from_env, init_logging, Resources};
use smartpit_webhooks::api::WebhookApi;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let function = WebhookApi::new(
        &aws_from_env().await,
        Resources::from_env()?,
        smartpit_webhooks::Settings::from_env()?,
    );
    let function = &function;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(
            smartpit_shared::http::served(req, |r| function.handle(r)).await,
        )
    }))
    .await
}
