//! The inline Map state: one iteration per item on the state's own history, at most
//! MaxConcurrency at a time. Its slots are shared with the Distributed Map.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{BoxFut, Branch, Failure, Run, hash64, shown};
use crate::definition::{Body, MapSpec, MaxConcurrency, State};
use crate::path::Scope;

/// When each of a Map's MaxConcurrency slots frees: an iteration (or child execution) starts
/// when the first slot frees, on its own branch of time.
pub(super) struct Slots(Mutex<Vec<SystemTime>>);

impl Slots {
    pub(super) fn new(start: SystemTime, width: usize) -> Self {
        Self(Mutex::new(vec![start; width]))
    }

    /// Takes the slot that frees first: its index and when it frees.
    pub(super) fn take(&self, start: SystemTime) -> (usize, SystemTime) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (k, _) = s
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .unwrap_or((0, &start));
        let t = s[k];
        s[k] = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4); // taken
        (k, t)
    }

    /// Slot `k` frees at `end`.
    pub(super) fn free(&self, k: usize, end: SystemTime) {
        self.0.lock().unwrap_or_else(|e| e.into_inner())[k] = end;
    }
}

/// How many of `n` items run at once under MaxConcurrency `max` (0: all of them).
pub(super) fn width(max: u64, n: usize) -> usize {
    if max == 0 {
        n.max(1)
    } else {
        (max as usize).min(n.max(1))
    }
}

impl Run {
    pub(super) async fn map_attempt(
        &self,
        st: &State,
        spec: &MapSpec,
        raw: &Value,
        ctx: &Value,
        br: &mut Branch,
        entered: u64,
    ) -> Result<Value, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let eff = st.input_path.apply(raw, ctx).map_err(rt)?;
        let items = spec.items_path.apply(&eff, ctx).map_err(rt)?;
        let Value::Array(items) = items else {
            return Err(rt(format!(
                "Items of the Map state must be a JSON array; ItemsPath selected {}",
                match &items {
                    Value::Object(_) => "an object",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            )));
        };
        let max = match &spec.max_concurrency {
            MaxConcurrency::Fixed(n) => *n,
            MaxConcurrency::Path(q) => {
                let v = q
                    .eval(&Scope {
                        input: &eff,
                        context: ctx,
                        rng: br.draws.as_ref(),
                    })
                    .map_err(rt)?;
                match v.as_u64() {
                    Some(n) if n <= i32::MAX as u64 => n,
                    _ => {
                        return Err(rt(format!(
                            "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                            shown(&v),
                            q.text()
                        )));
                    }
                }
            }
        };
        let started = self.emit(
            br,
            "MapStateStarted",
            Some((
                "mapStateStartedEventDetails",
                json!({"length": items.len()}),
            )),
        );
        if spec.distributed {
            return self
                .distributed_map(st, spec, items, &eff, ctx, max, br, entered, raw)
                .await;
        }
        let inputs = self.select_items(st, spec, items, &eff, ctx, br, entered)?;
        let results = self
            .iterations(st, &spec.processor, inputs, max, started, br.key)
            .await?;
        self.emit(br, "MapStateSucceeded", None);
        self.finish(st, raw, ctx, Value::Array(results), entered, br)
    }

    /// Runs every iteration, at most `width(max, n)` at a time; their outputs in the items'
    /// order, or the first failure in that order.
    async fn iterations(
        &self,
        st: &State,
        processor: &Body,
        inputs: Vec<Value>,
        max: u64,
        started: u64,
        key: u64,
    ) -> Result<Vec<Value>, Failure> {
        let n = inputs.len();
        let width = width(max, n);
        let start = self.now();
        let slots = Slots::new(start, width);
        let slots = &slots;
        let name = st.name.as_str();
        let futs: Vec<BoxFut<'_, (Result<Value, Failure>, SystemTime)>> = inputs
            .into_iter()
            .enumerate()
            .map(
                |(i, input)| -> BoxFut<'_, (Result<Value, Failure>, SystemTime)> {
                    Box::pin(async move {
                        // A slot frees when an earlier iteration ends: start at that time.
                        // Unbounded (or wide enough): every iteration starts now, one slot each.
                        let (k, t0) = if width >= n {
                            (i, start)
                        } else {
                            slots.take(start)
                        };
                        let child = Branch::new(
                            started,
                            Some((i, input.clone())),
                            hash64(&[key, 2, i as u64]),
                            self.engine.inner.seeded(),
                        );
                        let run = self.iteration(processor, name, i, input, child);
                        let (r, end) = if self.virtual_time {
                            fleetshift_clock::scope(t0, run).await
                        } else {
                            (run.await, SystemTime::now())
                        };
                        slots.free(k, end);
                        (r, end)
                    })
                },
            )
            .collect();
        self.in_order(futs, width, start).await
    }

    /// One iteration on its own branch, between its MapIteration events.
    async fn iteration(
        &self,
        processor: &Body,
        name: &str,
        i: usize,
        input: Value,
        mut child: Branch,
    ) -> Result<Value, Failure> {
        let d = json!({"index": i, "name": name});
        self.emit(
            &mut child,
            "MapIterationStarted",
            Some(("mapIterationStartedEventDetails", d.clone())),
        );
        let r = self.run_body(processor, input, &mut child).await;
        match &r {
            Ok(_) => {
                self.emit(
                    &mut child,
                    "MapIterationSucceeded",
                    Some(("mapIterationSucceededEventDetails", d)),
                );
            }
            Err(f) if !f.exec_timeout => {
                self.emit(
                    &mut child,
                    "MapIterationFailed",
                    Some(("mapIterationFailedEventDetails", d)),
                );
            }
            Err(_) => {}
        }
        r
    }

    /// Each iteration's input: the item, or the ItemSelector evaluated with `$$.Map.Item`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn select_items(
        &self,
        st: &State,
        spec: &MapSpec,
        items: Vec<Value>,
        eff: &Value,
        ctx: &Value,
        br: &Branch,
        entered: u64,
    ) -> Result<Vec<Value>, Failure> {
        let Some(t) = &spec.item_selector else {
            return Ok(items);
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let mut c = ctx.clone();
            if let Value::Object(m) = &mut c {
                m.insert("Map".into(), json!({"Item": {"Index": i, "Value": item}}));
            }
            let input = t
                .eval(&Scope {
                    input: eff,
                    context: &c,
                    rng: br.draws.as_ref(),
                })
                .map_err(|m| self.runtime(&st.name, entered, m))?;
            self.limit_input(st, &input)?;
            inputs.push(input);
        }
        Ok(inputs)
    }
}
