//! A payout statement's file, handed out as a 5-minute presigned URL of the private statements
//! bucket (the payouts API and the console redirect to it; nothing else reads the bucket).

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use super::Payout;

/// Lifetime of a statement's presigned URL.
pub const PRESIGNED_SECONDS: u64 = 300;

/// The statement's two forms: the extension and the content type the download is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementFile {
    Pdf,
    Csv,
}

impl StatementFile {
    pub fn ext(self) -> &'static str {
        match self {
            StatementFile::Pdf => "pdf",
            StatementFile::Csv => "csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            StatementFile::Pdf => "application/pdf",
            StatementFile::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// A client for presigning only (no call is made), path-style as the local emulator serves.
pub fn presigning_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The presigned URL of the payout's statement, downloaded as `statement-<id>.<ext>`.
pub async fn statement_link(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    p: &Payout,
    file: StatementFile,
) -> Result<String, String> {
    let ext = file.ext();
    let config = PresigningConfig::expires_in(Duration::from_secs(PRESIGNED_SECONDS))
        .map_err(|e| e.to_string())?;
    let presigned = s3
        .get_object()
        .bucket(bucket)
        .key(format!("{}.{ext}", p.statement_key))
        .response_content_type(file.content_type())
        .response_content_disposition(format!("attachment; filename=\"statement-{}.{ext}\"", p.id))
        .presigned(config)
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())?;
    Ok(presigned.uri().to_string())
}
