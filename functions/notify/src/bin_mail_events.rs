#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    smartpit_shared::lambda::events::<smartpit_notify::mail_events::MailEvents>().await
}
