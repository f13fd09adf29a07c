use smartpit_invoices::InvoicesFunction;
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let limit =
        smartpit_shared::guessing::limit_from(std::env::var("MISSES_PER_MINUTE").ok().as_deref());
    let function =
        InvoicesFunction::new(&aws_from_env().await, Resources::from_env()?).with_miss_limit(limit);
    let function = &function;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(
            smartpit_shared::http::served(req, |r| function.handle(r)).await,
        )
    }))
    .await
}
