use smartpit_sandbox::SandboxFunction;
use smartpit_shared::config::{aws_from_env, init_logging, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let function = SandboxFunction::new(&aws_from_env().await, Resources::from_env()?);
    let function = &function;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(
            smartpit_shared::http::served(req, |r| function.handle(r)).await,
        )
    }))
    .await
}
