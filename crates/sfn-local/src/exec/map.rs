//! The inline Map state: one iteration per item on the state's own history, at most
//! MaxConcurrency at a time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{BoxFut, Branch, Failure, Run, hash64};
use crate::definition::{MapSpec, MaxConcurrency, State};
use crate::path::Scope;

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
                        let shown = match &v {
                            Value::String(s) => s.clone(),
                            o => o.to_string(),
                        };
                        return Err(rt(format!(
                            "The MaxConcurrencyPath field refers to value \"{shown}\" which is not a valid integer: {}",
                            q.text()
                        )));
                    }
                }
            }
        };
        let n = items.len();
        let started = self.emit(
            br,
            "MapStateStarted",
            Some(("mapStateStartedEventDetails", json!({"length": n}))),
        );
        if spec.distributed {
            return self
                .distributed_map(st, spec, items, &eff, ctx, max, br, entered, raw)
                .await;
        }
        let inputs = self.select_items(st, spec, items, &eff, ctx, br, entered)?;
        let width = if max == 0 {
            n.max(1)
        } else {
            (max as usize).min(n.max(1))
        };
        let start = self.now();
        let slots = Mutex::new(vec![start; width]);
        let key = br.key;
        let name = st.name.as_str();
        let processor = &spec.processor;
        let slots_ref = &slots;
        let futs: Vec<BoxFut<'_, (Result<Value, Failure>, SystemTime)>> = inputs
            .into_iter()
            .enumerate()
            .map(
                |(i, input)| -> BoxFut<'_, (Result<Value, Failure>, SystemTime)> {
                    Box::pin(async move {
                        // A slot frees when an earlier iteration ends: start at that time.
                        // Unbounded (or wide enough): every iteration starts now, one slot each.
                        let t0 = if width >= n {
                            (i, start)
                        } else {
                            let mut s = slots_ref.lock().unwrap_or_else(|e| e.into_inner());
                            let (k, _) = s
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, t)| **t)
                                .unwrap_or((0, &start));
                            let t = s[k];
                            s[k] = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4); // taken
                            (k, t)
                        };
                        let run = async {
                            let mut child = Branch::new(
                                started,
                                Some((i, input.clone())),
                                hash64(&[key, 2, i as u64]),
                                self.engine.inner.seeded(),
                            );
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
                        };
                        let (r, end) = if self.virtual_time {
                            fleetshift_clock::scope(t0.1, run).await
                        } else {
                            (run.await, SystemTime::now())
                        };
                        slots_ref.lock().unwrap_or_else(|e| e.into_inner())[t0.0] = end;
                        (r, end)
                    })
                },
            )
            .collect();
        let mut stream = futures_util::stream::iter(futs).buffered(width);
        let mut results = Vec::with_capacity(n);
        let mut failure = None;
        let mut end_max = start;
        while let Some((r, end)) = stream.next().await {
            end_max = end_max.max(end);
            match r {
                Ok(v) => results.push(v),
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        drop(stream);
        if self.virtual_time {
            fleetshift_clock::advance_to(end_max);
        }
        if let Some(f) = failure {
            return Err(f);
        }
        self.emit(br, "MapStateSucceeded", None);
        self.finish(st, raw, ctx, Value::Array(results), entered, br)
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
