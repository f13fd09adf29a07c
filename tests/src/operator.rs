//! The operator's side in tests: the `smartpit` command against a test stack, and a reader of
//! the Zengin transfer files it writes (from the format, not from our writer).

use std::process::Command;

use crate::TestStack;

/// The operator's command, as built by `make binaries`, against this stack.
pub fn smartpit(s: &TestStack, args: &[&str]) -> (bool, String) {
    let bin = s.stack.binaries_dir().join("smartpit");
    let out = Command::new(&bin)
        .args(args)
        .args(["--endpoint", &s.endpoint])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A reader of Zengin transfer files, written from the format (not from our writer): records of
/// 120 bytes, each ended by CR LF.
pub struct TransferFile {
    pub records: Vec<Vec<u8>>,
}

impl TransferFile {
    pub fn read(bytes: &[u8]) -> TransferFile {
        assert_eq!(bytes.len() % 122, 0, "records of 120 bytes and CR LF");
        let records: Vec<Vec<u8>> = bytes.chunks(122).map(|r| r.to_vec()).collect();
        for r in &records {
            assert_eq!(&r[120..], b"\r\n");
        }
        TransferFile {
            records: records.into_iter().map(|r| r[..120].to_vec()).collect(),
        }
    }

    pub fn kinds(&self) -> String {
        self.records.iter().map(|r| r[0] as char).collect()
    }

    pub fn number(r: &[u8], from: usize, to: usize) -> i64 {
        std::str::from_utf8(&r[from..to])
            .expect("digits")
            .parse()
            .expect("number")
    }

    pub fn sjis(r: &[u8], from: usize, to: usize) -> String {
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&r[from..to]);
        assert!(!bad, "Shift_JIS");
        text.trim_end().to_string()
    }

    /// (account number, name, amount) of each data record.
    pub fn transfers(&self) -> Vec<(String, String, i64)> {
        self.records
            .iter()
            .filter(|r| r[0] == b'2')
            .map(|r| {
                (
                    String::from_utf8_lossy(&r[43..50]).to_string(),
                    Self::sjis(r, 50, 80),
                    Self::number(r, 80, 90),
                )
            })
            .collect()
    }

    pub fn trailer(&self) -> (i64, i64) {
        let t = self.records.iter().find(|r| r[0] == b'8').expect("trailer");
        (Self::number(t, 1, 7), Self::number(t, 7, 19))
    }
}
