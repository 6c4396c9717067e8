//! Virtual time across Distributed Map children: the parent resumes when its children end.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use sfn_local::{Definition, Engine, ExecutionStatus};

#[tokio::test]
async fn distributed_map_parent_waits_for_its_children_on_virtual_time() {
    let def = Arc::new(
        Definition::parse(
            r#"{"StartAt":"Items","States":{"Items":{"Type":"Map","ItemsPath":"$.items",
                "MaxConcurrency":2,
                "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
                  "StartAt":"Sleep","States":{"Sleep":{"Type":"Wait","Seconds":3600,"End":true}}},
                "End":true}}}"#,
        )
        .unwrap(),
    );
    let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let engine = Engine::builder().virtual_clock(start).build();
    let sm = engine.state_machine_arn("dmap");
    let done = engine
        .run(def, &sm, Some("t"), json!({"items": [1, 2, 3, 4]}))
        .await
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    // Four one-hour children, two at a time: two hours.
    let took = done
        .stop_date
        .unwrap()
        .duration_since(done.start_date)
        .unwrap();
    assert_eq!(took, Duration::from_secs(2 * 3600));
}
