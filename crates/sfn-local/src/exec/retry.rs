//! Retry and Catch: which retrier or catcher an error matches, the backoff (with its jitter), and
//! the output a catcher hands to its Next state.

use std::time::{Duration, SystemTime};

use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use super::{Branch, Failure, Run, Step, hash64, str_hash};
use crate::definition::{Catcher, Kind, State};

fn matches_error(list: &[String], f: &Failure) -> bool {
    if f.uncatchable() {
        return false;
    }
    let name = f.name();
    if f.named_only {
        return list.iter().any(|e| e == name);
    }
    list.iter().any(|e| {
        e == name || e == "States.ALL" || (e == "States.TaskFailed" && name != "States.Timeout")
    })
}

impl Run {
    pub(super) async fn run_with_retry(
        &self,
        st: &State,
        raw: Value,
        br: &mut Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let mut counters = vec![0u64; st.retry.len()];
        let mut retry_count = 0u64;
        loop {
            let ctx = self.context(st, entered_time, retry_count, br);
            let res = match &st.kind {
                Kind::Task(spec) => self.task_attempt(st, spec, &raw, &ctx, br, entered).await,
                Kind::Parallel { branches } => {
                    self.parallel_attempt(st, branches, &raw, &ctx, br, entered)
                        .await
                }
                Kind::Map(spec) => self.map_attempt(st, spec, &raw, &ctx, br, entered).await,
                _ => unreachable!("only Task, Parallel and Map retry"),
            };
            let f = match res {
                Ok(out) => return Ok(Step::Next(out, st.next.clone())),
                Err(f) => f,
            };
            if let Some(delay) = self.retry_delay(st, &mut counters, &f, br, retry_count) {
                self.sleep(delay).await?;
                retry_count += 1;
                continue;
            }
            if !f.exec_timeout && !f.runtime_in_state {
                match &st.kind {
                    Kind::Parallel { .. } => {
                        self.emit(br, "ParallelStateFailed", None);
                    }
                    Kind::Map(_) => {
                        self.emit(br, "MapStateFailed", None);
                    }
                    _ => {}
                }
            }
            return self.catch(st, &st.catch, &raw, f, entered);
        }
    }

    fn retry_delay(
        &self,
        st: &State,
        counters: &mut [u64],
        f: &Failure,
        br: &Branch,
        retry_count: u64,
    ) -> Option<Duration> {
        if f.uncatchable() {
            return None;
        }
        let retriers = &st.retry;
        let i = retriers
            .iter()
            .position(|r| matches_error(&r.error_equals, f))?;
        let r = &retriers[i];
        if counters[i] >= r.max_attempts {
            return None;
        }
        let mut secs = r.interval_seconds * r.backoff_rate.powi(counters[i] as i32);
        if let Some(m) = r.max_delay_seconds {
            secs = secs.min(m);
        }
        counters[i] += 1;
        if r.jitter_full {
            // Each state of a branch draws its own jitter.
            let mut rng = rand::rngs::StdRng::seed_from_u64(hash64(&[
                self.engine.inner.seed,
                br.key,
                str_hash(&st.name),
                retry_count,
            ]));
            secs = rng.random_range(0.0..=secs);
        }
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    fn catch(
        &self,
        st: &State,
        catchers: &[Catcher],
        raw: &Value,
        f: Failure,
        entered: u64,
    ) -> Result<Step, Failure> {
        let Some(c) = catchers.iter().find(|c| matches_error(&c.error_equals, &f)) else {
            return Err(f);
        };
        let mut m = Map::new();
        m.insert(
            "Error".into(),
            Value::from(f.error.clone().unwrap_or_default()),
        );
        match &f.cause {
            Some(cause) => {
                m.insert("Cause".into(), Value::from(cause.as_str()));
            }
            // AWS reports a Task timeout with an empty cause
            None if f.name() == "States.Timeout" => {
                m.insert("Cause".into(), Value::from(""));
            }
            None => {}
        }
        let out = c
            .result_path
            .apply(raw, Value::Object(m))
            .map_err(|e| self.runtime(&st.name, entered, e))?;
        Ok(Step::Next(
            self.limit_output(st, out)?,
            Some(c.next.clone()),
        ))
    }
}
