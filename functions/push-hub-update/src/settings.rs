//! The stack's settings (the function's environment) and the clients the handler calls.

use aws_config::{Region, SdkConfig};
use fleetshift_core::validate as rules;

/// The stack's settings (environment of the Lambda function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `HUB_ENABLED`: the default when the plan does not say.
    pub hub_enabled: bool,
    /// `HUB_HOME_REGION`: the account's Migration Hub home Region (default: the function's Region).
    pub home_region: Option<String>,
    /// `EVENT_BUS_NAME` (default `default`).
    pub event_bus_name: String,
    /// `STANDBY_REGION`: the stack's StandbyRegion, the only Region its create-standby function may
    /// create standby WorkSpaces in (none: any Region but the primary).
    pub standby_region: Option<String>,
    /// `STANDBY_KMS_KEY_ARN`: the stack's StandbyKmsKeyArn, the only key create-standby may let
    /// WorkSpaces use for an encrypted standby (none: no encrypted standbys).
    pub standby_kms_key_arn: Option<String>,
    /// `LEX_MIGRATION_ENABLED`: the stack's LexMigrationEnabled. Off (the default), start-migration
    /// has no Lex permission at all, so a plan with `lexBots` is refused at registration.
    pub lex_migration_enabled: bool,
    /// `LEX_V2_BOT_ROLE_ARN`: the stack's LexV2BotRoleArn, the only role start-migration may pass
    /// to Lex V2 (its `iam:PassRole` grant names just this role).
    pub lex_v2_bot_role_arn: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hub_enabled: false,
            home_region: None,
            event_bus_name: "default".to_owned(),
            standby_region: None,
            standby_kms_key_arn: None,
            lex_migration_enabled: false,
            lex_v2_bot_role_arn: None,
        }
    }
}

impl Settings {
    /// Reads `HUB_ENABLED`, `HUB_HOME_REGION`, `EVENT_BUS_NAME`, `STANDBY_REGION`,
    /// `STANDBY_KMS_KEY_ARN`, `LEX_MIGRATION_ENABLED` and `LEX_V2_BOT_ROLE_ARN`, naming the variable
    /// that is wrong.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Settings::from_env`], from any lookup (testable without touching the environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| match non_empty(name).as_deref().map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(format!(
                "environment variable {name} must be \"true\" or \"false\" (is {v:?})"
            )),
        };
        let hub_enabled = flag("HUB_ENABLED")?;
        let lex_migration_enabled = flag("LEX_MIGRATION_ENABLED")?;
        let home_region = non_empty("HUB_HOME_REGION").map(|r| r.trim().to_owned());
        if let Some(r) = &home_region
            && !rules::REGION.is_match(r)
        {
            return Err(format!(
                "environment variable HUB_HOME_REGION must be a Region name such as us-west-2 (is {r:?})"
            ));
        }
        let event_bus_name = non_empty("EVENT_BUS_NAME").unwrap_or_else(|| "default".to_owned());
        let standby_region = non_empty("STANDBY_REGION").map(|r| r.trim().to_owned());
        if let Some(r) = &standby_region
            && !rules::REGION.is_match(r)
        {
            return Err(format!(
                "environment variable STANDBY_REGION must be a Region name such as us-west-2 (is {r:?})"
            ));
        }
        let arn = |name: &str, service: &str, what: &str| {
            let v = non_empty(name).map(|v| v.trim().to_owned());
            match &v {
                Some(a) if !is_arn_of(a, service) => Err(format!(
                    "environment variable {name} must be {what} (is {a:?})"
                )),
                _ => Ok(v),
            }
        };
        let standby_kms_key_arn = arn("STANDBY_KMS_KEY_ARN", "kms", "a KMS key ARN")?;
        let lex_v2_bot_role_arn = arn("LEX_V2_BOT_ROLE_ARN", "iam", "an IAM role ARN")?;
        Ok(Settings {
            hub_enabled,
            home_region,
            event_bus_name,
            standby_region,
            standby_kms_key_arn,
            lex_migration_enabled,
            lex_v2_bot_role_arn,
        })
    }
}

/// The clients the handler calls, built once per process.
#[derive(Clone, Debug)]
pub struct Deps {
    /// Migration Hub in the stack's home Region (another Region is derived from it on demand).
    pub hub: aws_sdk_migrationhub::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub settings: Settings,
}

impl Deps {
    /// Builds the clients from a loaded configuration.
    pub fn from_config(sdk: &SdkConfig, settings: Settings) -> Self {
        let hub = match &settings.home_region {
            Some(region) => fleetshift_core::clients::migration_hub(sdk, region),
            None => aws_sdk_migrationhub::Client::new(sdk),
        };
        // `register` makes one Hub call per item: let each call ride out throttling rather than
        // have Step Functions redo the whole batch (keeps the configured backoff, raises attempts).
        let retry = hub
            .config()
            .retry_config()
            .cloned()
            .unwrap_or_else(fleetshift_core::clients::retry_config)
            .with_max_attempts(fleetshift_core::clients::BULK_SDK_MAX_ATTEMPTS);
        let hub = aws_sdk_migrationhub::Client::from_conf(
            hub.config().to_builder().retry_config(retry).build(),
        );
        Deps {
            hub,
            events: fleetshift_core::clients::eventbridge(sdk),
            settings,
        }
    }

    /// The Migration Hub home Region when neither the plan nor the stack names one.
    pub(crate) fn default_home_region(&self) -> Option<String> {
        self.settings
            .home_region
            .clone()
            .or_else(|| self.hub.config().region().map(|r| r.to_string()))
    }

    /// A Migration Hub client for `region` (the plan may name another home Region than the stack).
    pub(crate) fn hub_in(&self, region: Option<&str>) -> aws_sdk_migrationhub::Client {
        let current = self.hub.config().region().map(|r| r.as_ref());
        match region {
            Some(r) if Some(r) != current => aws_sdk_migrationhub::Client::from_conf(
                self.hub
                    .config()
                    .to_builder()
                    .region(Region::new(r.to_owned()))
                    .build(),
            ),
            _ => self.hub.clone(),
        }
    }
}

/// Whether `arn` is an ARN of `service` (`arn:<partition>:<service>:...`).
fn is_arn_of(arn: &str, service: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && parts[2] == service
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/LexV2";
    const KEY: &str = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn stack_arn_settings_are_checked() {
        let s = Settings::from_lookup(|n| match n {
            "LEX_MIGRATION_ENABLED" => Some("true".into()),
            "LEX_V2_BOT_ROLE_ARN" => Some(ROLE.into()),
            "STANDBY_KMS_KEY_ARN" => Some(KEY.into()),
            _ => None,
        })
        .unwrap();
        assert!(s.lex_migration_enabled);
        assert_eq!(s.lex_v2_bot_role_arn.as_deref(), Some(ROLE));
        assert_eq!(s.standby_kms_key_arn.as_deref(), Some(KEY));
        assert_eq!(
            Settings::from_lookup(|n| (n == "LEX_V2_BOT_ROLE_ARN").then(|| "LexV2".into()))
                .unwrap_err(),
            "environment variable LEX_V2_BOT_ROLE_ARN must be an IAM role ARN (is \"LexV2\")"
        );
        assert_eq!(
            Settings::from_lookup(|n| (n == "LEX_MIGRATION_ENABLED").then(|| "on".into()))
                .unwrap_err(),
            "environment variable LEX_MIGRATION_ENABLED must be \"true\" or \"false\" (is \"on\")"
        );
    }

    #[test]
    fn settings_parse_and_name_the_bad_variable() {
        let s = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(s, Settings::default());
        let s = Settings::from_lookup(|n| match n {
            "HUB_ENABLED" => Some("TRUE".into()),
            "HUB_HOME_REGION" => Some("us-west-2".into()),
            "EVENT_BUS_NAME" => Some("fleet".into()),
            "STANDBY_REGION" => Some("eu-west-1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.standby_region.as_deref(), Some("eu-west-1"));
        assert!(s.hub_enabled);
        assert_eq!(s.home_region.as_deref(), Some("us-west-2"));
        assert_eq!(s.event_bus_name, "fleet");
        let e = Settings::from_lookup(|n| (n == "HUB_ENABLED").then(|| "yes".into())).unwrap_err();
        assert!(e.contains("HUB_ENABLED"), "{e}");
        let e =
            Settings::from_lookup(|n| (n == "HUB_HOME_REGION").then(|| "home".into())).unwrap_err();
        assert!(e.contains("HUB_HOME_REGION"), "{e}");
        let e =
            Settings::from_lookup(|n| (n == "STANDBY_REGION").then(|| "west".into())).unwrap_err();
        assert!(e.contains("STANDBY_REGION"), "{e}");
    }
}
