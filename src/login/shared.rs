//! Pending flows shared by every connection for the same user, service and remote host.
//!
//! scp, rsync and VS Code open several SSH connections in a row. While one login for a
//! (user, service, remote host) waits for approval, later ones join it: they show the
//! same prompt and receive the same verdict, so one approval lets them all in. The
//! polling task stops when the last connection waiting for it goes away.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use ultraauth_proto::Flow;

use super::verdict::Verdict;
use crate::sessions::SessionKey;

/// The polling part of a flow, run in its own task and ending with a verdict.
pub type Polling = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// The result of starting a flow: the text to show (if any) and the polling to run.
pub type Started = Result<(Option<String>, Polling), Verdict>;

type Slot = Arc<tokio::sync::Mutex<Weak<RunningFlow>>>;

#[derive(Default)]
pub struct SharedFlows {
    slots: Mutex<HashMap<SessionKey, Slot>>,
}

/// A flow in progress; dropping the last handle aborts its polling task.
pub struct RunningFlow {
    pub flow: Flow,
    /// The prompt (device grant) or message (push) every joined login shows.
    pub text: Option<String>,
    result: watch::Receiver<Option<Verdict>>,
    task: JoinHandle<()>,
    key: SessionKey,
    registry: Weak<SharedFlows>,
}

impl RunningFlow {
    /// Waits for the verdict.
    pub async fn verdict(&self) -> Verdict {
        let mut result = self.result.clone();
        match result.wait_for(Option::is_some).await {
            Ok(verdict) => verdict.clone().expect("wait_for returned a verdict"),
            Err(_) => Verdict::unavailable("the polling task ended without a verdict".into()),
        }
    }

    fn is_pending(&self) -> bool {
        self.result.borrow().is_none()
    }
}

impl Drop for RunningFlow {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(registry) = self.registry.upgrade() {
            registry.forget_if_unused(&self.key);
        }
    }
}

impl SharedFlows {
    /// Joins the pending flow for `key`, or starts one with `start`. Returns the flow
    /// and whether it was joined. Only a flow of the same kind that has no verdict yet
    /// is joined, so a login after a denial starts afresh.
    pub async fn join_or_start<F, Fut>(self: &Arc<Self>, key: &SessionKey, flow: Flow, start: F) -> Result<(Arc<RunningFlow>, bool), Verdict>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Started>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };

        // Holding the slot's lock while starting makes a second connection wait for the
        // first one's device code instead of requesting its own.
        let mut current = slot.lock().await;
        if let Some(running) = current.upgrade() {
            if running.flow == flow && running.is_pending() {
                return Ok((running, true));
            }
        }

        let (text, polling) = start().await?;
        let (sender, result) = watch::channel(None);
        let task = tokio::spawn(async move {
            let verdict = polling.await;
            let _ = sender.send(Some(verdict));
        });

        let running = Arc::new(RunningFlow { flow, text, result, task, key: key.clone(), registry: Arc::downgrade(self) });
        *current = Arc::downgrade(&running);
        Ok((running, false))
    }

    /// Returns how many flows are pending now.
    pub fn pending_count(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.values().filter(|slot| slot.try_lock().map(|current| current.strong_count() > 0).unwrap_or(true)).count()
    }

    fn forget_if_unused(&self, key: &SessionKey) {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let unused = slots.get(key).is_some_and(|slot| {
            Arc::strong_count(slot) == 1 && slot.try_lock().map(|current| current.strong_count() == 0).unwrap_or(false)
        });
        if unused {
            slots.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use ultraauth_proto::Outcome;

    fn key(user: &str) -> SessionKey {
        SessionKey { user: user.into(), service: "sshd".into(), rhost: "192.0.2.1".into(), tty: String::new(), caller_uid: 0 }
    }

    async fn start_counting(starts: &AtomicUsize, release: watch::Receiver<bool>) -> Started {
        starts.fetch_add(1, Ordering::SeqCst);
        let polling: Polling = Box::pin(async move {
            let mut release = release;
            let _ = release.wait_for(|go| *go).await;
            Verdict::approved("test approval".into())
        });
        Ok((Some("prompt".into()), polling))
    }

    #[tokio::test]
    async fn shared_flow_joined_by_same_key() {
        let flows = Arc::new(SharedFlows::default());
        let starts = AtomicUsize::new(0);
        let (release, released) = watch::channel(false);

        let (first, joined_first) = flows.join_or_start(&key("alice"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();
        let (second, joined_second) = flows.join_or_start(&key("alice"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();
        let (_other, joined_other) = flows.join_or_start(&key("bob"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();

        assert!(!joined_first);
        assert!(joined_second);
        assert!(!joined_other);
        assert_eq!(starts.load(Ordering::SeqCst), 2);

        release.send(true).unwrap();
        assert_eq!(first.verdict().await.outcome, Outcome::Approved);
        assert_eq!(second.verdict().await.outcome, Outcome::Approved);
    }

    #[tokio::test]
    async fn shared_flow_finished_is_not_joined() {
        let flows = Arc::new(SharedFlows::default());
        let starts = AtomicUsize::new(0);
        let (release, released) = watch::channel(true);

        let (first, _) = flows.join_or_start(&key("alice"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();
        first.verdict().await;
        let (_second, joined) = flows.join_or_start(&key("alice"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();

        assert!(!joined);
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        drop(release);
    }

    #[tokio::test]
    async fn shared_flow_forgotten_when_last_handle_drops() {
        let flows = Arc::new(SharedFlows::default());
        let starts = AtomicUsize::new(0);
        let (_release, released) = watch::channel(false);

        let (first, _) = flows.join_or_start(&key("alice"), Flow::Device, || start_counting(&starts, released.clone())).await.unwrap();
        assert_eq!(flows.pending_count(), 1);
        drop(first);
        assert_eq!(flows.pending_count(), 0);
        assert!(flows.slots.lock().unwrap().is_empty());
    }
}
