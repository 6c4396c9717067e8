//! The Map state: its item processor (inline or distributed), concurrency, and the Distributed
//! Map's failure threshold and ItemBatcher.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Body, DefinitionError, check_fields, err, parse_body, path_sel, string_field, template,
};
use crate::path::{PathSel, Query, Template};

#[derive(Debug)]
pub(crate) enum MaxConcurrency {
    Fixed(u64),
    Path(Query),
}

/// A Distributed Map's failure threshold or batch limit: fixed, or read from the input when the
/// state runs.
#[derive(Debug)]
pub(crate) enum FixedOrPath<T> {
    Fixed(T),
    Path(Query),
}

/// How a Distributed Map groups items into one child execution's input
/// (`{"BatchInput": ..., "Items": [...]}`).
#[derive(Debug)]
pub(crate) struct ItemBatcher {
    pub(crate) max_items: Option<FixedOrPath<u64>>,
    pub(crate) max_bytes: Option<FixedOrPath<u64>>,
    pub(crate) batch_input: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct MapSpec {
    pub(crate) processor: Arc<Body>,
    pub(crate) distributed: bool,
    pub(crate) items_path: PathSel,
    pub(crate) item_selector: Option<Template>,
    pub(crate) max_concurrency: MaxConcurrency,
    pub(crate) tolerated_percentage: Option<FixedOrPath<f64>>,
    pub(crate) tolerated_count: Option<FixedOrPath<u64>>,
    pub(crate) batcher: Option<ItemBatcher>,
    pub(crate) label: Option<String>,
}

pub(super) fn parse_map(full: &str, o: &Map<String, Value>) -> Result<MapSpec, DefinitionError> {
    let (po, distributed) = processor_object(full, o)?;
    if o.contains_key("ItemReader") {
        return Err(err(
            full,
            "ItemReader (items from S3) is not supported: pass the items in the input",
        ));
    }
    if o.contains_key("ResultWriter") {
        return Err(err(full, "ResultWriter is not supported"));
    }
    let processor = Arc::new(parse_body(po, &format!("{full}/ItemProcessor"))?);
    let max_concurrency = max_concurrency(full, o)?;
    let (tolerated_percentage, tolerated_count) = tolerance(full, o)?;
    if !distributed
        && (tolerated_count.is_some()
            || tolerated_percentage.is_some()
            || o.contains_key("ItemBatcher"))
    {
        return Err(err(
            full,
            "ToleratedFailure* and ItemBatcher need ProcessorConfig.Mode DISTRIBUTED",
        ));
    }
    let batcher = match o.get("ItemBatcher") {
        None => None,
        Some(Value::Object(b)) => Some(parse_item_batcher(full, b)?),
        Some(_) => return Err(err(full, "ItemBatcher must be an object")),
    };
    let item_selector = match template(full, o, "ItemSelector")? {
        Some(t) => Some(t),
        None => template(full, o, "Parameters")?,
    };
    Ok(MapSpec {
        processor,
        distributed,
        items_path: path_sel(full, o, "ItemsPath", false)?,
        item_selector,
        max_concurrency,
        tolerated_percentage,
        tolerated_count,
        batcher,
        label: string_field(full, o, "Label")?,
    })
}

/// The ItemProcessor (or Iterator) object, and whether its mode is DISTRIBUTED.
fn processor_object<'a>(
    full: &str,
    o: &'a Map<String, Value>,
) -> Result<(&'a Map<String, Value>, bool), DefinitionError> {
    let proc_v = match (o.get("ItemProcessor"), o.get("Iterator")) {
        (Some(_), Some(_)) => {
            return Err(err(
                full,
                "ItemProcessor and Iterator are mutually exclusive",
            ));
        }
        (Some(p), None) | (None, Some(p)) => p,
        (None, None) => return Err(err(full, "ItemProcessor (or Iterator) is required")),
    };
    let po = proc_v
        .as_object()
        .ok_or_else(|| err(full, "ItemProcessor must be an object"))?;
    let p = format!("{full}/ItemProcessor");
    check_fields(&p, po, &["StartAt", "States", "Comment", "ProcessorConfig"])?;
    let mut distributed = false;
    if let Some(cfg) = po.get("ProcessorConfig") {
        match cfg.get("Mode").and_then(Value::as_str) {
            None | Some("INLINE") => {}
            Some("DISTRIBUTED") => distributed = true,
            Some(m) => {
                return Err(err(
                    full,
                    format!("ProcessorConfig.Mode '{m}' is not INLINE or DISTRIBUTED"),
                ));
            }
        }
    }
    Ok((po, distributed))
}

fn max_concurrency(full: &str, o: &Map<String, Value>) -> Result<MaxConcurrency, DefinitionError> {
    Ok(
        match (o.get("MaxConcurrency"), o.get("MaxConcurrencyPath")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    full,
                    "MaxConcurrency and MaxConcurrencyPath are mutually exclusive",
                ));
            }
            (Some(v), None) => MaxConcurrency::Fixed(
                v.as_u64()
                    .ok_or_else(|| err(full, "MaxConcurrency must be a non-negative integer"))?,
            ),
            (None, Some(Value::String(s))) => MaxConcurrency::Path(
                Query::parse(s, false)
                    .map_err(|e| err(full, format!("MaxConcurrencyPath: {e}")))?,
            ),
            (None, Some(_)) => return Err(err(full, "MaxConcurrencyPath must be a string")),
            (None, None) => MaxConcurrency::Fixed(0),
        },
    )
}

/// A Distributed Map's ToleratedFailurePercentage and ToleratedFailureCount, fixed or Path.
fn tolerance(full: &str, o: &Map<String, Value>) -> Result<Tolerance, DefinitionError> {
    let tolerance_path = |k: &str| -> Result<Option<Query>, DefinitionError> {
        match o.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Query::parse(s, false)
                .map(Some)
                .map_err(|e| err(full, format!("{k}: {e}"))),
            Some(_) => Err(err(full, format!("{k} must be a string"))),
        }
    };
    let tolerated_percentage = match (
        o.get("ToleratedFailurePercentage"),
        tolerance_path("ToleratedFailurePercentagePath")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(err(
                full,
                "ToleratedFailurePercentage and ToleratedFailurePercentagePath are mutually exclusive",
            ));
        }
        (Some(v), None) => Some(FixedOrPath::Fixed(
            v.as_f64()
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| {
                    err(
                        full,
                        "ToleratedFailurePercentage must be a number from 0 to 100",
                    )
                })?,
        )),
        (None, Some(q)) => Some(FixedOrPath::Path(q)),
        (None, None) => None,
    };
    let tolerated_count = match (
        o.get("ToleratedFailureCount"),
        tolerance_path("ToleratedFailureCountPath")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(err(
                full,
                "ToleratedFailureCount and ToleratedFailureCountPath are mutually exclusive",
            ));
        }
        (Some(v), None) => Some(FixedOrPath::Fixed(v.as_u64().ok_or_else(|| {
            err(full, "ToleratedFailureCount must be a non-negative integer")
        })?)),
        (None, Some(q)) => Some(FixedOrPath::Path(q)),
        (None, None) => None,
    };
    Ok((tolerated_percentage, tolerated_count))
}

type Tolerance = (Option<FixedOrPath<f64>>, Option<FixedOrPath<u64>>);

fn parse_item_batcher(full: &str, b: &Map<String, Value>) -> Result<ItemBatcher, DefinitionError> {
    check_fields(
        &format!("{full}/ItemBatcher"),
        b,
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
    )?;
    let limit = |k: &str, max: u64| -> Result<Option<FixedOrPath<u64>>, DefinitionError> {
        let kp = format!("{k}Path");
        match (b.get(k), b.get(&kp)) {
            (Some(_), Some(_)) => Err(err(
                full,
                format!("ItemBatcher: {k} and {kp} are mutually exclusive"),
            )),
            (Some(v), None) => Ok(Some(FixedOrPath::Fixed(
                v.as_u64()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        err(
                            full,
                            format!("ItemBatcher: {k} must be an integer from 1 to {max}"),
                        )
                    })?,
            ))),
            (None, Some(Value::String(p))) => Ok(Some(FixedOrPath::Path(
                Query::parse(p, false).map_err(|e| err(full, format!("ItemBatcher: {kp}: {e}")))?,
            ))),
            (None, Some(_)) => Err(err(full, format!("ItemBatcher: {kp} must be a string"))),
            (None, None) => Ok(None),
        }
    };
    let max_items = limit("MaxItemsPerBatch", i32::MAX as u64)?;
    let max_bytes = limit("MaxInputBytesPerBatch", 262_144)?;
    if max_items.is_none() && max_bytes.is_none() {
        return Err(err(
            full,
            "ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)",
        ));
    }
    Ok(ItemBatcher {
        max_items,
        max_bytes,
        batch_input: template(full, b, "BatchInput")?,
    })
}
