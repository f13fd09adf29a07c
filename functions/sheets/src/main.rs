use smartpit_shared::config::{aws_from_env, init_logging, Resources};
use smartpit_sheets::SheetsFunction;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let function = SheetsFunction::new(&aws_from_env().await, Resources::from_env()?)
        .with_web_number_limit(std::env::var("WEB_NUMBERS_PER_MINUTE").ok().as_deref());
    let function = &function;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(
            smartpit_shared::http::served(req, |r| function.handle(r)).await,
        )
    }))
    .await
}
