#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    smartpit_shared::lambda::events::<smartpit_console::worker::UploadWorker>().await
}
