//! Answers every event with `{"hello": "world"}`: what a function costs before it does anything.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |_event: lambda_runtime::LambdaEvent<serde_json::Value>| async {
            Ok::<_, std::convert::Infallible>(serde_json::json!({"hello": "world"}))
        },
    ))
    .await
}
