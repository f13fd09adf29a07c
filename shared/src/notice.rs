//! What the customer is owed for an invoice and whether it reached them: the sheet PDF, the
//! sheet delivery mail and the mobile registration mail. The merchant sees each on the invoice
//! (`notices`), so a mail that could never be delivered is visible, not silently lost.

use chrono::{DateTime, Utc};

use crate::invoice::jst_timestamp;

/// A notice as the merchant sees it on the bill.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct NoticeView {
    #[schemars(extend("enum" = ["sheet", "sheet_mail", "mobile_mail", "refund_mail", "confirmation", "paid_mail", "paid_mobile_mail", "reminder_mail"]))]
    pub kind: &'static str,
    pub to: Option<String>,
    #[schemars(extend("enum" = ["queued", "sent", "failed", "skipped", "bounced", "complained"]))]
    pub status: &'static str,
    pub reason: Option<String>,
    #[schemars(with = "crate::contract::Timestamp")]
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    /// The sheet PDF, stored behind the sheet link.
    Sheet,
    /// 「スマートピットシート配信のお知らせ」 to the PC address.
    SheetMail,
    /// 「【Smart Pit】請求登録のお知らせ」 to the mobile address.
    MobileMail,
    /// 「返金手続きのお願い」: a refund's page, to the bill's address (the latest refund's).
    RefundMail,
    /// お支払い完了証明, the PDF behind the payment page once the bill is paid (sheet bills).
    Confirmation,
    /// 「お支払い完了のお知らせ」 to the PC address (the latest payment's).
    PaidMail,
    /// 「お支払い完了のお知らせ」 to the mobile address (the latest payment's).
    PaidMobileMail,
    /// 「お支払い期限のお知らせ」: the one reminder before the due date (PC address, else mobile).
    ReminderMail,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 8] = [
        NoticeKind::Sheet,
        NoticeKind::SheetMail,
        NoticeKind::MobileMail,
        NoticeKind::RefundMail,
        NoticeKind::Confirmation,
        NoticeKind::PaidMail,
        NoticeKind::PaidMobileMail,
        NoticeKind::ReminderMail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Sheet => "sheet",
            NoticeKind::SheetMail => "sheet_mail",
            NoticeKind::MobileMail => "mobile_mail",
            NoticeKind::RefundMail => "refund_mail",
            NoticeKind::Confirmation => "confirmation",
            NoticeKind::PaidMail => "paid_mail",
            NoticeKind::PaidMobileMail => "paid_mobile_mail",
            NoticeKind::ReminderMail => "reminder_mail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// Written with the invoice; the notifier has not finished it yet.
    Queued,
    /// Done: the PDF is stored, or SES accepted the mail.
    Sent,
    /// It can never be done as asked (SES refused the address, the PDF could not be made), or
    /// the notifier stopped retrying and parked it for an operator (`reason` says which).
    Failed,
    /// Not sent because the bill was no longer payable (cancelled, expired or paid) by then, or
    /// (a payment's notices) the payment was voided before it went out.
    Skipped,
    /// SES accepted it, then the receiving server refused it for good (a hard bounce).
    Bounced,
    /// The customer marked it as spam.
    Complained,
}

impl NoticeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Queued => "queued",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
            NoticeStatus::Skipped => "skipped",
            NoticeStatus::Bounced => "bounced",
            NoticeStatus::Complained => "complained",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            NoticeStatus::Queued,
            NoticeStatus::Sent,
            NoticeStatus::Failed,
            NoticeStatus::Skipped,
            NoticeStatus::Bounced,
            NoticeStatus::Complained,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The address a mail goes to (none for the PDF).
    pub to: Option<String>,
    pub status: NoticeStatus,
    /// Why it failed or was skipped, in words an operator or merchant can act on.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl Notice {
    pub fn queued(kind: NoticeKind, to: Option<&str>, at: DateTime<Utc>) -> Self {
        Notice {
            kind,
            to: to.map(str::to_string),
            status: NoticeStatus::Queued,
            reason: None,
            at,
        }
    }

    /// The same notice, now in another state.
    pub fn now(&self, status: NoticeStatus, reason: Option<String>, at: DateTime<Utc>) -> Self {
        Notice {
            status,
            reason,
            at,
            ..self.clone()
        }
    }

    pub fn view(&self) -> NoticeView {
        NoticeView {
            kind: self.kind.as_str(),
            to: self.to.clone(),
            status: self.status.as_str(),
            reason: self.reason.clone(),
            at: jst_timestamp(self.at),
        }
    }
}
