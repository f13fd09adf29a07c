//! `smartpit`: the local stack (`dev`) and the operator's commands.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use smartpit_cli::provision::bucket_name;
use smartpit_cli::server::{serve, Router};
use smartpit_cli::stack::{repo_root, s3_client, Stack, StackFile};
use smartpit_cli::{cards, emulator};

#[derive(Parser)]
#[command(
    name = "smartpit",
    about = "Smart Pit: local stack and operator commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulator, create the template's tables and buckets, seed demo data and serve
    /// every route on 127.0.0.1.
    Dev {
        /// Port of the API.
        #[arg(long, env = "SMARTPIT_PORT", default_value_t = 3000)]
        port: u16,
        /// Port of the local AWS endpoint.
        #[arg(long, env = "SMARTPIT_EMULATOR_PORT", default_value_t = 4566)]
        emulator_port: u16,
    },
    /// Issue a batch of generic card numbers and write the printer's CSV locally and to S3.
    IssueCards {
        #[arg(long)]
        count: usize,
        /// Local CSV file to write.
        #[arg(long)]
        out: PathBuf,
        /// The local AWS endpoint (as `make dev` prints it). Without it, the AWS account of
        /// the environment, with --numbers-table and --bucket naming the deployed stack's.
        #[arg(long)]
        endpoint: Option<String>,
        /// The deployed NumbersTable (the stack output NumbersTableName).
        #[arg(long, env = "NUMBERS_TABLE", required_unless_present = "endpoint")]
        numbers_table: Option<String>,
        /// The deployed CardBatchesBucket (the stack output CardBatchesBucketName).
        #[arg(
            long,
            env = "CARD_BATCHES_BUCKET",
            required_unless_present = "endpoint"
        )]
        bucket: Option<String>,
        /// No progress bar (for scripts).
        #[arg(long)]
        quiet: bool,
    },
}

#[tokio::main]
async fn main() {
    smartpit_shared::config::init_logging();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("smartpit: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let repo = repo_root();
    match cli.command {
        Command::Dev {
            port,
            emulator_port,
        } => {
            let emu = emulator::start(&repo, emulator_port).await?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
            let api_url = format!("http://127.0.0.1:{port}");
            let stack = Stack::new(&repo, &emu.endpoint, &api_url)?;
            stack.provision().await?;
            let seeded = stack.seed().await?;
            let file = StackFile {
                api_url: api_url.clone(),
                aws_endpoint_url: emu.endpoint.clone(),
                merchants: &seeded.merchants,
                store_chains: &seeded.store_chains,
                cards: &seeded.cards,
            };
            let dir = repo.join(".local");
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("stack.json"), text).map_err(|e| e.to_string())?;
            print_welcome(&file);
            let router = Arc::new(Router::new(stack.template.clone(), stack.handlers()?));
            stack.start_streams()?;
            tokio::select! {
                _ = serve(listener, router) => {}
                _ = tokio::signal::ctrl_c() => println!("\nstopped"),
            }
            drop(emu);
            Ok(())
        }
        Command::IssueCards {
            count,
            out,
            endpoint,
            numbers_table,
            bucket,
            quiet,
        } => {
            let (db, s3, bucket) = match (endpoint, numbers_table, bucket) {
                (Some(endpoint), _, _) => {
                    let stack = Stack::new(&repo, &endpoint, "http://127.0.0.1:3000")?;
                    (
                        stack.db()?,
                        s3_client(&stack.sdk),
                        bucket_name("CardBatchesBucket"),
                    )
                }
                (None, Some(numbers_table), Some(bucket)) => {
                    let sdk = smartpit_shared::config::aws_from_env().await;
                    let res = smartpit_shared::config::Resources {
                        numbers_table,
                        ..Default::default()
                    };
                    (
                        smartpit_shared::Db::new(&sdk, res),
                        aws_sdk_s3::Client::new(&sdk),
                        bucket,
                    )
                }
                _ => return Err("give --endpoint, or --numbers-table and --bucket".into()),
            };
            let batch = cards::issue_cards(&db, &s3, &bucket, count, &out, !quiet).await?;
            println!(
                "issued {} card numbers (batch {}): {} and s3://{}/{}",
                batch.numbers.len(),
                batch.id,
                out.display(),
                bucket,
                batch.s3_key
            );
            Ok(())
        }
    }
}

fn print_welcome(f: &StackFile<'_>) {
    let merchant = f.merchants.first().map_or("", |m| m.api_key.as_str());
    let card = f.cards.first().map_or("", String::as_str);
    println!(
        "\nsmartpit local stack is up.\n\
         \n  API:           {api}\n  AWS endpoint:  {aws} (moto)\n  Details:       .local/stack.json\n\
         \n  Merchant key:  {merchant}\n  Lawson key:    {lawson}\n  Demo card:     {card}\n\
         \nTry:\n  curl -s {api}/v1/invoices -H 'Authorization: Bearer {merchant}'\n\
         \nSent mail:     {aws}/moto-api/data.json (ses.Message)\n\nCtrl-C stops the API and the emulator.",
        api = f.api_url,
        aws = f.aws_endpoint_url,
        lawson = f.store_chains.get("lawson").map_or("", String::as_str),
    );
}
