//! The Wait state: until a number of seconds or a timestamp, fixed or read from the input, on
//! the branch's clock.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::{Branch, Failure, Run, Step, shown};
use crate::definition::{State, WaitSpec};
use crate::path::Scope;
use crate::time::parse_timestamp;

impl Run {
    pub(super) async fn wait_state(
        &self,
        st: &State,
        w: &WaitSpec,
        raw: Value,
        br: &Branch,
        entered: u64,
        entered_time: SystemTime,
    ) -> Result<Step, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let ctx = self.context(st, entered_time, 0, br);
        let eff = st.input_path.apply(&raw, &ctx).map_err(rt)?;
        let scope = Scope {
            input: &eff,
            context: &ctx,
            rng: br.draws.as_ref(),
        };
        let now = self.now();
        let until = wait_until(w, &scope, now, rt)?;
        let d = until.duration_since(now).unwrap_or_default();
        if d.as_secs() > i32::MAX as u64 {
            return Err(rt("Wait state delay is too long.".into()));
        }
        self.sleep(d).await?;
        let out = st.output_path.apply(&eff, &ctx).map_err(rt)?;
        Ok(Step::Next(self.limit_output(st, out)?, st.next.clone()))
    }
}

/// When the wait ends, from `now`.
fn wait_until(
    w: &WaitSpec,
    scope: &Scope<'_>,
    now: SystemTime,
    rt: impl Fn(String) -> Failure,
) -> Result<SystemTime, Failure> {
    Ok(match w {
        WaitSpec::Seconds(s) => now + Duration::from_secs(*s),
        WaitSpec::SecondsPath(q) => {
            let v = q.eval(scope).map_err(&rt)?;
            match v.as_i64() {
                Some(n) if n < 0 => {
                    return Err(rt(format!(
                        "The SecondsPath parameter references a negative value: {} == {}",
                        q.text(),
                        shown(&v)
                    )));
                }
                Some(n) => now + Duration::from_secs(n as u64),
                None => {
                    return Err(rt(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        q.text(),
                        shown(&v)
                    )));
                }
            }
        }
        WaitSpec::Timestamp(t) => parse_timestamp(t).unwrap_or(now),
        WaitSpec::TimestampPath(q) => {
            let v = q.eval(scope).map_err(&rt)?;
            match v.as_str().and_then(parse_timestamp) {
                Some(t) => t,
                None => {
                    return Err(rt(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        q.text(),
                        shown(&v)
                    )));
                }
            }
        }
    })
}
