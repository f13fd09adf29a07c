//! Bank accounts as a Zengin transfer (全銀) names them: bank and branch codes checked against
//! the Zengin code list (the maintained `zengin-code` package, pinned in infra/data, written to
//! shared/data/zengin.tsv by `make field-data`), account type and number, and the holder's name
//! in the characters a transfer record accepts.

use std::collections::HashMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("../data/zengin.tsv");

/// A bank or branch of the list: code, name, name in kana.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub code: &'static str,
    pub name: &'static str,
    pub kana: &'static str,
}

struct Bank {
    entry: Entry,
    branches: HashMap<&'static str, Entry>,
}

fn banks() -> &'static HashMap<&'static str, Bank> {
    static LIST: OnceLock<HashMap<&'static str, Bank>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut out: HashMap<&'static str, Bank> = HashMap::new();
        let mut current: Option<&'static str> = None;
        for line in DATA.lines() {
            let mut cols = line.split('\t');
            let (Some(kind), Some(code), Some(name), Some(kana)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let entry = Entry { code, name, kana };
            if kind == "B" {
                current = Some(code);
                out.insert(
                    code,
                    Bank {
                        entry,
                        branches: HashMap::new(),
                    },
                );
            } else if let Some(bank) = current.and_then(|c| out.get_mut(c)) {
                bank.branches.insert(code, entry);
            }
        }
        out
    })
}

/// The bank with this 4-digit code.
pub fn bank(code: &str) -> Option<Entry> {
    banks().get(code).map(|b| b.entry)
}

/// The branch with this 3-digit code of the bank.
pub fn branch(bank: &str, branch: &str) -> Option<Entry> {
    banks().get(bank)?.branches.get(branch).copied()
}

/// How many banks and branches the list has.
pub fn size() -> (usize, usize) {
    let b = banks();
    (b.len(), b.values().map(|x| x.branches.len()).sum())
}

/// The account types of a transfer record (預金種目).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// 普通 (1)
    Ordinary,
    /// 当座 (2)
    Current,
    /// 貯蓄 (4)
    Savings,
}

impl AccountType {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "ordinary" => Ok(AccountType::Ordinary),
            "current" => Ok(AccountType::Current),
            "savings" => Ok(AccountType::Savings),
            _ => Err(format!(
                "an account type is ordinary, current or savings (not {s:?})"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Ordinary => "ordinary",
            AccountType::Current => "current",
            AccountType::Savings => "savings",
        }
    }

    /// Its digit in a transfer record.
    pub fn zengin_code(self) -> char {
        match self {
            AccountType::Ordinary => '1',
            AccountType::Current => '2',
            AccountType::Savings => '4',
        }
    }

    /// Its name as a passbook prints it.
    pub fn japanese(self) -> &'static str {
        match self {
            AccountType::Ordinary => "普通",
            AccountType::Current => "当座",
            AccountType::Savings => "貯蓄",
        }
    }
}

fn ascii_digits(s: &str) -> String {
    kelp::z2h(
        s.trim(),
        kelp::ConvOption {
            digit: true,
            ..Default::default()
        },
    )
}

/// A bank code: 4 digits of the list (full-width digits read as digits).
pub fn bank_code(s: &str) -> Result<Entry, String> {
    let code = ascii_digits(s);
    if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a bank code is 4 digits".into());
    }
    bank(&code).ok_or_else(|| format!("no bank has the code {code} in the Zengin list"))
}

/// A branch code: 3 digits, a branch of that bank in the list.
pub fn branch_code(bank: &str, s: &str) -> Result<Entry, String> {
    let code = ascii_digits(s);
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a branch code is 3 digits".into());
    }
    branch(bank, &code)
        .ok_or_else(|| format!("the bank {bank} has no branch {code} in the Zengin list"))
}

/// An account number: exactly 7 digits, as a transfer record carries it.
pub fn account_number(s: &str) -> Result<String, String> {
    let n = ascii_digits(s);
    if n.len() == 7 && n.bytes().all(|b| b.is_ascii_digit()) {
        Ok(n)
    } else {
        Err("an account number is 7 digits".into())
    }
}

/// The most characters a transfer record holds for the holder's name.
pub const HOLDER_MAX: usize = 30;

/// Characters a transfer record accepts in a name besides half-width kana, A-Z and 0-9.
const SYMBOLS: &[char] = &[' ', '(', ')', '-', '.', '/', ',', '｢', '｣'];

/// The holder's name as a transfer record takes it: hiragana and full-width katakana to
/// half-width katakana (voiced marks apart: ガ → ｶﾞ), full-width letters, digits and spaces to
/// ASCII, lower case to upper, small kana to their full size (ｯ → ﾂ, as banks print them), the
/// long-vowel mark to `-`, runs of spaces to one. Anything else is refused, naming it.
pub fn holder_name(s: &str) -> Result<String, String> {
    let out = transfer_text(s)?;
    if out.is_empty() {
        return Err("the holder's name is empty".into());
    }
    if out.chars().count() > HOLDER_MAX {
        return Err(format!(
            "the holder's name is {} characters in a transfer record; at most {HOLDER_MAX}",
            out.chars().count()
        ));
    }
    Ok(out)
}

/// Any text as a transfer record writes it (a name, a bank's or branch's kana): the conversion
/// `holder_name` describes, with no limit of length.
pub fn transfer_text(s: &str) -> Result<String, String> {
    let all = kelp::ConvOption {
        ascii: true,
        digit: true,
        kana: true,
        ..Default::default()
    };
    let katakana = kelp::hira2kata(&s.replace('\u{3000}', " "), all);
    let half = kelp::z2h(&katakana, all);
    let mut out = String::new();
    for c in half.chars() {
        let c = match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'ｧ' => 'ｱ',
            'ｨ' => 'ｲ',
            'ｩ' => 'ｳ',
            'ｪ' => 'ｴ',
            'ｫ' => 'ｵ',
            'ｬ' => 'ﾔ',
            'ｭ' => 'ﾕ',
            'ｮ' => 'ﾖ',
            'ｯ' => 'ﾂ',
            'ｰ' | '‐' | '−' => '-',
            other => other,
        };
        let kana = ('\u{FF66}'..='\u{FF9F}').contains(&c);
        if !(kana || c.is_ascii_uppercase() || c.is_ascii_digit() || SYMBOLS.contains(&c)) {
            return Err(format!(
                "{c:?} cannot be written in a bank transfer (kana, A-Z, 0-9, space and ( ) - . / , only)"
            ));
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    Ok(out.trim_end().to_string())
}

/// An account as a customer types it on a form (each field as sent).
#[derive(Debug, Clone, Default)]
pub struct AccountForm {
    pub bank: String,
    pub branch: String,
    pub account_type: String,
    pub number: String,
    pub holder: String,
}

/// An account every field of which the Zengin list and a transfer record accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAccount {
    pub bank: Entry,
    pub branch: Entry,
    pub account_type: AccountType,
    pub number: String,
    pub holder: String,
}

impl CheckedAccount {
    /// The form checked field by field: every field's mistake, by the form's field name.
    pub fn of(form: &AccountForm) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let bank = bank_code(&form.bank)
            .map_err(|e| errors.push(("bank", e)))
            .ok();
        let branch = bank.and_then(|b| {
            branch_code(b.code, &form.branch)
                .map_err(|e| errors.push(("branch", e)))
                .ok()
        });
        let account_type = AccountType::parse(form.account_type.trim())
            .map_err(|e| errors.push(("account_type", e)))
            .ok();
        let number = account_number(&form.number)
            .map_err(|e| errors.push(("number", e)))
            .ok();
        let holder = holder_name(&form.holder)
            .map_err(|e| errors.push(("holder", e)))
            .ok();
        match (bank, branch, account_type, number, holder) {
            (Some(bank), Some(branch), Some(account_type), Some(number), Some(holder))
                if errors.is_empty() =>
            {
                Ok(CheckedAccount {
                    bank,
                    branch,
                    account_type,
                    number,
                    holder,
                })
            }
            _ => Err(errors),
        }
    }

    /// The details as sealed (JSON; never stored or logged in clear).
    pub fn sealed_form(&self) -> String {
        serde_json::json!({
            "bank_code": self.bank.code, "branch_code": self.branch.code,
            "account_type": self.account_type.as_str(), "account_number": self.number,
            "holder": self.holder,
        })
        .to_string()
    }
}

/// An account number shown to someone: the last three digits only.
pub fn masked(account_number: &str) -> String {
    let tail: String = account_number
        .chars()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_checked_field_by_field() {
        let form = AccountForm {
            bank: "０００５".into(),
            branch: "001".into(),
            account_type: "ordinary".into(),
            number: "1234567".into(),
            holder: "やまだ たろう".into(),
        };
        let ok = CheckedAccount::of(&form).expect("valid");
        assert_eq!((ok.bank.code, ok.branch.code), ("0005", "001"));
        assert_eq!(ok.holder, "ﾔﾏﾀﾞ ﾀﾛｳ");
        let bad = CheckedAccount::of(&AccountForm {
            branch: "999".into(),
            number: "12345".into(),
            holder: "山田".into(),
            ..form
        })
        .expect_err("invalid");
        let fields: Vec<&str> = bad.iter().map(|e| e.0).collect();
        assert_eq!(fields, ["branch", "number", "holder"]);
    }

    #[test]
    fn the_list_has_the_banks_and_branches() {
        let (banks, branches) = size();
        assert!(banks > 1000 && branches > 25_000, "{banks} {branches}");
        assert_eq!(bank("0005").map(|b| b.name), Some("三菱ＵＦＪ"));
        assert_eq!(bank("0001").map(|b| b.kana), Some("ミズホ"));
        assert_eq!(branch("0001", "001").map(|b| b.name), Some("東京営業部"));
        assert!(bank("9999").is_none());
        assert!(branch("9999", "001").is_none());
    }

    #[test]
    fn codes_and_numbers_are_checked_against_the_list() {
        assert_eq!(bank_code("０００５").map(|b| b.code), Ok("0005"));
        assert!(bank_code("5").is_err());
        assert!(bank_code("9999").unwrap_err().contains("Zengin list"));
        assert_eq!(branch_code("0001", "001").map(|b| b.code), Ok("001"));
        assert!(branch_code("0001", "01").is_err());
        assert_eq!(account_number("１２３４５６７"), Ok("1234567".into()));
        for bad in ["123456", "12345678", "12a4567", ""] {
            assert!(account_number(bad).is_err(), "{bad}");
        }
        assert_eq!(masked("1234567"), "****567");
        assert_eq!(
            AccountType::parse("savings").map(|t| t.zengin_code()),
            Ok('4')
        );
        assert!(AccountType::parse("checking").is_err());
    }

    #[test]
    fn holder_names_become_transfer_characters() {
        assert_eq!(holder_name("ヤマダ　タロウ"), Ok("ﾔﾏﾀﾞ ﾀﾛｳ".into()));
        assert_eq!(holder_name("やまだ  たろう"), Ok("ﾔﾏﾀﾞ ﾀﾛｳ".into()));
        assert_eq!(holder_name("ｶ)ｱｸﾒｼｮｳﾃﾝ"), Ok("ｶ)ｱｸﾒｼﾖｳﾃﾝ".into()));
        assert_eq!(holder_name("チョコレート"), Ok("ﾁﾖｺﾚ-ﾄ".into()));
        assert_eq!(holder_name("Ａｃｍｅ Shop"), Ok("ACME SHOP".into()));
        assert_eq!(holder_name("パン（ユ"), Ok("ﾊﾟﾝ(ﾕ".into()));
        assert!(holder_name("山田太郎").unwrap_err().contains('山'));
        assert!(holder_name("ｱ@ｲ").is_err());
        assert!(holder_name("   ").is_err());
        assert!(holder_name(&"ｱ".repeat(31)).is_err());
    }
}
