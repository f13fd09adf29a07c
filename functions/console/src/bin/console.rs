#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    smartpit_shared::lambda::http::<smartpit_console::ConsoleFunction<smartpit_console::Bills>>()
        .await
}
