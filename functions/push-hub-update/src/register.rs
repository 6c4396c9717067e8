//! `register` (state `Register`): validates the plan, against the rules of the plan and against
//! what this stack's roles may do, registers every item with Migration Hub when the wave uses it,
//! and publishes `Wave Registered`.

use std::collections::{HashMap, HashSet};

use fleetshift_core::contract::{
    HubRef, HubStatus, RegisteredBot, RegisteredWorkspace, WaveRegistered,
};
use fleetshift_core::plan::{self, Polling};
use fleetshift_core::{Plan, Violations, events};
use tracing::{info, warn};

use crate::contract::{RegisterInput, RegisterOutput};
use crate::eventbridge::{json_len, publish, split_lists};
use crate::{BACKOFF_ALLOWANCE_SECONDS, BOT_CONCURRENCY, Deps, Error, Settings, hub};

pub(crate) async fn register(input: RegisterInput, deps: &Deps) -> Result<RegisterOutput, Error> {
    let plan = Plan::parse(&input.plan).map_err(Error::InvalidInput)?;
    check_against_stack(&plan, deps).map_err(Error::InvalidInput)?;
    let mut hub = HubRef {
        enabled: plan.hub_enabled(deps.settings.hub_enabled),
        home_region: plan
            .hub
            .home_region
            .clone()
            .or_else(|| deps.default_home_region()),
        progress_update_stream: plan.hub.progress_update_stream.clone(),
        next_update_seconds: Some(next_update_seconds(&plan.polling)),
    };
    let tasks = task_names(&plan);
    // Migration Hub never fails the wave (it is optional; events are the sink of record): each
    // item is registered or not, and the event says which. The wave keeps using the Hub when any
    // task is registered; an item left unregistered is imported by its first update
    // (`notify_or_import`), which needs no per-item state carried through the state machine and
    // gives the Hub a second chance once the throttling has passed. When no task could be
    // registered the Hub is off for the wave: calling it again for every update would only slow
    // each item's reporting.
    let (hub_status, hub_error, unregistered) = if hub.enabled {
        let reg =
            hub::register_in_hub(&hub, &tasks, not_started_next_update_seconds(&plan), deps).await;
        let registered = reg.registered(tasks.len());
        let error = reg.error().map(ToString::to_string);
        if reg.unregistered.is_empty() {
            info!(wave_id = %plan.wave_id, tasks = tasks.len(), "registered in Migration Hub");
        } else {
            warn!(
                wave_id = %plan.wave_id,
                registered,
                unregistered = reg.unregistered.len(),
                error = error.as_deref().unwrap_or_default(),
                "Migration Hub registration incomplete: those items report to EventBridge until their first update registers them"
            );
        }
        let status = if registered == 0 && !tasks.is_empty() {
            hub.enabled = false;
            HubStatus::Unavailable
        } else {
            HubStatus::Registered
        };
        let unregistered: HashMap<String, String> = reg
            .unregistered
            .into_iter()
            .map(|(t, e)| (t, e.kind.error_type().to_owned()))
            .collect();
        (status, error, Some(unregistered))
    } else {
        (HubStatus::Disabled, None, None)
    };
    // Per item: absent when the wave does not use the Hub.
    let in_hub = |task: &str| {
        unregistered
            .as_ref()
            .map(|u| (!u.contains_key(task), u.get(task).cloned()))
    };

    let workspaces: Vec<RegisteredWorkspace> = plan
        .workspaces
        .iter()
        .map(|w| {
            let task_name = plan::workspace_task_name(&plan.wave_id, &w.workspace_id);
            let hub = in_hub(&task_name);
            RegisteredWorkspace {
                workspace_id: w.workspace_id.clone(),
                bundle_id: w.bundle_id.clone(),
                hub_registered: hub.as_ref().map(|h| h.0),
                hub_error_type: hub.and_then(|h| h.1),
                task_name,
            }
        })
        .collect();
    let bots: Vec<RegisteredBot> = plan
        .lex_bots
        .iter()
        .map(|b| {
            let task_name = plan::bot_task_name(&plan.wave_id, &b.v1_bot_name, &b.v1_bot_version);
            let hub = in_hub(&task_name);
            RegisteredBot {
                v1_bot_name: b.v1_bot_name.clone(),
                v1_bot_version: b.v1_bot_version.clone(),
                hub_registered: hub.as_ref().map(|h| h.0),
                hub_error_type: hub.and_then(|h| h.1),
                task_name,
            }
        })
        .collect();
    let event = |workspaces, lex_bots, part, parts| WaveRegistered {
        wave_id: plan.wave_id.clone(),
        execution_name: input
            .execution_name
            .clone()
            .unwrap_or_else(|| plan.execution_name(&input.plan)),
        hub: hub.clone(),
        hub_status,
        hub_error: hub_error.clone(),
        workspaces,
        lex_bots,
        part,
        parts,
    };
    let base = json_len(&event(Vec::new(), Vec::new(), 1, 1));
    let parts = split_lists(base, workspaces, bots);
    let count = parts.len();
    let details: Vec<WaveRegistered> = parts
        .into_iter()
        .enumerate()
        .map(|(i, (w, b))| event(w, b, i + 1, count))
        .collect();
    publish(deps, events::WAVE_REGISTERED, &details).await?;

    Ok(RegisterOutput {
        plan,
        hub,
        hub_status,
        hub_error,
    })
}

/// `NextUpdateSeconds` for a wave: after that long without an update Migration Hub shows a task
/// as stale, so it must exceed the longest time a healthy task goes without a report, plus the
/// state machine's retry backoff. A task is silent while it waits: for the BYOL image import
/// (NOT_STARTED, up to the image deadline plus one poll), for its migration (IN_PROGRESS, up to the
/// migration or bot deadline plus one poll, since the poll that notices the deadline comes after
/// it), and between any two polls.
pub fn next_update_seconds(p: &Polling) -> u32 {
    let longest_poll = p
        .migration_first_check_seconds
        .max(p.migration_interval_seconds)
        .max(p.image_poll_seconds)
        .max(p.bot_poll_seconds);
    let waits = [
        longest_poll,
        p.image_deadline_minutes
            .saturating_mul(60)
            .saturating_add(p.image_poll_seconds),
        p.migration_deadline_minutes
            .saturating_mul(60)
            .saturating_add(p.migration_interval_seconds),
        p.bot_deadline_minutes
            .saturating_mul(60)
            .saturating_add(p.bot_poll_seconds),
    ];
    let longest = waits.into_iter().max().unwrap_or(longest_poll);
    longest
        .saturating_add(BACKOFF_ALLOWANCE_SECONDS)
        .min(i32::MAX as u32)
}

/// `NextUpdateSeconds` of the NOT_STARTED report `register` makes for every item: the last item of
/// the wave waits that long before its first update, so none shows as stale while it queues. The
/// wave waits on the image gate, then runs its WorkSpaces `maxConcurrency` at a time (each taking
/// up to the migration deadline plus one poll), then its Lex bots two at a time.
pub fn not_started_next_update_seconds(plan: &Plan) -> u32 {
    let p = &plan.polling;
    let rounds = |items: usize, at_once: u32| (items as u64).div_ceil(u64::from(at_once.max(1)));
    let image = if plan.image.is_some() {
        u64::from(p.image_deadline_minutes) * 60 + u64::from(p.image_poll_seconds)
    } else {
        0
    };
    let workspaces = rounds(plan.workspaces.len(), plan.max_concurrency)
        * (u64::from(p.migration_deadline_minutes) * 60 + u64::from(p.migration_interval_seconds));
    let bots = rounds(plan.lex_bots.len(), BOT_CONCURRENCY)
        * (u64::from(p.bot_deadline_minutes) * 60 + u64::from(p.bot_poll_seconds));
    let queued = image + workspaces + bots + u64::from(BACKOFF_ALLOWANCE_SECONDS);
    queued
        .max(u64::from(next_update_seconds(p)))
        .min(i32::MAX as u64) as u32
}

/// The task names of every item of a plan (ids only: no personal data).
fn task_names(plan: &Plan) -> Vec<String> {
    let ws = plan
        .workspaces
        .iter()
        .map(|w| plan::workspace_task_name(&plan.wave_id, &w.workspace_id));
    let bots = plan
        .lex_bots
        .iter()
        .map(|b| plan::bot_task_name(&plan.wave_id, &b.v1_bot_name, &b.v1_bot_version));
    let mut seen = HashSet::new();
    ws.chain(bots).filter(|n| seen.insert(n.clone())).collect()
}

/// The plan against what this stack's roles may do, before any WorkSpace is touched: otherwise
/// every WorkSpace would migrate and only then every standby (or bot) fail with AccessDenied.
pub(crate) fn check_against_stack(plan: &Plan, deps: &Deps) -> Result<(), Violations> {
    let primary = deps.events.config().region().map(|r| r.as_ref().to_owned());
    stack_violations(plan, primary.as_deref(), &deps.settings).into_result()
}

/// Every rule the stack's parameters put on a plan (kept apart from the clients for tests).
fn stack_violations(plan: &Plan, primary: Option<&str>, settings: &Settings) -> Violations {
    let mut v = Violations::default();
    if let Some(standby) = &plan.standby {
        standby.check_region(
            "standby",
            primary,
            settings.standby_region.as_deref(),
            &mut v,
        );
        // create-standby's role may let WorkSpaces use only the stack's StandbyKmsKeyArn
        // (kms:CreateGrant and kms:DescribeKey on that key); any other key would fail on AWS.
        if let Some(key) = &standby.volume_encryption_key {
            match settings.standby_kms_key_arn.as_deref() {
                None => v.push(
                    "standby.volumeEncryptionKey",
                    "is not allowed: the stack has no StandbyKmsKeyArn, so create-standby may not use a KMS key (deploy with StandbyKmsKeyArn set to this key's ARN)",
                ),
                Some(allowed) if allowed != key => v.push(
                    "standby.volumeEncryptionKey",
                    format!(
                        "must be {allowed}, the stack's StandbyKmsKeyArn (the only key create-standby may use; give its full ARN) (is {key})"
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    if !plan.lex_bots.is_empty() && !settings.lex_migration_enabled {
        v.push(
            "lexBots",
            "must be empty: the stack's LexMigrationEnabled is false, so start-migration has no Lex permission (deploy with LexMigrationEnabled=true and LexV2BotRoleArn to migrate bots)",
        );
    } else {
        for (i, bot) in plan.lex_bots.iter().enumerate() {
            let field = format!("lexBots[{i}].v2BotRole");
            match settings.lex_v2_bot_role_arn.as_deref() {
                None => v.push(
                    field,
                    "is not allowed: the stack has no LexV2BotRoleArn, so start-migration may pass no role to Lex V2",
                ),
                Some(allowed) if allowed != bot.v2_bot_role => v.push(
                    field,
                    format!(
                        "must be {allowed}, the stack's LexV2BotRoleArn (the only role start-migration may pass to Lex V2) (is {})",
                        bot.v2_bot_role
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stack_plan(extra: serde_json::Value) -> Plan {
        let mut p = serde_json::json!({
            "waveId": "w1",
            "bundleId": "wsb-target0001",
            "workspaces": [{"workspaceId": "ws-abcd12345"}],
        });
        for (k, val) in extra.as_object().unwrap() {
            p[k] = val.clone();
        }
        Plan::parse(&p).unwrap()
    }

    fn rules_of(v: Violations) -> Vec<(String, String)> {
        v.0.into_iter().map(|x| (x.field, x.rule)).collect()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/LexV2";
    const KEY: &str = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn bot(role: &str) -> serde_json::Value {
        serde_json::json!([{"v1BotName": "OrderFlowers", "v1BotVersion": "$LATEST",
            "v2BotName": "OrderFlowersV2", "v2BotRole": role, "migrationStrategy": "CREATE_NEW"}])
    }

    #[test]
    fn lex_bots_are_refused_unless_the_stack_enables_lex_migration() {
        let plan = stack_plan(serde_json::json!({"lexBots": bot(ROLE)}));
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &Settings::default())),
            vec![(
                "lexBots".to_owned(),
                "must be empty: the stack's LexMigrationEnabled is false, so start-migration has no Lex permission (deploy with LexMigrationEnabled=true and LexV2BotRoleArn to migrate bots)".to_owned()
            )]
        );
        let enabled = Settings {
            lex_migration_enabled: true,
            lex_v2_bot_role_arn: Some(ROLE.to_owned()),
            ..Settings::default()
        };
        assert!(stack_violations(&plan, Some("us-east-1"), &enabled).is_empty());
    }

    #[test]
    fn only_the_stack_s_lex_v2_bot_role_may_be_passed() {
        let plan =
            stack_plan(serde_json::json!({"lexBots": bot("arn:aws:iam::123456789012:role/Admin")}));
        let enabled = Settings {
            lex_migration_enabled: true,
            lex_v2_bot_role_arn: Some(ROLE.to_owned()),
            ..Settings::default()
        };
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &enabled)),
            vec![(
                "lexBots[0].v2BotRole".to_owned(),
                "must be arn:aws:iam::123456789012:role/LexV2, the stack's LexV2BotRoleArn (the only role start-migration may pass to Lex V2) (is arn:aws:iam::123456789012:role/Admin)".to_owned()
            )]
        );
        let no_role = Settings {
            lex_migration_enabled: true,
            ..Settings::default()
        };
        assert_eq!(
            rules_of(stack_violations(&plan, Some("us-east-1"), &no_role))[0].1,
            "is not allowed: the stack has no LexV2BotRoleArn, so start-migration may pass no role to Lex V2"
        );
    }

    #[test]
    fn an_encrypted_standby_needs_the_stack_s_key() {
        let plan = |key: &str| {
            stack_plan(serde_json::json!({"standby": {"region": "us-west-2",
                "directoryId": "d-9267001234", "volumeEncryptionKey": key}}))
        };
        assert_eq!(
            rules_of(stack_violations(&plan(KEY), Some("us-east-1"), &Settings::default())),
            vec![(
                "standby.volumeEncryptionKey".to_owned(),
                "is not allowed: the stack has no StandbyKmsKeyArn, so create-standby may not use a KMS key (deploy with StandbyKmsKeyArn set to this key's ARN)".to_owned()
            )]
        );
        let with_key = Settings {
            standby_kms_key_arn: Some(KEY.to_owned()),
            ..Settings::default()
        };
        assert!(stack_violations(&plan(KEY), Some("us-east-1"), &with_key).is_empty());
        assert_eq!(
            rules_of(stack_violations(
                &plan("alias/other"),
                Some("us-east-1"),
                &with_key
            )),
            vec![(
                "standby.volumeEncryptionKey".to_owned(),
                format!(
                    "must be {KEY}, the stack's StandbyKmsKeyArn (the only key create-standby may use; give its full ARN) (is alias/other)"
                )
            )]
        );
    }

    #[test]
    fn next_update_outlasts_every_wait_plus_backoff() {
        // Default polling: the image gate is the longest wait, 240 minutes + one 5-minute poll,
        // plus the 30-minute backoff allowance.
        assert_eq!(next_update_seconds(&Polling::default()), 14_700 + 1_800);
        // A week-long image deadline.
        let slow_image = Polling {
            image_deadline_minutes: 7 * 24 * 60,
            ..Polling::default()
        };
        assert_eq!(next_update_seconds(&slow_image), 604_800 + 300 + 1_800);
        // A 10-hour migration deadline: 600 minutes + one 10-minute poll.
        let slow_migration = Polling {
            migration_deadline_minutes: 600,
            ..Polling::default()
        };
        assert_eq!(next_update_seconds(&slow_migration), 36_000 + 600 + 1_800);
        // A first check after 5 hours, longer than every deadline.
        let late_check = Polling {
            migration_first_check_seconds: 18_000,
            ..Polling::default()
        };
        assert_eq!(next_update_seconds(&late_check), 18_000 + 1_800);
        // Kept in Migration Hub's range.
        let endless = Polling {
            bot_deadline_minutes: u32::MAX,
            ..Polling::default()
        };
        assert_eq!(next_update_seconds(&endless), 2_147_483_647);
    }

    #[test]
    fn queued_items_are_registered_with_room_for_the_whole_queue() {
        let plan = |n: usize, image: bool| {
            let mut p = json!({
                "waveId": "w",
                "bundleId": "wsb-abcd12345",
                "workspaces": (0..n).map(|i| json!({"workspaceId": format!("ws-{i:010}")})).collect::<Vec<_>>(),
            });
            if image {
                p["image"] = json!({"imageId": "wsi-abcd12345"});
            }
            Plan::parse(&p).unwrap()
        };
        // A small wave: the per-update value (a migration's longest silence) is the larger one.
        let small = plan(2, false);
        assert_eq!(not_started_next_update_seconds(&small), 16_500);
        // 400 WorkSpaces, 25 at a time, 90 minutes + one 10-minute poll each: 16 rounds of
        // 6,000 s, plus the image gate (240 min + one 5-minute poll) and the backoff allowance.
        let big = plan(400, true);
        assert_eq!(
            not_started_next_update_seconds(&big),
            16 * 6_000 + 14_700 + BACKOFF_ALLOWANCE_SECONDS
        );
    }
}
