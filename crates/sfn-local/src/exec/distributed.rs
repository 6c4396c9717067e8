//! The Distributed Map: each item (or batch of items) runs as a child execution of its own, and
//! a failure threshold decides whether the map run fails.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::map::{Slots, width};
use super::{BoxFut, Branch, Failure, PAYLOAD_LIMIT, Run, run_execution, shown};
use crate::definition::{Definition, FixedOrPath, MapSpec, State};
use crate::engine::ExecutionStatus;
use crate::path::{Query, Scope};

/// The map run's failure threshold, resolved when the state runs.
struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    fn resolve(
        spec: &MapSpec,
        scope: &Scope<'_>,
        rt: impl Fn(String) -> Failure + Copy,
    ) -> Result<Self, Failure> {
        let count = match &spec.tolerated_count {
            None => None,
            Some(FixedOrPath::Fixed(n)) => Some(*n),
            Some(FixedOrPath::Path(q)) => {
                let n = path_integer(q, "ToleratedFailureCountPath", scope, rt)?;
                if n < 0 {
                    return Err(rt("ToleratedFailureCount cannot be negative.".into()));
                }
                Some(n as u64)
            }
        };
        let percentage = match &spec.tolerated_percentage {
            None => None,
            Some(FixedOrPath::Fixed(p)) => Some(*p),
            Some(FixedOrPath::Path(q)) => {
                let v = q.eval(scope).map_err(rt)?;
                let p = match &v {
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    v => v.as_f64(),
                };
                match p {
                    Some(p) if !(0.0..=100.0).contains(&p) => {
                        return Err(rt(
                            "ToleratedFailurePercentage must be between 0 and 100.".into()
                        ));
                    }
                    Some(p) => Some(p),
                    None => {
                        return Err(rt(format!(
                            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid number: {}",
                            shown(&v),
                            q.text()
                        )));
                    }
                }
            }
        };
        Ok(Self { count, percentage })
    }

    /// Whether `failed` of `n` children are tolerated. With both thresholds set, exceeding
    /// either one fails the run; with neither, any failure does.
    fn allows(&self, failed: usize, n: usize) -> bool {
        let by_count = self.count.map(|c| failed as u64 <= c);
        let by_pct = self
            .percentage
            .map(|p| n > 0 && (failed as f64) * 100.0 / (n as f64) <= p);
        match (by_count, by_pct) {
            (None, None) => failed == 0,
            (a, b) => a.unwrap_or(true) && b.unwrap_or(true),
        }
    }
}

/// The ItemBatcher resolved when the state runs.
struct Batching {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<Value>,
}

impl Batching {
    fn resolve(
        spec: &MapSpec,
        scope: &Scope<'_>,
        rt: impl Fn(String) -> Failure + Copy,
    ) -> Result<Option<Self>, Failure> {
        let Some(b) = &spec.batcher else {
            return Ok(None);
        };
        let limit = |which: &str, v: &Option<FixedOrPath<u64>>, max: u64| match v {
            None => Ok(None),
            Some(FixedOrPath::Fixed(n)) => Ok(Some(*n)),
            Some(FixedOrPath::Path(q)) => {
                let n = path_integer(q, &format!("{which}Path"), scope, rt)?;
                if n >= 1 && n as u64 <= max {
                    Ok(Some(n as u64))
                } else {
                    Err(rt(format!("{which} must be from 1 to {max}.")))
                }
            }
        };
        let max_items = limit("MaxItemsPerBatch", &b.max_items, i32::MAX as u64)?;
        let max_bytes = limit("MaxInputBytesPerBatch", &b.max_bytes, PAYLOAD_LIMIT as u64)?;
        let batch_input = match &b.batch_input {
            Some(t) => Some(t.eval(scope).map_err(rt)?),
            None => None,
        };
        Ok(Some(Self {
            max_items,
            max_bytes,
            batch_input,
        }))
    }
}

const THRESHOLD_EXCEEDED: &str = "The specified tolerated failure threshold was exceeded";

impl Run {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn distributed_map(
        &self,
        st: &State,
        spec: &MapSpec,
        items: Vec<Value>,
        eff: &Value,
        ctx: &Value,
        max: u64,
        br: &mut Branch,
        entered: u64,
        raw: &Value,
    ) -> Result<Value, Failure> {
        let rt = |m: String| self.runtime(&st.name, entered, m);
        let scope = Scope {
            input: eff,
            context: ctx,
            rng: br.draws.as_ref(),
        };
        let tolerance = Tolerance::resolve(spec, &scope, rt)?;
        let batching = Batching::resolve(spec, &scope, rt)?;
        let child_sm = self.start_map_run(st, spec, br);
        // Item selection, then batching.
        let mut inputs = self.select_items(st, spec, items, eff, ctx, br, entered)?;
        if let Some(b) = batching {
            inputs = batches(
                inputs,
                b.batch_input,
                b.max_items.unwrap_or(u64::MAX),
                b.max_bytes,
            )
            .map_err(rt)?;
            for b in &inputs {
                self.limit_input(st, b)?;
            }
        }
        let processor = Arc::new(Definition::from_body(spec.processor.clone()));
        let Some(results) = self
            .children(&child_sm, processor, inputs, max, &tolerance)
            .await
        else {
            self.emit(
                br,
                "MapRunFailed",
                Some((
                    "mapRunFailedEventDetails",
                    json!({
                        "error": "States.ExceedToleratedFailureThreshold",
                        "cause": THRESHOLD_EXCEEDED
                    }),
                )),
            );
            return Err(Failure::new(
                "States.ExceedToleratedFailureThreshold",
                Some(THRESHOLD_EXCEEDED.into()),
            ));
        };
        self.emit(br, "MapRunSucceeded", None);
        self.emit(br, "MapStateSucceeded", None);
        self.finish(st, raw, ctx, Value::Array(results), entered, br)
    }

    /// Records MapRunStarted; returns the ARN the children's state machine goes by.
    fn start_map_run(&self, st: &State, spec: &MapSpec, br: &mut Branch) -> String {
        let label = spec.label.clone().unwrap_or_else(|| st.name.clone());
        let sm_name = self.rec.sm_arn.rsplit(':').next().unwrap_or_default();
        let run_id = crate::intrinsics::uuid_v4();
        let region = &self.engine.inner.region;
        let account = &self.engine.inner.account;
        let map_run_arn =
            format!("arn:aws:states:{region}:{account}:mapRun:{sm_name}/{label}:{run_id}");
        let child_sm = format!("{}/{label}", self.rec.sm_arn);
        self.emit(
            br,
            "MapRunStarted",
            Some((
                "mapRunStartedEventDetails",
                json!({"mapRunArn": map_run_arn}),
            )),
        );
        child_sm
    }

    /// Runs one child execution per input, at most `width(max, n)` at a time: their outputs
    /// (a failed child's error and cause in its place) in the inputs' order, or None when the
    /// failures exceed the threshold.
    async fn children(
        &self,
        child_sm: &str,
        processor: Arc<Definition>,
        inputs: Vec<Value>,
        max: u64,
        tolerance: &Tolerance,
    ) -> Option<Vec<Value>> {
        let n = inputs.len();
        let width = width(max, n);
        let start = self.now();
        let slots = Slots::new(start, width);
        let slots = &slots;
        let parent_arn = self.rec.arn.clone();
        type Child<'a> = BoxFut<'a, (usize, Result<Value, Failure>, SystemTime)>;
        let futs: Vec<Child<'_>> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| -> Child<'_> {
                let processor = processor.clone();
                let parent_arn = parent_arn.clone();
                Box::pin(async move {
                    let (k, t0) = slots.take(start);
                    let child = self.child_execution(child_sm, processor, input, parent_arn);
                    let (r, end) = if self.virtual_time {
                        fleetshift_clock::scope(t0, child).await
                    } else {
                        (child.await, SystemTime::now())
                    };
                    slots.free(k, end);
                    (i, r, end)
                })
            })
            .collect();
        // Children end in any order: a failure counts as soon as it happens, not after every
        // earlier item's child has ended. The output keeps the items' order.
        let mut stream = futures_util::stream::iter(futs).buffer_unordered(width);
        let mut results: Vec<Value> = vec![Value::Null; n];
        let mut failed = 0;
        let mut end_max = start;
        let mut over = false;
        while let Some((i, r, end)) = stream.next().await {
            end_max = end_max.max(end);
            match r {
                Ok(v) => results[i] = v,
                Err(f) => {
                    results[i] = json!({"Error": f.error, "Cause": f.cause});
                    failed += 1;
                    if !tolerance.allows(failed, n) {
                        over = true;
                        break;
                    }
                }
            }
        }
        drop(stream);
        if self.virtual_time {
            fleetshift_clock::advance_to(end_max);
        }
        (!over).then_some(results)
    }

    /// One child execution of the map run, to its end.
    async fn child_execution(
        &self,
        child_sm: &str,
        processor: Arc<Definition>,
        input: Value,
        parent_arn: String,
    ) -> Result<Value, Failure> {
        let (rec, _) = self
            .engine
            .create_record(child_sm, None, input, Some(parent_arn))
            .map_err(|e| Failure::new("States.Runtime", Some(e.to_string())))?;
        run_execution(self.engine.clone(), processor, rec.clone()).await;
        let d = rec.describe();
        match d.status {
            ExecutionStatus::Succeeded => Ok(d.output.unwrap_or(Value::Null)),
            _ => Err(Failure {
                error: d.error,
                cause: d.cause,
                exec_timeout: false,
                runtime_in_state: false,
                named_only: false,
            }),
        }
    }
}

/// Groups items into child inputs `{"BatchInput": ..., "Items": [...]}` of at most `max_items`
/// items and, when given, `max_bytes` bytes of JSON text each.
fn batches(
    items: Vec<Value>,
    batch_input: Option<Value>,
    max_items: u64,
    max_bytes: Option<u64>,
) -> Result<Vec<Value>, String> {
    let wrap = |items: Vec<Value>| {
        let mut m = Map::new();
        if let Some(b) = &batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(items));
        Value::Object(m)
    };
    let len = |v: &Value| serde_json::to_string(v).map(|s| s.len()).unwrap_or(0);
    let empty = len(&wrap(Vec::new()));
    let mut out = Vec::new();
    let mut batch: Vec<Value> = Vec::new();
    let mut size = empty;
    for item in items {
        let item_len = max_bytes.map(|_| len(&item)).unwrap_or(0);
        if let Some(m) = max_bytes
            && (empty + item_len) as u64 > m
        {
            return Err(format!(
                "An item of the Map state is {} bytes in a batch, over MaxInputBytesPerBatch ({m}).",
                empty + item_len
            ));
        }
        // a comma before every item but the first
        let too_big = max_bytes.is_some_and(|m| (size + 1 + item_len) as u64 > m);
        if !batch.is_empty() && (batch.len() as u64 >= max_items || too_big) {
            out.push(wrap(std::mem::take(&mut batch)));
            size = empty;
        }
        size += item_len + usize::from(!batch.is_empty());
        batch.push(item);
    }
    if !batch.is_empty() {
        out.push(wrap(batch));
    }
    Ok(out)
}

/// The integer a Distributed Map's `field` (a `...Path`) selects: a number, or a numeric
/// string, as AWS reads it.
fn path_integer(
    q: &Query,
    field: &str,
    scope: &Scope<'_>,
    rt: impl Fn(String) -> Failure,
) -> Result<i64, Failure> {
    let v = q.eval(scope).map_err(&rt)?;
    let n = match &v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        v => v.as_i64(),
    };
    n.ok_or_else(|| {
        rt(format!(
            "The {field} field refers to value \"{}\" which is not a valid integer: {}",
            shown(&v),
            q.text()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_by_count_and_by_bytes() {
        let items: Vec<Value> = (1..=5).map(|i| json!(i)).collect();
        let b = batches(items.clone(), None, 2, None).unwrap();
        assert_eq!(
            b,
            [
                json!({"Items": [1, 2]}),
                json!({"Items": [3, 4]}),
                json!({"Items": [5]})
            ]
        );
        // {"BatchInput":{"k":1},"Items":[1,2,3]} is 38 bytes; [1,2,3,4] would be 40
        let with = Some(json!({"k": 1}));
        assert_eq!(r#"{"BatchInput":{"k":1},"Items":[1,2,3]}"#.len(), 38);
        let b = batches(items.clone(), with.clone(), u64::MAX, Some(39)).unwrap();
        assert_eq!(
            b,
            [
                json!({"BatchInput": {"k": 1}, "Items": [1, 2, 3]}),
                json!({"BatchInput": {"k": 1}, "Items": [4, 5]})
            ]
        );
        // both limits: whichever is reached first
        let b = batches(items.clone(), with.clone(), 2, Some(39)).unwrap();
        assert_eq!(b.len(), 3);
        // an item that cannot fit even alone
        assert!(batches(vec![json!("x".repeat(40))], None, 10, Some(30)).is_err());
    }
}
