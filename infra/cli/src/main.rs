//! `smartpit`: the local stack (`dev`) and the operator's commands.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use smartpit_cli::provision::bucket_name;
use smartpit_cli::server::{serve, Router};
use smartpit_cli::stack::{repo_root, s3_client, Stack, StackFile};
use smartpit_cli::{cards, emulator, onboard};

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
    /// Print the mail the local stack has sent (the emulator's SES), oldest first.
    Mail {
        /// The local AWS endpoint; by default the one in .local/stack.json.
        #[arg(long)]
        endpoint: Option<String>,
        /// Only mail to this address.
        #[arg(long)]
        to: Option<String>,
    },
    /// Onboard a merchant (or rename it) and print a new API key for it, once.
    MerchantKey {
        /// The merchant's id, as its invoices will carry it.
        #[arg(long)]
        id: String,
        /// The name shown at the store and on sheets.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Put the notices the notifier gave up on (its failure queue) back on its stream, after
    /// the cause is fixed: only their missing steps run again.
    Redeliver {
        /// The local AWS endpoint (as `make dev` prints it). Without it, the AWS account of
        /// the environment, with the deployed stack's queue and tables named below.
        #[arg(long)]
        endpoint: Option<String>,
        /// The deployed NotifyFailuresQueue's URL.
        #[arg(long, env = "FAILURES_QUEUE_URL", required_unless_present = "endpoint")]
        queue_url: Option<String>,
        /// The deployed OutboxTable.
        #[arg(long, env = "OUTBOX_TABLE", required_unless_present = "endpoint")]
        outbox_table: Option<String>,
        /// The deployed MainTable.
        #[arg(long, env = "MAIN_TABLE", required_unless_present = "endpoint")]
        main_table: Option<String>,
        /// At most this many queue messages in one run.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
    /// Print a new API key for a store chain of the catalogue, once.
    ChainKey {
        /// A chain id of shared/src/store_chains.json (lawson, familymart, ...).
        #[arg(long)]
        chain: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Where the operator's command writes: the local stack, or a deployed stack's MainTable.
#[derive(clap::Args)]
struct Target {
    /// The local AWS endpoint (as `make dev` prints it).
    #[arg(long)]
    endpoint: Option<String>,
    /// The deployed MainTable (the stack output MainTableName), with AWS credentials from the
    /// environment.
    #[arg(long, env = "MAIN_TABLE", required_unless_present = "endpoint")]
    main_table: Option<String>,
}

impl Target {
    async fn db(self, repo: &std::path::Path) -> Result<smartpit_shared::Db, String> {
        match (self.endpoint, self.main_table) {
            (Some(endpoint), _) => Stack::new(repo, &endpoint, "http://127.0.0.1:3000")?.db(),
            (None, Some(main_table)) => {
                let sdk = smartpit_shared::config::aws_from_env().await;
                let res = smartpit_shared::config::Resources {
                    main_table,
                    ..Default::default()
                };
                Ok(smartpit_shared::Db::with_profile(
                    &sdk,
                    res,
                    smartpit_shared::timeouts::OPERATOR,
                ))
            }
            (None, None) => Err("give --endpoint or --main-table".into()),
        }
    }
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
            let dir = repo.join(".local");
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let emu =
                emulator::start(&repo, emulator_port, Some(&dir.join("emulator.log"))).await?;
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
            let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("stack.json"), text).map_err(|e| e.to_string())?;
            print_welcome(&file);
            let router = Arc::new(Router::new(stack.template.clone(), stack.handlers()?));
            stack.start_event_sources()?;
            tokio::select! {
                _ = serve(listener, router) => {}
                _ = tokio::signal::ctrl_c() => println!("\nstopped"),
            }
            drop(emu);
            Ok(())
        }
        Command::Mail { endpoint, to } => {
            let endpoint = match endpoint {
                Some(e) => e,
                None => {
                    let path = repo.join(".local/stack.json");
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: {e} (is `make dev` running?)", path.display()))?;
                    let v: serde_json::Value =
                        serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    v["aws_endpoint_url"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                }
            };
            let messages = smartpit_cli::mail::sent(&endpoint).await?;
            let wanted = |m: &&serde_json::Value| match &to {
                None => true,
                Some(addr) => m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == addr.as_str())),
            };
            let shown: Vec<_> = messages.iter().filter(wanted).collect();
            for m in &shown {
                println!("{}", smartpit_cli::mail::render(m));
                println!("{}", "-".repeat(60));
            }
            eprintln!("{} message(s)", shown.len());
            Ok(())
        }
        Command::MerchantKey { id, name, target } => {
            let key = onboard::merchant_key(&target.db(&repo).await?, &id, &name).await?;
            println!("{key}");
            eprintln!("merchant {id}: API key above, shown once (only its hash is stored)");
            Ok(())
        }
        Command::Redeliver {
            endpoint,
            queue_url,
            outbox_table,
            main_table,
            max,
        } => {
            let (db, sdk, url) = match (endpoint, queue_url, outbox_table, main_table) {
                (Some(endpoint), _, _, _) => {
                    let stack = Stack::new(&repo, &endpoint, "http://127.0.0.1:3000")?;
                    let url = smartpit_cli::provision::queue_url(&endpoint, "NotifyFailuresQueue");
                    (stack.db()?, stack.sdk.clone(), url)
                }
                (None, Some(url), Some(outbox_table), Some(main_table)) => {
                    let sdk = smartpit_shared::config::aws_from_env().await;
                    let res = smartpit_shared::config::Resources {
                        outbox_table,
                        main_table,
                        ..Default::default()
                    };
                    let db = smartpit_shared::Db::with_profile(
                        &sdk,
                        res,
                        smartpit_shared::timeouts::OPERATOR,
                    );
                    (db, sdk, url)
                }
                _ => {
                    return Err(
                        "give --endpoint, or --queue-url, --outbox-table and --main-table".into(),
                    )
                }
            };
            let queue = smartpit_cli::redeliver::Queue {
                sqs: &aws_sdk_sqs::Client::new(&sdk),
                url: &url,
                streams: &aws_sdk_dynamodbstreams::Client::new(&sdk),
            };
            let report = smartpit_cli::redeliver::redeliver(&db, &queue, max).await?;
            for id in &report.redelivered {
                println!("redelivered {id}");
            }
            for why in &report.kept {
                eprintln!("kept in the queue: {why}");
            }
            println!(
                "{} record(s) put back on the stream, {} kept",
                report.redelivered.len(),
                report.kept.len()
            );
            Ok(())
        }
        Command::ChainKey { chain, target } => {
            let key = onboard::chain_key(&target.db(&repo).await?, &chain).await?;
            println!("{key}");
            eprintln!("chain {chain}: API key above, shown once (only its hash is stored)");
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
                        smartpit_shared::Db::with_profile(
                            &sdk,
                            res,
                            smartpit_shared::timeouts::OPERATOR,
                        ),
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
         \n  API:           {api}\n  AWS endpoint:  {aws} (moto)\n  Details:       .local/stack.json (emulator log: .local/emulator.log)\n\
         \n  Merchant key:  {merchant}\n  Lawson key:    {lawson}\n  Demo card:     {card}\n\
         \nTry:\n  curl -s {api}/v1/invoices -H 'Authorization: Bearer {merchant}'\n\
         \nSent mail:     make mail   (or {aws}/moto-api/data.json)\n\nCtrl-C stops the API and the emulator.",
        api = f.api_url,
        aws = f.aws_endpoint_url,
        lawson = f.store_chains.get("lawson").map_or("", String::as_str),
    );
}
