// The notifier's future (a stream batch, each record rendered, stored and mailed) nests deeper
// than the compiler's default when laid out through the generic runtime loop.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    smartpit_shared::lambda::events::<smartpit_notify::NotifyFunction>().await
}
