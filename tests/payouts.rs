//! Payouts end to end (issue 19): bills paid at stores, one voided, the rest settled; the
//! payout run (its clock moved past the merchant's next close) makes one payout whose net is
//! the daily reports' nets summed; the statement read back (PDF through `pdftotext`, CSV); the
//! operator's `smartpit` files the Zengin transfer file (read back by a reader written here)
//! and confirms it; the merchant's webhook gets `payout.created` and `payout.paid`, signed.
//! Runs at once, a frozen emulator and bad operator input make no second payout and write
//! nothing wrong.

use std::path::PathBuf;

use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::{json, Value};
use smartpit_payouts::run::end_of_day;
use smartpit_shared::clock::jst_date;
use smartpit_shared::payout::payout_id;
use smartpit_shared::payout_cycle::Cycle;
use smartpit_tests::bills::{bill, pay, settle};
use smartpit_tests::operator::{smartpit, TransferFile};
use smartpit_tests::pdf::pdf_text;
use smartpit_tests::receiver::{shop, verify};
use smartpit_tests::{stack, unique, Client, Frozen};

/// One test at a time in this binary: one of them freezes the emulator.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The close the run makes next for a merchant on `cycle`, and an instant just after it.
fn next_close(cycle: Cycle) -> (NaiveDate, chrono::DateTime<Utc>) {
    let close = cycle.period_of(jst_date(Utc::now())).expect("period").end;
    (close, end_of_day(close) + TimeDelta::minutes(1))
}

async fn payouts(c: &Client, key: &str) -> Vec<Value> {
    let r = c.send(c.get("/v1/payouts", key)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["payouts"].as_array().cloned().unwrap_or_default()
}

/// A statement file through its redirect.
async fn statement(c: &Client, key: &str, id: &str, ext: &str) -> Vec<u8> {
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_redirect
        .get(format!("{}/v1/payouts/{id}/statement.{ext}", c.api))
        .bearer_auth(key)
        .send()
        .await
        .expect("statement");
    assert_eq!(r.status(), 302);
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_string();
    assert!(location.contains("X-Amz-Expires=300"), "{location}");
    let file = reqwest::get(&location).await.expect("presigned");
    assert_eq!(file.status(), 200);
    file.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn a_period_is_paid_out_once_filed_confirmed_and_pushed_signed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let mut fees = smartpit_shared::fees::FeeSchedule {
        default: smartpit_shared::fees::Fee {
            fixed_yen: 60,
            rate_bp: 0,
        },
        ..Default::default()
    };
    fees.chains.insert(
        "lawson".into(),
        smartpit_shared::fees::Fee {
            fixed_yen: 40,
            rate_bp: 50,
        },
    );
    s.db()
        .put_fee_schedule(&shop.id, &fees, Utc::now())
        .await
        .expect("fees");
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-payout",
            "--id",
            &shop.id,
            "--cycle",
            "5day",
            "--pay-after-business-days",
            "3",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-bank",
            "--id",
            &shop.id,
            "--bank",
            "0005",
            "--branch",
            "001",
            "--account-type",
            "ordinary",
            "--account-number",
            "1234567",
            "--holder",
            "アクメショウテン",
        ],
    );
    assert!(ok, "{out}");

    // Bad operator input: refused with a clear message, nothing changed.
    for (args, says) in [
        (
            vec!["merchant-bank", "--bank", "9998", "--branch", "001"],
            "no bank has the code 9998",
        ),
        (
            vec![
                "merchant-bank",
                "--bank",
                "0005",
                "--branch",
                "001",
                "--holder",
                "山田商店",
            ],
            "cannot be written",
        ),
        (
            vec!["merchant-payout", "--cycle", "weekly"],
            "a cycle is one of",
        ),
    ] {
        let mut full = vec![args[0], "--id", &shop.id];
        full.extend(&args[1..]);
        if args[0] == "merchant-bank" {
            full.extend(["--account-type", "ordinary", "--account-number", "7654321"]);
            if !args.contains(&"--holder") {
                full.extend(["--holder", "ﾔﾏﾀﾞ"]);
            }
        }
        let (ok, out) = smartpit(s, &full);
        assert!(!ok && out.contains(says), "{full:?}: {out}");
    }
    let account = s
        .db()
        .bank_account(&shop.id)
        .await
        .expect("read")
        .expect("account");
    assert_eq!(
        account.masked.number, "****567",
        "the refused ones changed nothing"
    );
    assert_eq!(
        s.db()
            .payout_setting(&shop.id)
            .await
            .expect("setting")
            .cycle,
        Cycle::FiveDay
    );

    // Three bills paid and settled (one with a customer fee), a fourth paid and voided.
    let card = s.fresh_card().await.to_string();
    let a = bill(&c, &shop, &card, 1_000, 100).await;
    let b = bill(&c, &shop, &card, 2_000, 0).await;
    let other = s.fresh_card().await.to_string();
    let d = bill(&c, &shop, &other, 3_000, 0).await;
    let third = s.fresh_card().await.to_string();
    let v = bill(&c, &shop, &third, 500, 0).await;
    pay(&c, s, "lawson", &a, 1_100).await;
    pay(&c, s, "lawson", &b, 2_000).await;
    pay(&c, s, "familymart", &d, 3_000).await;
    let voided = pay(&c, s, "lawson", &v, 500).await;
    let r = c
        .send(c.post(
            &format!("/store/v1/payments/{voided}/void"),
            s.chain_key("lawson"),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for id in [&a, &b, &d] {
        settle(&c, &shop, id).await;
    }

    // The run, its clock just past the merchant's next close.
    let (close, after) = next_close(Cycle::FiveDay);
    let run = s.stack.payout_run(&s.sdk()).expect("run");
    let report = run.run_day(close, after).await.expect("run");
    let id = payout_id(&shop.id, close);
    assert!(report.created.contains(&id), "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let list = payouts(&c, &shop.key).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let p = &list[0];
    // Lawson: 40 yen + 0.5 %; FamilyMart: 60 yen.
    let fees_total = (40 + 5) + (40 + 10) + 60;
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["gross"], 6_100);
    assert_eq!(p["fees"], fees_total);
    assert_eq!(p["net"], 6_100 - fees_total);
    assert_eq!(
        (p["bill_count"].clone(), p["status"].clone()),
        (json!(3), json!("scheduled"))
    );
    assert_eq!(p["period_end"], close.to_string());
    assert_eq!(p["bank_account"]["number"], "****567");
    assert_eq!(p["refunds"], 0);

    // The net is the daily report's net: every bill paid today, the voided one counting nothing.
    let today = jst_date(Utc::now());
    let r = c
        .send(
            c.get(&format!("/v1/reports/payments?date={today}"), &shop.key)
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totals"]["net"], p["net"], "{:?}", r.body);

    // Run again, and twice at once: nothing more.
    let again = futures::future::join_all((0..2).map(|_| run.run_day(close, after))).await;
    for r in again {
        let r = r.expect("run");
        assert!(
            !r.created.contains(&id) && r.existing.contains(&id),
            "{r:?}"
        );
    }
    assert_eq!(payouts(&c, &shop.key).await.len(), 1);

    // The statement: PDF and CSV.
    let pdf = statement(&c, &shop.key, &id, "pdf").await;
    let text = pdf_text(&pdf);
    for shown in [
        "支払通知書",
        "ウェブフック商店",
        "****567",
        "¥6,100",
        "¥5,945",
        "ローソン",
        "ファミリーマート",
    ] {
        assert!(text.contains(shown), "{shown} not in:\n{text}");
    }
    assert!(!text.contains("1234567"), "the account number is masked");
    let csv = String::from_utf8(statement(&c, &shop.key, &id, "csv").await).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1, "{csv}");
    for inv in [&a, &b, &d] {
        assert!(csv.contains(inv.as_str()), "{inv} in {csv}");
    }
    assert!(!csv.contains(v.as_str()), "the voided bill is not paid out");

    // Another merchant reads none of it.
    let r = c
        .send(c.get(&format!("/v1/payouts/{id}"), s.merchant_key(0)))
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (404, json!("payout_not_found"))
    );

    // The transfer file of the pay date, read back.
    let pay_date = p["pay_date"].as_str().expect("pay date").to_string();
    let out_file: PathBuf = std::env::temp_dir().join(format!("{}.txt", unique("transfers")));
    let file_args = [
        "transfers",
        "file",
        "--date",
        &pay_date,
        "--out",
        out_file.to_str().expect("path"),
        "--requester-code",
        "1234567890",
        "--requester-name",
        "スマートピット",
        "--from-bank",
        "0001",
        "--from-branch",
        "001",
        "--from-account-number",
        "7654321",
    ];
    // Two operators make it at once: one file; the other is told to wait, or gets the same.
    let twin_file = std::env::temp_dir().join(format!("{}.txt", unique("twin")));
    let mut twin_args = file_args.to_vec();
    twin_args[5] = twin_file.to_str().expect("path");
    let ((ok, out), (twin_ok, twin_out)) = std::thread::scope(|scope| {
        let first = scope.spawn(|| smartpit(s, &file_args));
        let twin = smartpit(s, &twin_args);
        (first.join().expect("first"), twin)
    });
    assert!(ok || twin_ok, "{out}\n{twin_out}");
    for (ok, out) in [(ok, &out), (twin_ok, &twin_out)] {
        assert!(
            ok || out.contains("another `smartpit transfers file`"),
            "{out}"
        );
    }
    if !ok {
        std::fs::copy(&twin_file, &out_file).expect("copy");
    } else if twin_ok {
        assert_eq!(
            std::fs::read(&twin_file).expect("twin"),
            std::fs::read(&out_file).expect("file")
        );
    }
    let _ = std::fs::remove_file(&twin_file);
    let out = if ok { out } else { twin_out };
    assert!(
        !out.contains("1234567 ") && !out.contains("ｱｸﾒ"),
        "no account details shown: {out}"
    );
    let file = TransferFile::read(&std::fs::read(&out_file).expect("file"));
    let kinds = file.kinds();
    assert!(kinds.starts_with('1') && kinds.ends_with("89"), "{kinds}");
    let transfers = file.transfers();
    assert_eq!(
        file.trailer(),
        (
            transfers.len() as i64,
            transfers.iter().map(|t| t.2).sum::<i64>()
        )
    );
    assert!(
        transfers.contains(&(
            "1234567".to_string(),
            "ｱｸﾒｼﾖｳﾃﾝ".to_string(),
            6_100 - fees_total
        )),
        "{transfers:?}"
    );
    let header = &file.records[0];
    assert_eq!(&header[1..3], b"21");
    assert_eq!(
        std::str::from_utf8(&header[54..58]).expect("date"),
        &pay_date[5..].replace('-', "")
    );
    // A day the banks do not work is refused.
    let mut sunday = jst_date(Utc::now());
    while chrono::Datelike::weekday(&sunday) != chrono::Weekday::Sun {
        sunday = sunday.succ_opt().expect("day");
    }
    let sunday = sunday.to_string();
    let mut on_sunday = file_args.to_vec();
    on_sunday[3] = &sunday;
    let (ok, out) = smartpit(s, &on_sunday);
    assert!(!ok && out.contains("not a bank business day"), "{out}");
    // Made again before it is confirmed: the same file.
    let (ok, out) = smartpit(s, &file_args);
    assert!(ok, "{out}");
    assert_eq!(
        TransferFile::read(&std::fs::read(&out_file).expect("file")).records,
        file.records
    );

    // Confirmed: paid, and the merchant is told, signed.
    let (ok, out) = smartpit(s, &["transfers", "confirm", "--date", &pay_date]);
    assert!(ok, "{out}");
    let r = c.send(c.get(&format!("/v1/payouts/{id}"), &shop.key)).await;
    assert_eq!(r.body["status"], "paid", "{:?}", r.body);
    let kinds_of = |got: &[smartpit_tests::receiver::Delivery]| -> Vec<String> {
        got.iter()
            .map(|d| d.json()["type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut got = shop.receiver.deliveries();
    while !kinds_of(&got).contains(&"payout.paid".to_string())
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = shop.receiver.deliveries();
    }
    let kinds = kinds_of(&got);
    for d in &got {
        verify(&shop.secret, d);
    }
    assert!(kinds.contains(&"payout.created".into()), "{kinds:?}");
    assert!(kinds.contains(&"payout.paid".into()), "{kinds:?}");
    // A confirmed file is not made again.
    let (ok, out) = smartpit(s, &file_args);
    assert!(!ok && out.contains("confirmed already"), "{out}");
    let _ = std::fs::remove_file(&out_file);
}

#[tokio::test]
async fn a_frozen_emulator_and_runs_at_once_make_one_payout_held_without_an_account() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let card = s.fresh_card().await.to_string();
    let a = bill(&c, &shop, &card, 4_000, 0).await;
    pay(&c, s, "ministop", &a, 4_000).await;
    settle(&c, &shop, &a).await;
    // Another merchant, with an account, closes the same day.
    let other = smartpit_tests::receiver::shop(s).await;
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-bank",
            "--id",
            &other.id,
            "--bank",
            "0005",
            "--branch",
            "001",
            "--account-type",
            "ordinary",
            "--account-number",
            "7777777",
            "--holder",
            "ｵﾂ ｼﾖｳﾃﾝ",
        ],
    );
    assert!(ok, "{out}");
    let other_card = s.fresh_card().await.to_string();
    let o = bill(&c, &other, &other_card, 2_500, 0).await;
    pay(&c, s, "lawson", &o, 2_500).await;
    settle(&c, &other, &o).await;
    let (close, after) = next_close(Cycle::MonthEnd);
    let run = s.stack.payout_run(&s.sdk()).expect("run");
    let inputs = s
        .db()
        .payout_inputs(std::slice::from_ref(&shop.id))
        .await
        .expect("inputs")
        .remove(0);
    {
        // A dependency that accepts and never answers: the run fails in bounded time.
        let _frozen = Frozen::new(s);
        let started = std::time::Instant::now();
        let r = run.pay_out(&inputs, close, end_of_day(close), after);
        let r = tokio::time::timeout(std::time::Duration::from_secs(90), r).await;
        assert!(matches!(r, Ok(Err(_))), "{r:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }
    // Thawed: three runs at once make one payout.
    let runs = futures::future::join_all((0..3).map(|_| run.run_day(close, after))).await;
    let id = payout_id(&shop.id, close);
    let made: usize = runs
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|r| r.created.iter().filter(|c| **c == id).count())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(made, 1, "{runs:?}");
    let list = payouts(&c, &shop.key).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "held");
    assert_eq!(list[0]["held_reason"], "no_bank_account");
    assert_eq!(list[0]["net"], 4_000);
    assert!(list[0].get("bank_account").is_none());
    let other_id = payout_id(&other.id, close);
    let r = c
        .send(c.get(&format!("/v1/payouts/{other_id}"), &other.key))
        .await;
    assert_eq!(r.body["status"], "scheduled", "{:?}", r.body);

    // A bank business day some weeks on (a file is for a day the banks work): its file pays
    // the other merchant's payout (due by then), not the held one.
    let first = smartpit_shared::bank_calendar::business_days_after(
        jst_date(Utc::now()) + TimeDelta::days(40),
        1,
    )
    .expect("covered");
    let file_of = |day: &NaiveDate, out: &PathBuf| -> (bool, String) {
        smartpit(
            s,
            &[
                "transfers",
                "file",
                "--date",
                &day.to_string(),
                "--out",
                out.to_str().expect("path"),
                "--requester-code",
                "1234567890",
                "--requester-name",
                "ｽﾏｰﾄﾋﾟﾂﾄ",
                "--from-bank",
                "0001",
                "--from-branch",
                "001",
                "--from-account-number",
                "7654321",
            ],
        )
    };
    let out_file: PathBuf = std::env::temp_dir().join(format!("{}.txt", unique("held")));
    let (ok, out) = file_of(&first, &out_file);
    assert!(ok, "{out}");
    let made = std::fs::read(&out_file).expect("file");
    let paid_first = TransferFile::read(&made).transfers();
    assert!(
        paid_first.contains(&("7777777".to_string(), "ｵﾂ ｼﾖｳﾃﾝ".to_string(), 2_500)),
        "{paid_first:?}"
    );
    assert!(
        !paid_first.iter().any(|t| t.0 == "0000042"),
        "{paid_first:?}"
    );

    // The merchant registers an account.
    let (ok, out) = smartpit(
        s,
        &[
            "merchant-bank",
            "--id",
            &shop.id,
            "--bank",
            "0001",
            "--branch",
            "001",
            "--account-type",
            "savings",
            "--account-number",
            "0000042",
            "--holder",
            "ﾎﾘﾕｳ ｼﾖｳﾃﾝ",
        ],
    );
    assert!(ok, "{out}");
    // The first day's file made again (it may have been uploaded already): the same bytes,
    // nothing added; confirmed, it pays only what it holds.
    let (ok, out) = file_of(&first, &out_file);
    assert!(ok, "{out}");
    assert_eq!(std::fs::read(&out_file).expect("file"), made);
    let (ok, out) = smartpit(s, &["transfers", "confirm", "--date", &first.to_string()]);
    assert!(ok, "{out}");
    let r = c
        .send(c.get(&format!("/v1/payouts/{other_id}"), &other.key))
        .await;
    assert_eq!(r.body["status"], "paid", "{:?}", r.body);
    let r = c.send(c.get(&format!("/v1/payouts/{id}"), &shop.key)).await;
    assert_eq!(r.body["status"], "held", "{:?}", r.body);

    // The next bank business day's file pays the held payout.
    let day = smartpit_shared::bank_calendar::business_days_after(first, 1)
        .expect("covered")
        .to_string();
    let (ok, out) = file_of(&day.parse().expect("day"), &out_file);
    assert!(ok, "{out}");
    let file = TransferFile::read(&std::fs::read(&out_file).expect("file"));
    assert_eq!(
        file.transfers(),
        vec![("0000042".to_string(), "ﾎﾘﾕｳ ｼﾖｳﾃﾝ".to_string(), 4_000)]
    );
    let _ = std::fs::remove_file(&out_file);
    let r = c.send(c.get(&format!("/v1/payouts/{id}"), &shop.key)).await;
    assert_eq!(r.body["status"], "scheduled", "{:?}", r.body);
    assert_eq!(r.body["pay_date"], day.as_str());
    assert!(r.body.get("held_reason").is_none(), "{:?}", r.body);
    assert_eq!(r.body["bank_account"]["number"], "****042");

    // The bank returns it: failed, told to the merchant, its amount back on the balance for
    // the next payout; an id not in the file is refused first, writing nothing.
    let (ok, out) = smartpit(
        s,
        &[
            "transfers",
            "confirm",
            "--date",
            &day,
            "--failed",
            "po_20991231aaaaaaaaaaaa",
        ],
    );
    assert!(!ok && out.contains("is not in the transfer file"), "{out}");
    let (ok, out) = smartpit(
        s,
        &[
            "transfers",
            "confirm",
            "--date",
            &day,
            "--failed",
            &id,
            "--reason",
            "account closed",
        ],
    );
    assert!(ok, "{out}");
    let r = c.send(c.get(&format!("/v1/payouts/{id}"), &shop.key)).await;
    assert_eq!(r.body["status"], "failed", "{:?}", r.body);
    assert_eq!(r.body["failure_reason"], "account closed");
    assert_eq!(
        s.db().payout_state(&shop.id).await.expect("state").balance,
        4_000
    );
    let r = c
        .send(c.get("/v1/events?type=payout.failed", &shop.key))
        .await;
    assert_eq!(
        r.body["events"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        r.body
    );

    // Listing: a forged cursor is refused, not followed.
    let r = c.send(c.get("/v1/payouts?cursor=cG86eA", &shop.key)).await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (400, json!("invalid_cursor"))
    );
}

/// The scheduled function itself, in its own process under the Runtime API (its template
/// environment, font layer and role): an operator's `{"date"}` event runs the closes of that
/// day; a day that has not ended is refused and fails the invocation.
#[tokio::test]
async fn the_run_function_runs_a_day_and_refuses_one_not_ended() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let yesterday = jst_date(Utc::now()) - TimeDelta::days(1);
    let out = s
        .functions
        .invoke(
            "PayoutRunFunction",
            json!({"date": yesterday.to_string()})
                .to_string()
                .into_bytes(),
        )
        .await;
    let report: Value = serde_json::from_slice(&out.result.expect("invoked")).expect("json");
    assert_eq!(report["close"], yesterday.to_string());
    assert!(report["merchants"].as_u64().unwrap_or(0) >= 2, "{report}");
    assert_eq!(report["failed"], json!([]), "{report}");
    let tomorrow = jst_date(Utc::now()) + TimeDelta::days(1);
    let out = s
        .functions
        .invoke(
            "PayoutRunFunction",
            json!({"date": tomorrow.to_string()})
                .to_string()
                .into_bytes(),
        )
        .await;
    let err = out.result.expect_err("refused");
    assert!(err.contains("has not ended"), "{err}");

    // A merchant onboarded before the directory existed is put in it by the operator, once.
    let shop = shop(s).await;
    s.ddb()
        .delete_item()
        .table_name(s.main_table())
        .set_key(Some(smartpit_shared::db::item::key("MERCHANTS", &shop.id)))
        .send()
        .await
        .expect("delete");
    assert!(!s.db().merchant_ids().await.expect("ids").contains(&shop.id));
    let (ok, out) = smartpit(s, &["merchant-directory"]);
    assert!(ok && out.contains("1 merchant(s) added"), "{out}");
    assert!(s.db().merchant_ids().await.expect("ids").contains(&shop.id));
    let (ok, out) = smartpit(s, &["merchant-directory"]);
    assert!(ok && out.contains("0 merchant(s) added"), "{out}");
}

/// A merchant's developer sees a payout on a test stack: the sandbox closes the period now,
/// whatever the cycle, as the run does; a second call the same day makes none.
#[tokio::test]
async fn the_sandbox_closes_the_period_now_once_a_day() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = stack();
    let c = s.client();
    let shop = shop(s).await;
    let r = c.send(c.post("/v1/test/payouts/run", &shop.key)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"created": false, "payout": null}),
        "nothing settled yet"
    );
    let card = s.fresh_card().await.to_string();
    let a = bill(&c, &shop, &card, 2_500, 0).await;
    pay(&c, s, "circle-k", &a, 2_500).await;
    settle(&c, &shop, &a).await;
    // What was settled up to 2 seconds ago.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let r = c.send(c.post("/v1/test/payouts/run", &shop.key)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["created"], true);
    let p = r.body["payout"].clone();
    assert_eq!(
        (p["gross"].clone(), p["bill_count"].clone()),
        (json!(2_500), json!(1))
    );
    assert_eq!(p["status"], "held", "no account yet: {p}");
    assert_eq!(p["period_end"], jst_date(Utc::now()).to_string());
    let again = c.send(c.post("/v1/test/payouts/run", &shop.key)).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["created"], false);
    assert_eq!(again.body["payout"]["id"], p["id"]);
    assert_eq!(payouts(&c, &shop.key).await.len(), 1);
    // Another merchant's call closes its own period, never this one's.
    let other = smartpit_tests::receiver::shop(s).await;
    let r = c.send(c.post("/v1/test/payouts/run", &other.key)).await;
    assert_eq!(r.body["payout"], Value::Null, "{:?}", r.body);
    assert_eq!(payouts(&c, &shop.key).await.len(), 1);
}
