//! The merchant console's storage: its users (`CUSER#<address>` / `#`), one-time sign-in links
//! (`CLOGIN#<sha256 of the link's token>` / `#`, TTL) and sessions (`CSESS#<sha256 of the
//! cookie>` / `#`, TTL). Only hashes of links and cookies are stored: a copy of the table signs
//! no one in.

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::item::{self, get_n, get_s, Item};
use super::{av_s, Db};
use crate::console::{
    normalized_address, ConsoleUser, Role, Session, LOGIN_LINK_SECONDS, MAX_AGE_SECONDS,
};
use crate::ids::sha256_hex;

fn user_key(email: &str) -> Item {
    item::key(format!("CUSER#{}", normalized_address(email)), "#")
}

fn login_key(token: &str) -> Item {
    item::key(format!("CLOGIN#{}", sha256_hex(token)), "#")
}

fn session_key(cookie: &str) -> Item {
    item::key(format!("CSESS#{}", sha256_hex(cookie)), "#")
}

fn user_of(it: &Item) -> Option<ConsoleUser> {
    Some(ConsoleUser {
        email: get_s(it, "email")?.to_string(),
        merchant_id: get_s(it, "merchant_id")?.to_string(),
        role: Role::parse(get_s(it, "role")?)?,
        epoch: get_n(it, "epoch").unwrap_or(0),
    })
}

impl Db {
    /// Adds (or changes the role of) a console user of a merchant; an address belongs to one
    /// merchant at a time. `Ok(false)`: the address is another merchant's user.
    pub async fn put_console_user(
        &self,
        merchant_id: &str,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(user_key(email)))
            .update_expression(
                "SET #type = :type, email = :email, merchant_id = :m, #role = :role, \
                 epoch = if_not_exists(epoch, :zero), created_at = if_not_exists(created_at, :now)",
            )
            .condition_expression("attribute_not_exists(pk) OR merchant_id = :m")
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":type", av_s("console_user"))
            .expression_attribute_values(":email", av_s(&normalized_address(email)))
            .expression_attribute_values(":m", av_s(merchant_id))
            .expression_attribute_values(":role", av_s(role.as_str()))
            .expression_attribute_values(":zero", item::n(0))
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .send()
            .await;
        super::applied(res)
    }

    /// The console user signing in with this address, if there is one. One consistent read.
    pub async fn console_user(&self, email: &str) -> Result<Option<ConsoleUser>, StoreError> {
        let found = self.read(&self.res.main_table, user_key(email)).await?;
        Ok(found.as_ref().and_then(user_of))
    }

    /// Stores a one-time sign-in link's token (its hash) for the user, good for 15 minutes.
    pub async fn put_login_link(
        &self,
        user: &ConsoleUser,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expires = now.timestamp() + LOGIN_LINK_SECONDS;
        let mut it = login_key(token);
        it.insert("type".into(), item::s("console_login"));
        it.insert("email".into(), item::s(&user.email));
        it.insert("until".into(), item::n(expires));
        it.insert("expires_at".into(), item::n(expires + 3600));
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// Takes a sign-in link: deleted as it is read, so it signs in once. The user's address
    /// while the link was good; `None` for an unknown, used or lapsed link.
    pub async fn take_login_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(login_key(token)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match res {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if super::is_conditional_failure(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let good = get_n(&old, "until").is_some_and(|u| u >= now.timestamp());
        Ok(good
            .then(|| get_s(&old, "email").map(str::to_string))
            .flatten())
    }

    /// Starts a session for the user under the cookie's value (its hash stored).
    pub async fn put_session(&self, cookie: &str, session: &Session) -> Result<(), StoreError> {
        let mut it = session_key(cookie);
        it.insert("type".into(), item::s("console_session"));
        it.insert("email".into(), item::s(&session.email));
        it.insert("merchant_id".into(), item::s(&session.merchant_id));
        it.insert("role".into(), item::s(session.role.as_str()));
        it.insert("epoch".into(), item::n(session.epoch));
        it.insert("csrf".into(), item::s(&session.csrf));
        it.insert("created_at".into(), item::n(session.created_at));
        it.insert("last_seen".into(), item::n(session.last_seen));
        it.insert(
            "expires_at".into(),
            item::n(session.created_at + MAX_AGE_SECONDS + 3600),
        );
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// The session stored under the cookie's value, if any (whether it still holds is the
    /// caller's to judge, with the user's epoch). One consistent read.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError> {
        let found = self.read(&self.res.main_table, session_key(cookie)).await?;
        Ok(found.as_ref().and_then(|it| {
            Some(Session {
                email: get_s(it, "email")?.to_string(),
                merchant_id: get_s(it, "merchant_id")?.to_string(),
                role: Role::parse(get_s(it, "role")?)?,
                epoch: get_n(it, "epoch")?,
                csrf: get_s(it, "csrf")?.to_string(),
                created_at: get_n(it, "created_at")?,
                last_seen: get_n(it, "last_seen")?,
            })
        }))
    }

    /// Records a session's use (at most once a minute, [`Session::wants_touch`]).
    pub async fn touch_session(&self, cookie: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(session_key(cookie)))
            .update_expression("SET last_seen = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .send()
            .await;
        // A session deleted meanwhile (signed out) has nothing to record.
        super::applied(res).map(|_| ())
    }

    /// Signs the user out everywhere: this session deleted, and the user's epoch raised so
    /// every other session of theirs no longer holds.
    pub async fn end_sessions(&self, cookie: &str, email: &str) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(user_key(email)))
            .update_expression("ADD epoch :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", item::n(1))
            .send()
            .await;
        // A user removed meanwhile: only this session to end.
        super::applied(res)?;
        self.client
            .delete_item()
            .table_name(&self.res.main_table)
            .set_key(Some(session_key(cookie)))
            .send()
            .await?;
        Ok(())
    }
}

/// Lines of an uploaded file kept per item (a line is a few hundred bytes of JSON).
pub const UPLOAD_LINES_PER_ITEM: usize = 100;
/// An upload is kept a day (its lines carry customers' addresses).
const UPLOAD_SECONDS: i64 = 24 * 3600;

/// Where a bulk registration stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadState {
    /// Good lines, and bad ones (never registered).
    pub good: i64,
    pub bad: i64,
    /// Good lines gone through so far (in file order).
    pub next: i64,
    /// Of those: registered now, registered before (the same line of the same file), refused.
    pub registered: i64,
    pub replayed: i64,
    pub refused: i64,
    /// Why each refused line was refused (`line N: …`), the first 200.
    pub failures: Vec<String>,
    /// Handed to the background run (a file too long for the requests of one page).
    pub queued: bool,
    /// Background runs that failed since the upload last moved on (the queue gives a failed
    /// run again, five times, then sets it aside for an operator).
    pub failed_runs: i64,
}

fn upload_pk(merchant_id: &str, id: &str) -> String {
    format!("CUPLOAD#{merchant_id}#{id}")
}

impl Db {
    /// Stores a checked file's good lines (`(line number, request JSON)`) and its counts,
    /// starting over where the same file was uploaded before. One put per 100 lines and one
    /// for the state.
    pub async fn put_upload(
        &self,
        merchant_id: &str,
        id: &str,
        lines: &[(usize, String)],
        bad: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ttl = item::n(now.timestamp() + UPLOAD_SECONDS);
        for (i, chunk) in lines.chunks(UPLOAD_LINES_PER_ITEM).enumerate() {
            let mut it = item::key(upload_pk(merchant_id, id), format!("LINES#{i:05}"));
            it.insert("type".into(), item::s("console_upload_lines"));
            it.insert(
                "numbers".into(),
                aws_sdk_dynamodb::types::AttributeValue::L(
                    chunk.iter().map(|(n, _)| item::n(*n as i64)).collect(),
                ),
            );
            it.insert(
                "lines".into(),
                aws_sdk_dynamodb::types::AttributeValue::L(
                    chunk.iter().map(|(_, j)| item::s(j)).collect(),
                ),
            );
            it.insert("expires_at".into(), ttl.clone());
            self.client
                .put_item()
                .table_name(&self.res.main_table)
                .set_item(Some(it))
                .send()
                .await?;
        }
        let mut it = item::key(upload_pk(merchant_id, id), "#");
        it.insert("type".into(), item::s("console_upload"));
        it.insert("good".into(), item::n(lines.len() as i64));
        it.insert("bad".into(), item::n(bad));
        it.insert("next".into(), item::n(0));
        it.insert("registered".into(), item::n(0));
        it.insert("replayed".into(), item::n(0));
        it.insert("refused".into(), item::n(0));
        it.insert(
            "failures".into(),
            aws_sdk_dynamodb::types::AttributeValue::L(Vec::new()),
        );
        it.insert("expires_at".into(), ttl);
        self.client
            .put_item()
            .table_name(&self.res.main_table)
            .set_item(Some(it))
            .send()
            .await?;
        Ok(())
    }

    /// Where the merchant's upload stands (`None`: not this merchant's, or gone).
    pub async fn upload_state(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<UploadState>, StoreError> {
        let found = self
            .read(
                &self.res.main_table,
                item::key(upload_pk(merchant_id, id), "#"),
            )
            .await?;
        Ok(found.map(|it| UploadState {
            good: get_n(&it, "good").unwrap_or(0),
            bad: get_n(&it, "bad").unwrap_or(0),
            next: get_n(&it, "next").unwrap_or(0),
            registered: get_n(&it, "registered").unwrap_or(0),
            replayed: get_n(&it, "replayed").unwrap_or(0),
            refused: get_n(&it, "refused").unwrap_or(0),
            failures: item::get_list_s(&it, "failures"),
            queued: it.contains_key("queued_at"),
            failed_runs: get_n(&it, "failed_runs").unwrap_or(0),
        }))
    }

    /// The good lines stored in the upload's `index`th item.
    pub async fn upload_lines(
        &self,
        merchant_id: &str,
        id: &str,
        index: usize,
    ) -> Result<Vec<(usize, String)>, StoreError> {
        let found = self
            .read(
                &self.res.main_table,
                item::key(upload_pk(merchant_id, id), format!("LINES#{index:05}")),
            )
            .await?
            .unwrap_or_default();
        let numbers: Vec<usize> = found
            .get("numbers")
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_n().ok()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(numbers
            .into_iter()
            .zip(item::get_list_s(&found, "lines"))
            .collect())
    }

    /// Marks the upload as handed to the background run. `Ok(false)`: it was already (a second
    /// press of the button hands nothing over twice), or it is gone.
    pub async fn queue_upload(
        &self,
        merchant_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(upload_pk(merchant_id, id), "#")))
            .update_expression("SET queued_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(queued_at)")
            .expression_attribute_values(":now", item::n(now.timestamp()))
            .send()
            .await;
        super::applied(res)
    }

    /// Records lines `from..to` gone through, with what became of them (counts of registered,
    /// replayed and refused; the refusals' reasons). `Ok(false)`: another
    /// commit of the same upload moved it meanwhile (nothing recorded here).
    pub async fn advance_upload(
        &self,
        merchant_id: &str,
        id: &str,
        from: i64,
        to: i64,
        (registered, replayed, refused): (i64, i64, i64),
        failures: &[String],
    ) -> Result<bool, StoreError> {
        let room = failures.iter().map(item::s).collect();
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(upload_pk(merchant_id, id), "#")))
            .update_expression(
                "SET #next = :to, failures = list_append(failures, :f) \
                 ADD registered :r, replayed :p, refused :x REMOVE failed_runs",
            )
            .condition_expression("#next = :from")
            .expression_attribute_names("#next", "next")
            .expression_attribute_values(":to", item::n(to))
            .expression_attribute_values(":from", item::n(from))
            .expression_attribute_values(":r", item::n(registered))
            .expression_attribute_values(":p", item::n(replayed))
            .expression_attribute_values(":x", item::n(refused))
            .expression_attribute_values(":f", aws_sdk_dynamodb::types::AttributeValue::L(room))
            .send()
            .await;
        super::applied(res)
    }

    /// Counts a failed background run of the upload (its page says it is held up until a
    /// run moves it on). Nothing when the upload is gone.
    pub async fn note_failed_upload_run(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.res.main_table)
            .set_key(Some(item::key(upload_pk(merchant_id, id), "#")))
            .update_expression("ADD failed_runs :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", item::n(1))
            .send()
            .await;
        super::applied(res).map(|_| ())
    }
}
