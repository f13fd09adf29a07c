//! `smartpit`: the operator's commands, against a deployed stack or the local one.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use smartpit_cli::{cards, onboard};
use smartpit_local::provision::bucket_name;
use smartpit_local::stack::{repo_root, s3_client, Stack};

#[derive(Parser)]
#[command(
    name = "smartpit",
    version,
    about = "Smart Pit: operator commands",
    after_help = "Against a deployed stack, name its resources (stack outputs) and give AWS \
                  credentials through the environment; against the local stack (`make dev`), \
                  give --endpoint from inside the checkout."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Issue a batch of generic card numbers and write the printer's CSV locally and to S3.
    IssueCards {
        /// How many numbers to issue (1 or more; 100,000 takes minutes on the local emulator).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// Local CSV file to write.
        #[arg(long)]
        out: PathBuf,
        /// The local AWS endpoint (as `make dev` prints it). Without it, the AWS account of
        /// the environment, with --numbers-table and --bucket naming the deployed stack's.
        #[arg(long)]
        endpoint: Option<String>,
        /// The deployed NumbersTable (the stack output NumbersTableName).
        #[arg(long, env = "NUMBERS_TABLE")]
        numbers_table: Option<String>,
        /// The deployed CardBatchesBucket (the stack output CardBatchesBucketName).
        #[arg(long, env = "CARD_BATCHES_BUCKET")]
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
    /// Onboard a merchant and print a new API key for it, once (`--add-key` for another key of
    /// an existing merchant).
    MerchantKey {
        /// The merchant's id, as its invoices will carry it.
        #[arg(long)]
        id: String,
        /// The name shown at the store and on sheets.
        #[arg(long)]
        name: String,
        /// The merchant exists: issue another key for it (the old one keeps working until its
        /// `KEY#<hash>` item is deleted).
        #[arg(long)]
        add_key: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Set how customers reach a merchant (shown on sheets, the payment page, its closed pages
    /// and every customer mail) and print it. Each field given replaces the stored one;
    /// `--clear` removes them all first. The phone number is read by libphonenumber (a Japanese
    /// number, or `+81…`), the page must be https.
    MerchantContact {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// When someone answers, as the customer reads it (at most 40 characters).
        #[arg(long)]
        hours: Option<String>,
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Set how many days before a bill's due date its customer is reminded by mail
    /// (「お支払い期限のお知らせ」, once per bill, 09:00-20:00 JST): 1 to 7, 0 turns it off
    /// (the default).
    MerchantReminders {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=7))]
        days: u8,
        #[command(flatten)]
        target: Target,
    },
    /// Set a merchant's fee (per paid bill: fixed yen plus a rate of what the store collected),
    /// for one chain or as its default, and print the schedule. It shows in the merchant's
    /// daily report (`GET /v1/reports/payments`).
    MerchantFees {
        /// The merchant's id.
        #[arg(long)]
        id: String,
        /// Only for this chain (otherwise the default for every chain without its own).
        #[arg(long)]
        chain: Option<String>,
        /// Fixed yen per paid bill (0 to 1,000).
        #[arg(long, default_value_t = 0)]
        fixed_yen: i64,
        /// Rate in basis points of what the store collected (100 = 1%; at most 1,000).
        #[arg(long, default_value_t = 0)]
        rate_bp: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Put every onboarded merchant in the directory the payout run goes through (once, after
    /// upgrading a stack whose merchants were onboarded before payouts existed).
    MerchantDirectory {
        #[command(flatten)]
        target: Target,
    },
    /// Close the payout periods that end on a day (JST) for every merchant whose cycle closes
    /// then, as the daily scheduled run does: one payout each, with its statement.
    Payouts {
        #[command(subcommand)]
        action: PayoutsCommand,
    },
    /// The bank transfer file (Zengin 総合振込) of a pay date: `file` it, upload it to the bank,
    /// then `confirm` what the bank paid and what it returned.
    Transfers {
        #[command(subcommand)]
        action: TransfersCommand,
    },
    /// Set the bank account a merchant is paid to. Bank and branch are checked against the
    /// Zengin list, the holder's name is made transfer characters (or refused, saying why); the
    /// details are sealed with a KMS data key before they are stored and only a masked view
    /// (bank, branch, type, ****567) is ever printed.
    MerchantBank {
        /// The merchant's id.
        #[arg(long)]
        id: String,
        /// The bank's 4-digit Zengin code (0005).
        #[arg(long)]
        bank: String,
        /// The branch's 3-digit code.
        #[arg(long)]
        branch: String,
        /// ordinary, current or savings.
        #[arg(long)]
        account_type: String,
        /// 7 digits.
        #[arg(long)]
        account_number: String,
        /// The holder's name in kana (full- or half-width; letters, digits and ( ) - . / , too).
        #[arg(long)]
        holder: String,
        /// The deployed BankDataKey (stack output BankDataKeyArn); the local stack's by default.
        #[arg(long, env = "BANK_DATA_KEY")]
        kms_key: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Set when a merchant is paid: its settlement cycle (5day: the 5th, 10th, ... and the last
    /// day; 10day; half_month; month_end) and the bank business days from a close to the
    /// transfer. Prints the setting with the next close and its pay date.
    MerchantPayout {
        /// The merchant's id.
        #[arg(long)]
        id: String,
        /// 5day, 10day, half_month or month_end.
        #[arg(long, default_value = "month_end")]
        cycle: String,
        /// Bank business days after a close (weekends, public holidays and 12/31-1/3 skipped).
        #[arg(long, default_value_t = smartpit_shared::payout_cycle::DEFAULT_PAY_AFTER_BUSINESS_DAYS)]
        pay_after_business_days: u32,
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
        #[arg(long, env = "FAILURES_QUEUE_URL")]
        queue_url: Option<String>,
        /// The deployed OutboxTable.
        #[arg(long, env = "OUTBOX_TABLE")]
        outbox_table: Option<String>,
        /// The deployed MainTable.
        #[arg(long, env = "MAIN_TABLE")]
        main_table: Option<String>,
        /// At most this many queue messages in one run.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
    /// Long CSV uploads of the console: put the background runs the queue set aside (five
    /// failed runs each) back on the upload queue, once the cause is fixed.
    Uploads {
        #[command(subcommand)]
        action: UploadsAction,
    },
    /// People who sign in to a merchant's console (by mail: a one-time link).
    MerchantUser {
        #[command(subcommand)]
        action: MerchantUserAction,
    },
    /// Settlement files (確報): show a file's reconciliation, reconcile it again, or deliver a
    /// file as a chain does.
    Settlement {
        #[command(subcommand)]
        action: SettlementAction,
    },
    /// API keys: list an owner's keys, revoke one by its prefix, rotate (a new key; the old
    /// ones stop after a grace period).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The money path once against any stack (register, lookup, pay, paid, void, cancel: a
    /// one-yen bill that ends cancelled); exits non-zero at the first unexpected answer.
    Smoke {
        /// The API's base URL (the local stack's by default, from .local/stack.json).
        #[arg(long)]
        api_url: Option<String>,
        /// A merchant key of that stack.
        #[arg(long, env = "SMOKE_MERCHANT_KEY")]
        merchant_key: Option<String>,
        /// A kiosk chain's key of that stack.
        #[arg(long, env = "SMOKE_CHAIN_KEY")]
        chain_key: Option<String>,
        /// An issued card number to bill.
        #[arg(long)]
        card: Option<String>,
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

#[derive(Subcommand)]
enum SettlementAction {
    /// Print the summary of a file's latest reconciliation (JSON).
    Show {
        #[command(flatten)]
        file: SettlementFile,
        #[command(flatten)]
        target: Target,
    },
    /// Reconcile the stored file again (after a failure; settling is never repeated) and print
    /// its summary.
    Run {
        #[command(flatten)]
        file: SettlementFile,
        #[command(flatten)]
        target: Target,
        /// The deployed EventsTable.
        #[arg(long, env = "EVENTS_TABLE")]
        events_table: Option<String>,
        /// The deployed SettlementsBucket (stack output SettlementsBucketName).
        #[arg(long, env = "SETTLEMENTS_BUCKET")]
        bucket: Option<String>,
    },
    /// Put a settlement file where the chain puts it (local stack: the emulator's bucket, which
    /// runs the reconciliation as S3 runs it in AWS).
    Deliver {
        #[command(flatten)]
        file: SettlementFile,
        /// The CSV file to deliver.
        #[arg(long)]
        csv: PathBuf,
        /// The local AWS endpoint (as `make dev` prints it).
        #[arg(long)]
        endpoint: String,
    },
}

#[derive(Subcommand)]
enum UploadsAction {
    /// Move the upload failures queue's messages back to the upload queue: each run goes on
    /// from where its upload stands.
    Redrive {
        /// The local AWS endpoint (as `make dev` prints it). Without it, the AWS account of
        /// the environment, with the deployed stack's queues named below.
        #[arg(long)]
        endpoint: Option<String>,
        /// The deployed UploadFailuresQueue's URL.
        #[arg(long, env = "UPLOAD_FAILURES_QUEUE_URL")]
        failures_queue_url: Option<String>,
        /// The deployed UploadQueue's URL.
        #[arg(long, env = "UPLOAD_QUEUE_URL")]
        upload_queue_url: Option<String>,
        /// At most this many messages in one run.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

#[derive(Subcommand)]
enum MerchantUserAction {
    /// Add a console user (or change the role of one): `admin` may also touch keys, webhooks
    /// and payout settings; `staff` runs the bills.
    Add {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        /// The address the user signs in with.
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "staff"])]
        role: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Every key of a merchant or a chain: prefix, state, creation.
    List {
        #[command(flatten)]
        owner: KeyOwnerArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke the key shown with this prefix (`sk_test_ab12cd34`): it stops within a minute.
    Revoke {
        prefix: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print a new key (once); the owner's other keys stop after the grace period.
    Rotate {
        #[command(flatten)]
        owner: KeyOwnerArgs,
        /// Hours the old keys keep working (0: they stop now).
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(clap::Args)]
struct KeyOwnerArgs {
    /// A merchant's id.
    #[arg(long, conflicts_with = "chain", required_unless_present = "chain")]
    merchant: Option<String>,
    /// A chain's id.
    #[arg(long)]
    chain: Option<String>,
}

impl KeyOwnerArgs {
    fn owner(self) -> smartpit_shared::db::keys::KeyOwner {
        use smartpit_shared::db::keys::KeyOwner;
        match (self.merchant, self.chain) {
            (Some(m), _) => KeyOwner::Merchant(m),
            (None, c) => KeyOwner::Chain(c.unwrap_or_default()),
        }
    }
}

#[derive(clap::Args)]
struct SettlementFile {
    /// The chain's id (lawson, familymart, ...).
    #[arg(long)]
    chain: String,
    /// The JST business day, YYYY-MM-DD or YYYYMMDD.
    #[arg(long)]
    date: String,
}

impl SettlementFile {
    fn key(&self) -> Result<smartpit_shared::settlement::FileKey, String> {
        let day = self.date.replace('-', "");
        smartpit_shared::settlement::FileKey::parse(&format!(
            "{}{}/{day}.csv",
            smartpit_shared::settlement::PREFIX,
            self.chain
        ))
        .ok_or_else(|| {
            format!(
                "no settlement file is named for chain {:?} and date {:?}",
                self.chain, self.date
            )
        })
    }
}

/// Where the operator's command writes: the local stack, or a deployed stack's MainTable.
#[derive(Subcommand)]
enum PayoutsCommand {
    /// Make the payouts of the periods closing on --date (after that day has ended in Japan).
    Run {
        /// The close day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[command(flatten)]
        target: PayoutTarget,
    },
}

#[derive(Subcommand)]
enum TransfersCommand {
    /// Write the transfer file of the payouts due on --date (held ones whose merchant now has
    /// an account too) to --out, and keep it in S3. Made again until confirmed.
    File {
        /// The pay date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long)]
        out: PathBuf,
        /// 依頼人コード: the 10 digits the operator's bank gave.
        #[arg(long, env = "TRANSFER_REQUESTER_CODE")]
        requester_code: String,
        /// 依頼人名, in kana, as the bank registered it.
        #[arg(long, env = "TRANSFER_REQUESTER_NAME")]
        requester_name: String,
        /// The operator's paying account: bank code (4 digits).
        #[arg(long, env = "TRANSFER_FROM_BANK")]
        from_bank: String,
        /// Branch code (3 digits).
        #[arg(long, env = "TRANSFER_FROM_BRANCH")]
        from_branch: String,
        /// ordinary, current or savings.
        #[arg(long, env = "TRANSFER_FROM_ACCOUNT_TYPE", default_value = "current")]
        from_account_type: String,
        /// Account number (7 digits).
        #[arg(long, env = "TRANSFER_FROM_ACCOUNT_NUMBER")]
        from_account_number: String,
        #[command(flatten)]
        target: PayoutTarget,
    },
    /// Mark the payouts of --date's file paid, except those named with --failed (returned by
    /// the bank: failed, their amounts paid again with the merchant's next payout).
    Confirm {
        #[arg(long)]
        date: String,
        /// A payout the bank could not pay (repeat for several).
        #[arg(long)]
        failed: Vec<String>,
        /// What the bank said, for the merchant (`failure_reason`).
        #[arg(long, default_value = "the bank returned the transfer")]
        reason: String,
        #[command(flatten)]
        target: PayoutTarget,
    },
}

/// The stack the payout commands work on.
#[derive(clap::Args)]
struct PayoutTarget {
    /// The local AWS endpoint (as `make dev` prints it).
    #[arg(long)]
    endpoint: Option<String>,
    /// The deployed MainTable (stack output MainTableName).
    #[arg(long, env = "MAIN_TABLE")]
    main_table: Option<String>,
    /// The deployed EventsTable (stack output EventsTableName).
    #[arg(long, env = "EVENTS_TABLE")]
    events_table: Option<String>,
    /// The deployed StatementsBucket (stack output StatementsBucketName).
    #[arg(long, env = "STATEMENTS_BUCKET")]
    statements_bucket: Option<String>,
    /// The bank-data key (stack output BankDataKeyArn): opens merchants' accounts for the
    /// transfer file and encrypts its copy in S3.
    #[arg(long, env = "BANK_DATA_KEY")]
    kms_key: Option<String>,
}

impl PayoutTarget {
    async fn open(self) -> Result<smartpit_cli::payouts::PayoutStack, String> {
        if let Some(endpoint) = &self.endpoint {
            let stack = Stack::new(&repo_root()?, endpoint, "http://127.0.0.1:3000")?;
            let env = stack.env_of("PayoutRunFunction")?;
            return Ok(smartpit_cli::payouts::PayoutStack {
                db: stack.db()?,
                bucket: env.get("STATEMENTS_BUCKET").cloned().unwrap_or_default(),
                kms_key: self
                    .kms_key
                    .unwrap_or_else(|| smartpit_local::provision::key_alias("BankDataKey")),
                run: stack.payout_run(&stack.sdk)?,
                sdk: stack.sdk.clone(),
            });
        }
        let missing = "say which stack: --endpoint for the local one, or --main-table, \
                       --events-table, --statements-bucket and --kms-key (stack outputs) with AWS \
                       credentials in the environment";
        let (Some(main_table), Some(events_table), Some(bucket), Some(kms_key)) = (
            self.main_table,
            self.events_table,
            self.statements_bucket,
            self.kms_key,
        ) else {
            return Err(missing.into());
        };
        let sdk = smartpit_shared::config::aws_from_env().await;
        let res = smartpit_shared::config::Resources {
            main_table,
            events_table,
            ..Default::default()
        };
        Ok(smartpit_cli::payouts::PayoutStack {
            db: smartpit_shared::Db::with_profile(
                &sdk,
                res.clone(),
                smartpit_shared::timeouts::OPERATOR,
            ),
            run: smartpit_payouts::run::PayoutRun::new(&sdk, res, bucket.clone()),
            bucket,
            kms_key,
            sdk,
        })
    }
}

#[derive(clap::Args)]
struct Target {
    /// The local AWS endpoint (as `make dev` prints it).
    #[arg(long)]
    endpoint: Option<String>,
    /// The deployed MainTable (the stack output MainTableName), with AWS credentials from the
    /// environment.
    #[arg(long, env = "MAIN_TABLE")]
    main_table: Option<String>,
    /// The deployed stack's key environment (its KeyEnvironment parameter: test or live); the
    /// local stack's is test.
    #[arg(long, env = "KEY_ENVIRONMENT")]
    key_environment: Option<String>,
}

impl Target {
    async fn db(self) -> Result<smartpit_shared::Db, String> {
        match (self.endpoint, self.main_table) {
            (Some(endpoint), _) => {
                Stack::new(&repo_root()?, &endpoint, "http://127.0.0.1:3000")?.db()
            }
            (None, Some(main_table)) => {
                let sdk = smartpit_shared::config::aws_from_env().await;
                let res = smartpit_shared::config::Resources {
                    main_table,
                    key_environment: self.key_environment.unwrap_or_default(),
                    ..Default::default()
                };
                Ok(smartpit_shared::Db::with_profile(
                    &sdk,
                    res,
                    smartpit_shared::timeouts::OPERATOR,
                ))
            }
            (None, None) => Err(
                "say which stack: --endpoint http://127.0.0.1:4566 for the local one (`make dev` \
                 prints it), or --main-table <MainTableName> with AWS credentials in the \
                 environment for a deployed one"
                    .into(),
            ),
        }
    }
}

#[tokio::main]
async fn main() {
    // Logs go to stderr (never into stdout, which may be a key or a CSV path), readable in a
    // terminal, JSON otherwise.
    smartpit_local::init_cli_logging();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("smartpit: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Mail { endpoint, to } => {
            let endpoint = match endpoint {
                Some(e) => e,
                None => {
                    let path = repo_root()?.join(".local/stack.json");
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
        Command::MerchantKey {
            id,
            name,
            add_key,
            target,
        } => {
            let key = onboard::merchant_key(&target.db().await?, &id, &name, add_key).await?;
            println!("{key}");
            eprintln!("merchant {id}: API key above, shown once (only its hash is stored)");
            Ok(())
        }
        Command::MerchantReminders {
            merchant,
            days,
            target,
        } => {
            let db = target.db().await?;
            if !db
                .set_reminder_days(&merchant, days)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no merchant {merchant}"));
            }
            match days {
                0 => println!("merchant {merchant}: no reminders"),
                d => println!(
                    "merchant {merchant}: reminded {d} days before the due date, 09:00-20:00 JST"
                ),
            }
            Ok(())
        }
        Command::MerchantContact {
            merchant,
            phone,
            url,
            email,
            hours,
            clear,
            target,
        } => {
            let db = target.db().await?;
            let mut contact = match clear {
                true => smartpit_shared::merchant_contact::MerchantContact::default(),
                false => db
                    .merchant_contact(&merchant)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            let given = smartpit_shared::merchant_contact::check(
                phone.as_deref(),
                url.as_deref(),
                email.as_deref(),
                hours.as_deref(),
            )
            .map_err(|(field, why)| format!("--{field} {why}"))?;
            contact.phone = given.phone.or(contact.phone);
            contact.url = given.url.or(contact.url);
            contact.email = given.email.or(contact.email);
            contact.hours = given.hours.or(contact.hours);
            if !db
                .set_merchant_contact(&merchant, &contact)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no merchant {merchant}"));
            }
            match contact.is_empty() {
                true => println!("merchant {merchant}: no contact details (its name is shown)"),
                false => println!("merchant {merchant}: {}", contact.one_line()),
            }
            Ok(())
        }
        Command::Redeliver {
            endpoint,
            queue_url,
            outbox_table,
            main_table,
            max,
        } => {
            let (db, sdk, url) =
                match (endpoint, queue_url, outbox_table, main_table) {
                    (Some(endpoint), _, _, _) => {
                        let stack = Stack::new(&repo_root()?, &endpoint, "http://127.0.0.1:3000")?;
                        let url =
                            smartpit_local::provision::queue_url(&endpoint, "NotifyFailuresQueue");
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
                    _ => return Err(
                        "say which stack: --endpoint http://127.0.0.1:4566 for the local one, or \
                         --queue-url, --outbox-table and --main-table (stack outputs) with AWS \
                         credentials in the environment for a deployed one"
                            .into(),
                    ),
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
        Command::Uploads {
            action:
                UploadsAction::Redrive {
                    endpoint,
                    failures_queue_url,
                    upload_queue_url,
                    max,
                },
        } => {
            let (sdk, failures, uploads) =
                match (endpoint, failures_queue_url, upload_queue_url) {
                    (Some(endpoint), _, _) => (
                        smartpit_local::stack::local_sdk_config(&endpoint),
                        smartpit_local::provision::queue_url(&endpoint, "UploadFailuresQueue"),
                        smartpit_local::provision::queue_url(&endpoint, "UploadQueue"),
                    ),
                    (None, Some(failures), Some(uploads)) => (
                        smartpit_shared::config::aws_from_env().await,
                        failures,
                        uploads,
                    ),
                    _ => return Err(
                        "say which stack: --endpoint http://127.0.0.1:4566 for the local one, or \
                         --failures-queue-url and --upload-queue-url (stack outputs) with AWS \
                         credentials in the environment for a deployed one"
                            .into(),
                    ),
                };
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let report = smartpit_cli::uploads::redrive(&sqs, &failures, &uploads, max).await?;
            for why in &report.kept {
                eprintln!("kept in the failures queue: {why}");
            }
            println!(
                "{} upload run(s) put back on the upload queue, {} kept",
                report.moved.len(),
                report.kept.len()
            );
            Ok(())
        }
        Command::Settlement { action } => settlement(action).await,
        Command::Keys { action } => keys(action).await,
        Command::MerchantUser {
            action:
                MerchantUserAction::Add {
                    merchant,
                    email,
                    role,
                    target,
                },
        } => {
            let db = target.db().await?;
            let role =
                smartpit_shared::console::Role::parse(&role).ok_or("role: admin or staff")?;
            let address = smartpit_shared::console::normalized_address(&email);
            smartpit_shared::mail_address::check(&address).map_err(|e| format!("email: {e}"))?;
            if db
                .get_merchant(&merchant)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!("no merchant {merchant}"));
            }
            if !db
                .put_console_user(&merchant, &address, role, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("{address} signs in for another merchant"));
            }
            println!(
                "merchant {merchant}: {address} may sign in to the console as {}",
                role.as_str()
            );
            Ok(())
        }
        Command::Smoke {
            api_url,
            merchant_key,
            chain_key,
            card,
        } => {
            // Anything not given comes from the running local stack.
            let local = || -> Result<serde_json::Value, String> {
                let path = repo_root()?.join(".local/stack.json");
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!("{}: {e} (is `make dev` running? otherwise give --api-url, keys and --card)", path.display())
                })?;
                serde_json::from_str(&text).map_err(|e| e.to_string())
            };
            let pick = |given: Option<String>, pointer: &str| -> Result<String, String> {
                match given {
                    Some(v) => Ok(v),
                    None => local()?
                        .pointer(pointer)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| format!("no {pointer} in .local/stack.json")),
                }
            };
            let api_url = pick(api_url, "/api_url")?;
            let merchant_key = pick(merchant_key, "/merchants/0/api_key")?;
            let chain_key = pick(chain_key, "/store_chains/lawson")?;
            let card = pick(card, "/cards/0")?;
            let smoke = smartpit_cli::smoke::Smoke {
                api_url: &api_url,
                merchant_key: &merchant_key,
                chain_key: &chain_key,
                card: &card,
            };
            let steps = smoke.run().await?;
            for s in &steps {
                println!("{:<10} {} {:>5} ms", s.name, s.status, s.millis);
            }
            println!("smoke test passed against {api_url}");
            Ok(())
        }
        Command::MerchantDirectory { target } => {
            let db = target.db().await?;
            let added = db
                .backfill_merchant_directory()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{added} merchant(s) added to the directory; {} in it",
                db.merchant_ids().await.map_err(|e| e.to_string())?.len()
            );
            Ok(())
        }
        Command::Payouts {
            action: PayoutsCommand::Run { date, target },
        } => {
            let date = smartpit_cli::payouts::parse_date(&date)?;
            let stack = target.open().await?;
            let report = smartpit_cli::payouts::run(&stack, date).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::Transfers {
            action:
                TransfersCommand::File {
                    date,
                    out,
                    requester_code,
                    requester_name,
                    from_bank,
                    from_branch,
                    from_account_type,
                    from_account_number,
                    target,
                },
        } => {
            let date = smartpit_cli::payouts::parse_date(&date)?;
            let requester = smartpit_cli::payouts::RequesterArgs {
                code: requester_code,
                name: requester_name,
                bank: from_bank,
                branch: from_branch,
                account_type: from_account_type,
                account_number: from_account_number,
            }
            .checked()?;
            let stack = target.open().await?;
            let (bytes, lines, rec) = smartpit_cli::payouts::file(&stack, date, &requester).await?;
            std::fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            for l in &lines {
                println!(
                    "{}  {}  {:>12}  {}",
                    l.payout_id, l.merchant_id, l.amount, l.account
                );
            }
            println!(
                "{} transfer(s), {} yen, pay date {date}: {} (kept in S3 at {})",
                rec.count,
                rec.total,
                out.display(),
                rec.s3_key
            );
            Ok(())
        }
        Command::Transfers {
            action:
                TransfersCommand::Confirm {
                    date,
                    failed,
                    reason,
                    target,
                },
        } => {
            let date = smartpit_cli::payouts::parse_date(&date)?;
            let stack = target.open().await?;
            let done = smartpit_cli::payouts::confirm(&stack, date, &failed, &reason).await?;
            println!(
                "{date}: {} paid, {} failed{}",
                done.paid.len(),
                done.failed.len(),
                if done.failed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", done.failed.join(", "))
                }
            );
            Ok(())
        }
        Command::MerchantBank {
            id,
            bank,
            branch,
            account_type,
            account_number,
            holder,
            kms_key,
            target,
        } => {
            use smartpit_shared::zengin;
            // Everything checked before anything is touched.
            let bank = zengin::bank_code(&bank)?;
            let branch = zengin::branch_code(bank.code, &branch)?;
            let account_type = zengin::AccountType::parse(&account_type)?;
            let number = zengin::account_number(&account_number)?;
            let holder = zengin::holder_name(&holder).map_err(|e| format!("--holder: {e}"))?;
            let (sdk, key) = match &target.endpoint {
                Some(endpoint) => {
                    let stack = Stack::new(&repo_root()?, endpoint, "http://127.0.0.1:3000")?;
                    let key = kms_key.unwrap_or_else(|| {
                        smartpit_local::provision::key_alias("BankDataKey")
                    });
                    (stack.sdk.clone(), key)
                }
                None => (
                    smartpit_shared::config::aws_from_env().await,
                    kms_key.ok_or(
                        "say which key: --kms-key <BankDataKeyArn> (a stack output) or BANK_DATA_KEY",
                    )?,
                ),
            };
            let db = target.db().await?;
            require_merchant(&db, &id).await?;
            let details = serde_json::json!({
                "bank_code": bank.code, "branch_code": branch.code,
                "account_type": account_type.as_str(), "account_number": number,
                "holder": holder,
            })
            .to_string();
            let kms = aws_sdk_kms::Client::new(&sdk);
            let context = [("merchant_id", id.as_str()), ("purpose", "payout_account")];
            let sealed =
                smartpit_shared::sealed::seal(&kms, &key, &context, details.as_bytes()).await?;
            let masked = smartpit_shared::db::bank_accounts::MaskedAccount {
                bank_code: bank.code.into(),
                bank_name: bank.name.into(),
                branch_code: branch.code.into(),
                branch_name: branch.name.into(),
                account_type: account_type.as_str().into(),
                number: zengin::masked(&number),
            };
            db.put_bank_account(
                &id,
                &smartpit_shared::db::bank_accounts::StoredAccount {
                    masked: masked.clone(),
                    encrypted_key: sealed.encrypted_key,
                    nonce: sealed.nonce,
                    ciphertext: sealed.ciphertext,
                },
                chrono::Utc::now(),
            )
            .await
            .map_err(|p| p.to_string())?;
            println!(
                "merchant {id} is paid to {} ({}) {} ({}) {} {} (the details are sealed; the holder's name was accepted)",
                masked.bank_name,
                masked.bank_code,
                masked.branch_name,
                masked.branch_code,
                account_type.japanese(),
                masked.number
            );
            Ok(())
        }
        Command::MerchantPayout {
            id,
            cycle,
            pay_after_business_days,
            target,
        } => {
            use smartpit_shared::payout_cycle::{Cycle, PayoutSetting};
            let setting = PayoutSetting::new(cycle.parse::<Cycle>()?, pay_after_business_days)?;
            let db = target.db().await?;
            require_merchant(&db, &id).await?;
            let now = chrono::Utc::now();
            let (period, pay) = setting.next(smartpit_shared::clock::jst_date(now))?;
            db.put_payout_setting(&id, &setting, now)
                .await
                .map_err(|p| p.to_string())?;
            let shown = serde_json::json!({
                "merchant_id": id,
                "cycle": setting.cycle.as_str(),
                "pay_after_business_days": setting.pay_after_business_days,
                "next_period": {"start": period.start.to_string(), "end": period.end.to_string()},
                "next_pay_date": pay.to_string(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::MerchantFees {
            id,
            chain,
            fixed_yen,
            rate_bp,
            target,
        } => {
            let db = target.db().await?;
            require_merchant(&db, &id).await?;
            let fee = smartpit_shared::fees::Fee { fixed_yen, rate_bp };
            fee.check()?;
            let mut schedule = db.fee_schedule(&id).await.map_err(|p| p.to_string())?;
            match chain {
                Some(c) => {
                    schedule.chains.insert(c, fee);
                }
                None => schedule.default = fee,
            }
            db.put_fee_schedule(&id, &schedule, chrono::Utc::now())
                .await
                .map_err(|p| p.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&schedule).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::ChainKey { chain, target } => {
            let key = onboard::chain_key(&target.db().await?, &chain).await?;
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
                    let stack = Stack::new(&repo_root()?, &endpoint, "http://127.0.0.1:3000")?;
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
                _ => {
                    return Err(
                        "say which stack: --endpoint http://127.0.0.1:4566 for the local one \
                         (`make dev` prints it), or --numbers-table <NumbersTableName> and \
                         --bucket <CardBatchesBucketName> with AWS credentials in the \
                         environment for a deployed one"
                            .into(),
                    )
                }
            };
            let count = usize::try_from(count).map_err(|e| e.to_string())?;
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

async fn keys(action: KeysAction) -> Result<(), String> {
    let now = chrono::Utc::now();
    match action {
        KeysAction::List { owner, target } => {
            let db = target.db().await?;
            let keys = db
                .list_keys(&owner.owner())
                .await
                .map_err(|p| p.to_string())?;
            for k in &keys {
                println!("{}", k.describe(now));
            }
            eprintln!("{} key(s)", keys.len());
            Ok(())
        }
        KeysAction::Revoke { prefix, target } => {
            let db = target.db().await?;
            match db
                .revoke_key(&prefix, now)
                .await
                .map_err(|p| p.to_string())?
            {
                Some(owner) => {
                    println!("revoked {prefix} ({owner:?}); it stops working within a minute");
                    Ok(())
                }
                None => Err(format!(
                    "no key has the prefix {prefix} (smartpit keys list shows them)"
                )),
            }
        }
        KeysAction::Rotate {
            owner,
            grace_hours,
            target,
        } => {
            let db = target.db().await?;
            let (key, ended) = onboard::rotate(&db, &owner.owner(), grace_hours * 3600).await?;
            println!("{key}");
            eprintln!(
                "new key above, shown once; {ended} older key(s) stop in {grace_hours} hour(s)"
            );
            Ok(())
        }
    }
}

async fn settlement(action: SettlementAction) -> Result<(), String> {
    match action {
        SettlementAction::Show { file, target } => {
            let key = file.key()?;
            let summary = target
                .db()
                .await?
                .get_settlement_summary(&key)
                .await
                .map_err(|p| p.to_string())?
                .ok_or_else(|| format!("{} has not been reconciled", key.key()))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        SettlementAction::Run {
            file,
            target,
            events_table,
            bucket,
        } => {
            let key = file.key()?;
            let (function, bucket) =
                match (target.endpoint, target.main_table, events_table, bucket) {
                    (Some(endpoint), _, _, _) => {
                        let stack = Stack::new(&repo_root()?, &endpoint, "http://127.0.0.1:3000")?;
                        (
                            stack.settlement(&stack.sdk)?,
                            stack.bucket("SettlementsBucket")?,
                        )
                    }
                    (None, Some(main_table), Some(events_table), Some(bucket)) => {
                        let sdk = smartpit_shared::config::aws_from_env().await;
                        let res = smartpit_shared::config::Resources {
                            main_table,
                            events_table,
                            ..Default::default()
                        };
                        (
                            smartpit_settlement::SettlementFunction::new(&sdk, res),
                            bucket,
                        )
                    }
                    _ => {
                        return Err(
                            "say which stack: --endpoint for the local one, or --main-table, \
                                --events-table and --bucket (stack outputs) with AWS credentials \
                                in the environment for a deployed one"
                                .into(),
                        )
                    }
                };
            let summary = function
                .reconcile(&bucket, &key, chrono::Utc::now())
                .await
                .map_err(|e| e.0)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        SettlementAction::Deliver {
            file,
            csv,
            endpoint,
        } => {
            let key = file.key()?;
            let body = std::fs::read(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
            let stack = Stack::new(&repo_root()?, &endpoint, "http://127.0.0.1:3000")?;
            let bucket = stack.bucket("SettlementsBucket")?;
            s3_client(&stack.sdk)
                .put_object()
                .bucket(&bucket)
                .key(key.key())
                .body(body.into())
                .send()
                .await
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
            println!("delivered s3://{bucket}/{}", key.key());
            eprintln!(
                "the local stack reconciles it within a second: smartpit settlement show \
                 --chain {} --date {} --endpoint {endpoint}",
                key.chain_id, key.date
            );
            Ok(())
        }
    }
}

/// Refuses a merchant id the stack does not know, before anything is written for it.
async fn require_merchant(db: &smartpit_shared::Db, id: &str) -> Result<(), String> {
    match db.get_merchant(id).await.map_err(|p| p.to_string())? {
        Some(_) => Ok(()),
        None => Err(format!("no merchant {id}")),
    }
}
