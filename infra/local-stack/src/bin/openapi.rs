//! `make openapi`: writes infra/openapi.yaml from infra/openapi/document.yaml and the request
//! types (smartpit_local::openapi).

fn main() -> std::process::ExitCode {
    let run = || -> Result<(), String> {
        let repo = smartpit_local::stack::repo_root().map_err(|e| e.to_string())?;
        let source = std::fs::read_to_string(repo.join(smartpit_local::openapi::DOCUMENT))
            .map_err(|e| e.to_string())?;
        let text = smartpit_local::openapi::generate(&source)?;
        std::fs::write(repo.join(smartpit_local::openapi::GENERATED), text)
            .map_err(|e| e.to_string())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openapi: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
