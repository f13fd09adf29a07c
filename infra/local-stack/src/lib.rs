//! The local stack: the template's resources on a local AWS endpoint (moto's server), the
//! demo data, every function of the template as its own processes under a Lambda Runtime API,
//! API Gateway's HTTP API in front of them and the template's event sources feeding them.
//! `stack::start` is the one start of `make dev` (`smartpit-local`), the tests and the benches.

pub mod apigw;
pub mod buckets;
pub mod contract;
pub mod emulator;
pub mod iam;
pub mod openapi;
pub mod provision;
pub mod queues;
pub mod runtime;
pub mod server;
pub mod stack;
pub mod streams;
pub mod template;

/// Logs of the stack's and the operator's commands: on stderr (never stdout, which may carry a
/// key or a CSV path), readable in a terminal, JSON otherwise; `RUST_LOG` filters (warn).
pub fn init_cli_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false);
    let _ = if std::io::stderr().is_terminal() {
        builder.compact().try_init()
    } else {
        builder.json().try_init()
    };
}

/// `make deploy` measures what `sam build` built before deploying it (issue 12's budgets).
#[cfg(test)]
mod size_gate {
    use std::process::Command;

    fn gate(dir: &std::path::Path, zip_budget: u64, notify_zip_budget: u64) -> (i32, String) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../local/sizes.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg("--built")
            .arg(dir)
            .env("SIZES_ZIP_BUDGET", zip_budget.to_string())
            .env("SIZES_NOTIFY_ZIP_BUDGET", notify_zip_budget.to_string())
            .output()
            .unwrap_or_else(|e| panic!("bash: {e}"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn a_function_over_its_budget_stops_the_deploy() {
        let dir = std::env::temp_dir().join(format!("size-gate-{}", std::process::id()));
        // Zeros: their zip is tiny.
        std::fs::create_dir_all(dir.join("StoreFunction")).unwrap_or_default();
        std::fs::write(dir.join("StoreFunction/bootstrap"), vec![0u8; 100_000]).unwrap_or_default();
        // Incompressible bytes: their zip is as large as they are.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..60_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        std::fs::create_dir_all(dir.join("NotifyFunction")).unwrap_or_default();
        std::fs::write(dir.join("NotifyFunction/bootstrap"), noise).unwrap_or_default();

        let (code, table) = gate(&dir, 200_000, 200_000);
        assert_eq!(code, 0, "{table}");
        assert!(table.contains("`StoreFunction`") && !table.contains("over budget"));
        // The notifier has a budget of its own (printpdf's fixed weight), no other function.
        let (code, table) = gate(&dir, 10_000, 100_000);
        assert_eq!(code, 0, "{table}");
        std::fs::create_dir_all(dir.join("SheetsFunction")).unwrap_or_default();
        std::fs::copy(
            dir.join("NotifyFunction/bootstrap"),
            dir.join("SheetsFunction/bootstrap"),
        )
        .unwrap_or_default();
        let (code, table) = gate(&dir, 10_000, 100_000);
        assert_eq!(code, 1, "{table}");
        assert!(table
            .lines()
            .any(|l| l.contains("`SheetsFunction`") && l.contains("over")));
        let _ = std::fs::remove_dir_all(dir.join("SheetsFunction"));
        let (code, table) = gate(&dir, 10_000, 10_000);
        assert_eq!(code, 1, "{table}");
        let over: Vec<&str> = table
            .lines()
            .filter(|l| l.contains("over budget"))
            .collect();
        assert_eq!(over.len(), 1, "{table}");
        assert!(over[0].contains("`NotifyFunction`"));
        let (code, _) = gate(&dir.join("nothing-here"), 10_000, 10_000);
        assert_eq!(code, 2, "no build output is an error, not a pass");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
