//! The merchant console's people and sessions (issue 22): who may sign in for a merchant, in
//! which role, and how long a session lasts. Pure rules; storage is `db::console`.

use chrono::{DateTime, Utc};

/// A console user's role: staff run the bills; only an admin touches keys, webhooks and payout
/// settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// A person who may sign in to a merchant's console (added by the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The sign-in address, lower-cased.
    pub email: String,
    pub merchant_id: String,
    pub role: Role,
    /// Raised by a sign-out: every session of an older epoch is over, everywhere.
    pub epoch: i64,
}

/// A sign-in link is good for this long, once.
pub const LOGIN_LINK_SECONDS: i64 = 15 * 60;
/// A session unused this long is over.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session is over this long after it began, used or not.
pub const MAX_AGE_SECONDS: i64 = 12 * 60 * 60;
/// A session's last use is written again at most this often (a page view is otherwise a read).
pub const TOUCH_SECONDS: i64 = 60;

/// The session cookie: `__Host-` (Secure, Path=/, no Domain), HttpOnly, SameSite=Strict.
pub const COOKIE: &str = "__Host-smartpit-console";

/// A started session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub email: String,
    pub merchant_id: String,
    pub role: Role,
    pub epoch: i64,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

impl Session {
    /// Whether the session still holds at `now`: used within the idle time, younger than the
    /// maximum age, and of the user's current epoch (no sign-out since).
    pub fn holds(&self, now: DateTime<Utc>, user_epoch: i64) -> bool {
        let t = now.timestamp();
        t - self.last_seen <= IDLE_SECONDS
            && t - self.created_at <= MAX_AGE_SECONDS
            && self.epoch == user_epoch
    }

    /// Whether its last use is worth writing again now.
    pub fn wants_touch(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() - self.last_seen >= TOUCH_SECONDS
    }
}

/// The sign-in address as stored and looked up: trimmed and lower-cased (mail systems treat
/// the local part as case-insensitive in practice, and users type it as they please).
pub fn normalized_address(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// Compares two secrets in constant time (CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created: i64, seen: i64) -> Session {
        Session {
            email: "a@example.jp".into(),
            merchant_id: "m".into(),
            role: Role::Staff,
            epoch: 1,
            csrf: "x".into(),
            created_at: created,
            last_seen: seen,
        }
    }

    #[test]
    fn a_session_ends_when_idle_too_old_or_signed_out() {
        let now = DateTime::from_timestamp(100_000, 0).unwrap_or_default();
        let t = now.timestamp();
        assert!(session(t - 60, t - 60).holds(now, 1));
        assert!(!session(t - 60, t - IDLE_SECONDS - 1).holds(now, 1));
        assert!(!session(t - MAX_AGE_SECONDS - 1, t - 10).holds(now, 1));
        assert!(!session(t - 60, t - 60).holds(now, 2));
        assert!(session(t - 600, t - TOUCH_SECONDS).wants_touch(now));
        assert!(!session(t - 600, t - 5).wants_touch(now));
    }

    #[test]
    fn roles_and_addresses_read_back() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse(Role::Staff.as_str()), Some(Role::Staff));
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(
            normalized_address(" Hanako@Example.JP "),
            "hanako@example.jp"
        );
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
