//! `smartpit-local` (`make dev`): the whole service on this machine. The emulator, the
//! template's tables, buckets and queues, the demo data, every function as its own processes
//! and the API on 127.0.0.1; `.local/stack.json` says where while it runs.

use clap::Parser;
use smartpit_local::stack::{repo_root, StackFile};

#[derive(Parser)]
#[command(
    name = "smartpit-local",
    version,
    about = "The local stack: emulator, tables, demo data, every function as its own processes, \
             the API on 127.0.0.1"
)]
struct Cli {
    /// Port of the API.
    #[arg(long, env = "SMARTPIT_PORT", default_value_t = 3000)]
    port: u16,
    /// Port of the local AWS endpoint.
    #[arg(long, env = "SMARTPIT_EMULATOR_PORT", default_value_t = 4566)]
    emulator_port: u16,
}

#[tokio::main]
async fn main() {
    smartpit_local::init_cli_logging();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("smartpit-local: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        port,
        emulator_port,
    } = cli;
    let repo = repo_root()?;
    let dir = repo.join(".local");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // Both ports first: a busy one is said plainly, before anything is started or
    // any running stack's files are touched.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{port} ({e}): is another `make dev` running? \
                 SMARTPIT_PORT picks another port"
            )
        })?;
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", emulator_port)) {
        return Err(format!(
            "the emulator's port 127.0.0.1:{emulator_port} is busy ({e}): is another \
             `make dev` running? SMARTPIT_EMULATOR_PORT picks another port"
        ));
    }
    eprintln!("repository: {}", repo.display());
    eprintln!("starting the emulator and every function of the template as its own processes");
    let running = smartpit_local::stack::start(
        &repo,
        smartpit_local::stack::Options {
            api: Some(listener),
            emulator_port,
            emulator_log: Some(dir.join("emulator.log")),
            logs: smartpit_local::runtime::Logs::Stderr,
        },
    )
    .await?;
    let seeded = &running.seeded;
    let file = StackFile {
        repository: repo.display().to_string(),
        api_url: running.api_url.clone(),
        aws_endpoint_url: running.emulator.endpoint.clone(),
        merchants: &seeded.merchants,
        store_chains: &seeded.store_chains,
        cards: &seeded.cards,
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    // Written whole or not at all, and removed when the stack stops: nobody reads a
    // dead stack's ports.
    let stack_json = dir.join("stack.json");
    let partial = dir.join("stack.json.partial");
    std::fs::write(&partial, format!("{text}\n")).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &stack_json).map_err(|e| e.to_string())?;
    println!("function processes (the binaries cargo built, under the Runtime API):");
    for p in running.functions.processes() {
        println!(
            "  {:<26} pid {:<7} {}",
            p.function,
            p.pid,
            p.binary.display()
        );
    }
    print_welcome(&file);
    // Ctrl-C or a plain `kill` (SIGTERM) both stop it cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nstopped"),
        _ = term.recv() => println!("stopped (SIGTERM)"),
    }
    let _ = std::fs::remove_file(&stack_json);
    drop(running);
    Ok(())
}

fn print_welcome(f: &StackFile<'_>) {
    let merchant = f.merchants.first().map_or("", |m| m.api_key.as_str());
    let card = f.cards.first().map_or("", String::as_str);
    println!(
        "\nsmartpit local stack is up.\n\
         \n  Repository:    {repo}\n  API:           {api}\n  AWS endpoint:  {aws} (moto)\n  Details:       .local/stack.json (emulator log: .local/emulator.log)\n\
         \n  Merchant key:  {merchant}\n  Lawson key:    {lawson}\n  Demo card:     {card}\n\
         \nTry:\n  curl -s {api}/v1/invoices -H 'Authorization: Bearer {merchant}'\n\
         \nIn a browser:\n  {api}/get-number       a free number (FAQ Q03)\n  {api}/sandbox/store    the store simulator (paste the Lawson key)\n  {api}/s/<token>        a sheet link from a mail (make mail)\n\
         \nSent mail:     make mail   (or {aws}/moto-api/data.json)\n\nCtrl-C stops the API and the emulator.",
        api = f.api_url,
        repo = f.repository,
        aws = f.aws_endpoint_url,
        lawson = f.store_chains.get("lawson").map_or("", String::as_str),
    );
}
