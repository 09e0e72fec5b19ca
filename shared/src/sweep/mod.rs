//! The sweeper: the safety net under the pipeline's messages. Every step
//! of ingest → process → deliver hands work on through SQS, and a message
//! can still go missing between a write and its send (a crash, a timeout
//! after the write, a send that failed and a clean-up that failed too). A
//! scheduled run (EventBridge Scheduler; a timer in the local stack) finds
//!
//! * events still `RECEIVED` past the grace period (every back-off of the
//!   leads queue, see [`crate::config::default_sweep_grace`]), read once
//!   each from a cursor over the events listing ([`events`]), and
//! * deliveries `pending` with no attempt and no change for longer than
//!   any back-off ([`crate::deliver::stall_after`]),
//!
//! and queues them again. It also checks each registered Meta page's
//! health (at most hourly per page, see [`check_pages`]). Idempotent: `process` finishes an event once and
//! `deliver` claims each attempt, so an extra message costs a read; each
//! find is marked with a conditional write, so two sweepers at once queue
//! one message, and a stuck item is queued again once per grace period,
//! not on every run.

mod events;

use std::time::Duration;

use crate::app::{App, Scope};
use crate::aws::queue::DeliveriesMessage;
use crate::aws::store::Write;
use crate::aws::table::{self, GSI3};
use crate::deliver::held;
use crate::error::Error;
use crate::model::deliveries::{self, Delivery};
use crate::model::health;
use crate::rules::clock;
use crate::rules::ids::{IdKind, bound_at};

/// Items of each kind are read this many at a time; a run pages through
/// every stuck one (items queued again recently are read and skipped, so
/// a page of them never hides the ones after it).
pub const BATCH: usize = 500;

/// What one run queued again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    pub events: usize,
    pub deliveries: usize,
    /// Meta pages checked with Graph in this run, and those found failing.
    pub pages_checked: usize,
    pub pages_failing: usize,
    /// Pages that turned failing in this run: `source.failing` raised.
    pub sources_failing: usize,
}

/// One sweep over events and deliveries.
pub async fn sweep(app: &App) -> Result<Swept, Error> {
    Box::pin(sweep_at(app, clock::now_ms())).await
}

/// One sweep as of `now` (Unix ms): tests look from the future instead of
/// waiting for the grace period to pass.
pub async fn sweep_at(app: &App, now: i64) -> Result<Swept, Error> {
    // Stalled deliveries first: however long the events scans take, they
    // are never left for lack of time.
    let deliveries = Box::pin(stalled_deliveries(app, now)).await;
    let deadline = std::time::Instant::now() + events::SCAN_BUDGET;
    let mut events = 0;
    let mut failed = None;
    let mut pages = PageChecks::default();
    let mut workspaces = Box::pin(crate::model::workspaces::all_ids(app)).await?;
    // A random workspace first each run, so that one with a long scan
    // never leaves the same others to the end of the budget, whatever the
    // schedule.
    if !workspaces.is_empty() {
        let mut b = [0u8; 4];
        crate::rules::crypto::fill_random(&mut b);
        let turn = usize::try_from(u32::from_le_bytes(b)).unwrap_or(0) % workspaces.len();
        workspaces.rotate_left(turn);
    }
    for ws in workspaces {
        // Boxed: the SDK's futures are deep, and a loop of them overflows
        // the compiler's layout depth in the binary.
        let scope = app.scope(ws);
        // One workspace's failure never keeps the others' stuck events
        // from being queued; the run still fails, for the alarm.
        match Box::pin(events::stuck_events(&scope, now, deadline)).await {
            Ok(n) => events += n,
            Err(e) => {
                tracing::error!(error = %e, workspace = %scope.ws(), "stuck events of a workspace could not be swept; the others go on");
                failed.get_or_insert(e);
            }
        }
        // A page check that cannot run (Graph down, a store error) never
        // keeps stuck work from being queued again.
        match Box::pin(check_pages(&scope, now)).await {
            Ok(c) => {
                pages.checked += c.checked;
                pages.failing += c.failing;
                pages.raised += c.raised;
            }
            Err(e) => {
                tracing::warn!(error = %e, workspace = %scope.ws(), "Meta page checks failed; next sweep tries again")
            }
        }
    }
    let swept = Swept {
        events,
        deliveries: deliveries.as_ref().map_or(0, Vec::len),
        pages_checked: pages.checked,
        pages_failing: pages.failing,
        sources_failing: pages.raised,
    };
    if swept.events + swept.deliveries > 0 {
        tracing::warn!(
            events = swept.events,
            deliveries = swept.deliveries,
            "sweeper queued stuck work again"
        );
    }
    deliveries?;
    match failed {
        Some(e) => Err(e),
        None => Ok(swept),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn id_ms(now: i64, ago: Duration) -> u64 {
    u64::try_from(now.saturating_sub(ms(ago))).unwrap_or(0)
}

/// Pending deliveries that stalled, each queued again. They are read from
/// the work index, which holds pending deliveries only: a run reads a
/// handful of entries, not every recent delivery (filtered queries bill
/// for everything they read).
async fn stalled_deliveries(app: &App, now: i64) -> Result<Vec<Delivery>, Error> {
    let quiet = crate::deliver::stall_after(&app.config);
    let to = bound_at(IdKind::Delivery, id_ms(now, quiet), true);
    let mut from = bound_at(IdKind::Delivery, 0, false);
    let work: Vec<String> = (0..table::WORK_SHARDS)
        .map(table::pending_deliveries)
        .collect();
    let mut queued = Vec::new();
    let mut holds = HoldsStanding::new(now, quiet);
    loop {
        let (found, next): (Vec<Delivery>, _) = app
            .store
            .query_range_page(GSI3, &work, (&from, &to), None, BATCH)
            .await?;
        let mut messages = Vec::new();
        for d in found {
            // The work index spans workspaces; each entry's key names its own.
            let Some((ws, _)) = table::workspace_of(&d.pk) else {
                tracing::error!(pk = %d.pk, "a work-index entry names no workspace; skipped");
                continue;
            };
            let scope = app.scope(ws);
            // A held one: by what holds it (see `HoldsStanding`); freed
            // ones go out spread, as a release sends them.
            let (stalled, delay) = match d.held_at_ms {
                None => (d.stalled(now, quiet), 0),
                Some(_) if !d.quiet_for(now, quiet) => (false, 0),
                Some(_) => match holds.of(&scope, &d).await {
                    Hold::Releasing => (false, 0),
                    Hold::Probe(p) if p != d.id.as_str() => (d.stalled(now, quiet), 0),
                    Hold::Unknown => (d.stalled(now, quiet), 0),
                    Hold::Probe(_) | Hold::None => (true, holds.next_delay(&scope, &d)),
                },
            };
            if stalled && deliveries::touch_stalled(&scope, &d).await? == Write::Done {
                messages.push((DeliveriesMessage::attempt(scope.ws(), &d.id), delay));
                queued.push(d);
            }
        }
        app.queue
            .send_all_delayed(&app.config.deliveries_queue_url, &messages)
            .await?;
        match next {
            Some(n) => from = n,
            None => return Ok(queued),
        }
    }
}

/// What holds a held delivery: its subscription failing with its probe
/// (another delivery) still pending, as `deliver`'s gate decides, or a
/// release of the held deliveries under way (its spread-out messages not
/// all due yet: [`crate::model::health::Health::releasing`]). One that
/// nothing holds was left behind
/// by a release that was lost (a crash between the recovery and the
/// release's sends, a send that failed) or by a probe that ended without
/// handing on: it is stalled once quiet for the stall window, not the
/// hourly recheck, and sent spread out at the release's rate. Each
/// subscription is looked at once a run; one that cannot be read keeps
/// the hourly recheck.
struct HoldsStanding {
    now: i64,
    quiet: Duration,
    seen: std::collections::HashMap<(String, String), Hold>,
    freed: std::collections::HashMap<(String, String), u32>,
}

#[derive(Clone)]
enum Hold {
    /// Failing, this delivery its probe.
    Probe(String),
    /// Healthy again, the release's messages still due.
    Releasing,
    /// Nothing holds its deliveries.
    None,
    /// Its health could not be read.
    Unknown,
}

impl HoldsStanding {
    fn new(now: i64, quiet: Duration) -> Self {
        HoldsStanding {
            now,
            quiet,
            seen: Default::default(),
            freed: Default::default(),
        }
    }

    async fn of(&mut self, scope: &Scope, d: &Delivery) -> Hold {
        let key = (scope.ws().to_string(), d.subscription_id.to_string());
        if let Some(hold) = self.seen.get(&key) {
            return hold.clone();
        }
        let hold = match hold_of(scope, &d.subscription_id, self.now, self.quiet).await {
            Ok(hold) => hold,
            Err(e) => {
                tracing::warn!(subscription_id = %d.subscription_id, error = %e, "could not read a subscription's hold; its held deliveries keep the hourly recheck");
                Hold::Unknown
            }
        };
        self.seen.insert(key, hold.clone());
        hold
    }

    /// The delay of the next held delivery freed for `d`'s subscription
    /// this run: [`held::RELEASE_PER_SECOND`] a second, 900 s at most.
    fn next_delay(&mut self, scope: &Scope, d: &Delivery) -> u32 {
        let key = (scope.ws().to_string(), d.subscription_id.to_string());
        let n = self.freed.entry(key).or_insert(0);
        let delay = (*n / held::RELEASE_PER_SECOND).min(900);
        *n += 1;
        delay
    }
}

/// What holds a subscription's deliveries at `now`.
async fn hold_of(scope: &Scope, sub_id: &str, now: i64, quiet: Duration) -> Result<Hold, Error> {
    let Some(h) = health::get(scope, sub_id).await? else {
        return Ok(Hold::None);
    };
    if h.releasing(now, quiet) {
        return Ok(Hold::Releasing);
    }
    let Some(probe) = h.probe.filter(|_| h.failing_since_ms.is_some()) else {
        return Ok(Hold::None);
    };
    let pending = deliveries::get(scope, &probe)
        .await?
        .is_some_and(|p| p.status == deliveries::DeliveryStatus::Pending);
    Ok(if pending {
        Hold::Probe(probe)
    } else {
        Hold::None
    })
}

/// What one run's page checks found.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageChecks {
    pub checked: usize,
    pub failing: usize,
    /// Turned failing: `source.failing` raised.
    pub raised: usize,
}

/// Checks each Meta page of `scope`'s workspace not checked within
/// [`pages::CHECK_EVERY_MS`]: its token still valid and the app still in
/// its `subscribed_apps` ([`crate::providers::meta_health`]). A page that
/// turns failing is marked (reason, since) and raises `source.failing`
/// ([`crate::ops::source_failing`]) once; a healthy answer clears the mark;
/// an outage leaves it as it was.
pub async fn check_pages(scope: &Scope, now: i64) -> Result<PageChecks, Error> {
    use crate::model::pages::{self, Transition};
    use crate::providers::meta_health::{self, Health};
    let mut found = PageChecks::default();
    let registered = pages::all(scope).await?;
    if registered.is_empty() {
        return Ok(found);
    }
    let secrets = scope.secrets.get().await?;
    let http = scope.http()?;
    for page in registered {
        if page
            .checked_at_ms
            .is_some_and(|at| now - at < pages::CHECK_EVERY_MS)
            || !pages::claim_check(scope, &page.page_id, now).await?
        {
            continue;
        }
        found.checked += 1;
        let health = match page.access_token(&secrets.data_key) {
            Ok(token) => {
                meta_health::check(
                    http,
                    &scope.config.meta_graph_url,
                    &page.page_id,
                    &token,
                    secrets.meta_app_id.as_deref(),
                )
                .await
            }
            Err(e) => Health::Failing(format!("the stored page token cannot be opened: {e}")),
        };
        let failing = match &health {
            Health::Healthy => None,
            Health::Failing(reason) => Some(reason.as_str()),
            Health::Unknown(why) => {
                tracing::warn!(page_id = %page.page_id, reason = %why, "Meta page check inconclusive");
                continue;
            }
        };
        if failing.is_some() {
            found.failing += 1;
        }
        match pages::record_health(scope, &page, failing).await? {
            Transition::Failing => {
                found.raised += 1;
                crate::ops::source_failing(scope, &page.page_id, failing.unwrap_or_default()).await;
            }
            Transition::Recovered => {
                tracing::info!(page_id = %page.page_id, "Meta page healthy again");
            }
            Transition::Unchanged => {}
        }
    }
    Ok(found)
}
