#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    smartpit_shared::lambda::events::<smartpit_payouts::run::PayoutRun>().await
}
