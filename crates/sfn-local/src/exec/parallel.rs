//! The Parallel state: every branch runs on its own branch of time; the first failure ends the
//! state.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::{BoxFut, Branch, Failure, Run, hash64};
use crate::definition::{Body, State};
use crate::path::Scope;

impl Run {
    pub(super) async fn parallel_attempt(
        &self,
        st: &State,
        branches: &[Arc<Body>],
        raw: &Value,
        ctx: &Value,
        br: &mut Branch,
        entered: u64,
    ) -> Result<Value, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let eff = st.input_path.apply(raw, ctx).map_err(rt)?;
        let input = match &st.parameters {
            Some(t) => t
                .eval(&Scope {
                    input: &eff,
                    context: ctx,
                    rng: br.draws.as_ref(),
                })
                .map_err(rt)?,
            None => eff,
        };
        self.limit_input(st, &input)?;
        let started = self.emit(br, "ParallelStateStarted", None);
        let start = self.now();
        let key = br.key;
        let futs: Vec<BoxFut<'_, (Result<Value, Failure>, SystemTime)>> = branches
            .iter()
            .enumerate()
            .map(
                |(i, b)| -> BoxFut<'_, (Result<Value, Failure>, SystemTime)> {
                    let input = input.clone();
                    Box::pin(async move {
                        let mut child = Branch::new(
                            started,
                            None,
                            hash64(&[key, 1, i as u64]),
                            self.engine.inner.seeded(),
                        );
                        child.parallel = true;
                        if self.virtual_time {
                            let (r, end) =
                                fleetshift_clock::scope(start, self.run_body(b, input, &mut child))
                                    .await;
                            (r, end)
                        } else {
                            (self.run_body(b, input, &mut child).await, SystemTime::now())
                        }
                    })
                },
            )
            .collect();
        let results = self.in_order(futs, branches.len().max(1), start).await?;
        self.emit(br, "ParallelStateSucceeded", None);
        self.finish(st, raw, ctx, Value::Array(results), entered, br)
    }
}
