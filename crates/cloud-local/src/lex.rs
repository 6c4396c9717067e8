//! Lex model building V1 (restJson1): StartMigration, GetMigration, GetBot, GetBotVersions.
//!
//! Sources: the botocore model `lex-models/2017-04-19/service-2.json` (routes, status codes,
//! shapes, patterns, errors), the Amazon Lex V1 API Reference (StartMigration, GetMigration) and
//! the Amazon Lex V1 Developer Guide, "Migrating a bot".

use std::time::Duration;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::fleet::BOT_NAME;
use crate::validate::{Input, Str};
use crate::world::{Ctx, LexMigration, World, epoch_secs};

fn bad_request(message: String) -> ApiError {
    ApiError::bad("BadRequestException", message)
}

/// NotFoundException is HTTP 404 (botocore model, `NotFoundException` `error.httpStatusCode`);
/// BadRequestException is 400.
fn not_found(message: String) -> ApiError {
    ApiError::new(404, "NotFoundException", message)
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NAME: Str = Str::len_pattern(2, 50, BOT_NAME);
const VERSION: Str = Str::len_pattern(1, 64, "\\$LATEST|[0-9]+");
const MIGRATION_ID: Str = Str::len_pattern(10, 10, "^[0-9a-zA-Z]+$");

/// A Lex request, routed from its method and (decoded) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    StartMigration,
    GetMigration(String),
    GetBot(String, String),
    GetBotVersions(String),
}

impl Route {
    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Route::StartMigration => "StartMigration",
            Route::GetMigration(_) => "GetMigration",
            Route::GetBot(..) => "GetBot",
            Route::GetBotVersions(_) => "GetBotVersions",
        }
    }

    pub(crate) fn target_id(&self, body: &Value) -> Option<String> {
        match self {
            Route::StartMigration => body
                .get("v1BotName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Route::GetMigration(id) => Some(id.clone()),
            Route::GetBot(name, _) | Route::GetBotVersions(name) => Some(name.clone()),
        }
    }
}

/// Routes `method` and the raw (percent-encoded) path.
pub(crate) fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    // Botocore model `http` of each operation: StartMigration POST /migrations, GetMigration GET
    // /migrations/{migrationId}, GetBot GET /bots/{name}/versions/{versionoralias}, GetBotVersions
    // GET /bots/{name}/versions/.
    match (method, s.as_slice()) {
        ("POST", ["migrations"]) => Some(Route::StartMigration),
        ("GET", ["migrations", id]) => Some(Route::GetMigration((*id).to_owned())),
        ("GET", ["bots", name, "versions"]) | ("GET", ["bots", name, "versions", ""]) => {
            Some(Route::GetBotVersions((*name).to_owned()))
        }
        ("GET", ["bots", name, "versions", v]) => {
            Some(Route::GetBot((*name).to_owned(), (*v).to_owned()))
        }
        _ => None,
    }
}

/// Percent-decodes one path segment.
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| decode(v))
}

pub(crate) fn call(
    world: &mut World,
    ctx: &Ctx,
    route: &Route,
    query: Option<&str>,
    body: &Value,
) -> Result<(u16, Value), ApiError> {
    let now = ctx.now;
    match route {
        Route::StartMigration => {
            let input = Input::new(body, bad_request)?;
            let name = input.req_str("v1BotName", NAME)?;
            let version = input.req_str("v1BotVersion", VERSION)?;
            let v2_name = input.req_str(
                "v2BotName",
                Str::len_pattern(1, 100, "^([0-9a-zA-Z][_-]?)+$"),
            )?;
            let role = input.req_str(
                "v2BotRole",
                Str::len_pattern(20, 2048, "^arn:[\\w\\-]+:iam::[\\d]{12}:role/.+$"),
            )?;
            let strategy = input.req_str(
                "migrationStrategy",
                Str::one_of(&["CREATE_NEW", "UPDATE_EXISTING"]),
            )?;
            // StartMigration's modeled errors include NotFoundException; its message text for a
            // missing bot or version is not documented.
            let bot = world
                .bots
                .get(name)
                .filter(|b| b.versions.iter().any(|v| v == version))
                .ok_or_else(|| {
                    not_found(format!("The bot {name} version {version} does not exist."))
                })?;
            let locale = bot.locale.clone();
            let id = world.fresh(ALNUM, 10);
            let v2_bot_id = world.fresh(ALNUM, 10);
            let m = LexMigration {
                id: id.clone(),
                v1_bot_name: name.to_owned(),
                v1_bot_version: version.to_owned(),
                v1_bot_locale: locale,
                v2_bot_name: v2_name.to_owned(),
                v2_bot_id,
                v2_bot_role: role.to_owned(),
                strategy: strategy.to_owned(),
                started: now,
                done: now + Duration::from_secs(world.fleet.lex_migration_duration_secs),
                fails: world.scenario.fail_lex_migrations.iter().any(|b| b == name),
            };
            let out = json!({
                "v1BotName": m.v1_bot_name,
                "v1BotVersion": m.v1_bot_version,
                "v1BotLocale": m.v1_bot_locale,
                "v2BotId": m.v2_bot_id,
                "v2BotRole": m.v2_bot_role,
                "migrationId": m.id,
                "migrationStrategy": m.strategy,
                "migrationTimestamp": epoch_secs(m.started),
            });
            world.lex_migrations.insert(id, m);
            // Botocore model: StartMigration `"responseCode": 202` (accepted, asynchronous); the
            // answer is `StartMigrationResponse` (v1BotName ... migrationTimestamp), and progress
            // is read with GetMigration. A migration that fails (scenario `failLexMigrations`)
            // reports FAILED with an ERROR alert (`MigrationAlert`: type ERROR|WARN, message,
            // details, referenceURLs); the alert texts are not documented.
            Ok((202, out))
        }
        Route::GetMigration(id) => {
            let v = json!({ "migrationId": id });
            Input::new(&v, bad_request)?.req_str("migrationId", MIGRATION_ID)?;
            let m = world
                .lex_migrations
                .get(id)
                .ok_or_else(|| not_found(format!("The migration {id} does not exist.")))?;
            let status = m.status(now);
            let alerts = if status == "FAILED" {
                json!([{
                    "type": "ERROR",
                    "message": format!("The migration of bot {} failed.", m.v1_bot_name),
                    "details": ["The bot could not be converted to a Lex V2 bot."],
                    "referenceURLs": []
                }])
            } else {
                json!([])
            };
            Ok((
                200,
                json!({
                    "migrationId": m.id,
                    "v1BotName": m.v1_bot_name,
                    "v1BotVersion": m.v1_bot_version,
                    "v1BotLocale": m.v1_bot_locale,
                    "v2BotId": m.v2_bot_id,
                    "v2BotRole": m.v2_bot_role,
                    "migrationStatus": status,
                    "migrationStrategy": m.strategy,
                    "migrationTimestamp": epoch_secs(m.started),
                    "alerts": alerts
                }),
            ))
        }
        Route::GetBot(name, version) => {
            let v = json!({ "name": name });
            Input::new(&v, bad_request)?.req_str("name", NAME)?;
            let bot = world
                .bots
                .get(name)
                .filter(|b| b.versions.iter().any(|v| v == version))
                .ok_or_else(|| {
                    not_found(format!("The bot {name} version {version} does not exist."))
                })?;
            Ok((
                200,
                json!({
                    "name": bot.name,
                    "version": version,
                    "locale": bot.locale,
                    "status": bot.status,
                    "intents": [],
                    "childDirected": false,
                    "detectSentiment": false,
                    "enableModelImprovements": true,
                    "idleSessionTTLInSeconds": 300,
                    "checksum": format!("{:x}", name.len() * 7919 + version.len()),
                    "createdDate": 1_600_000_000,
                    "lastUpdatedDate": 1_600_000_000,
                }),
            ))
        }
        Route::GetBotVersions(name) => {
            let v = json!({ "name": name });
            let input = Input::new(&v, bad_request)?;
            input.req_str("name", NAME)?;
            let max = match query_param(query, "maxResults") {
                None => 50,
                Some(m) => match m.parse::<i64>() {
                    Ok(n) if (1..=50).contains(&n) => n as usize,
                    _ => {
                        return Err(bad_request(format!(
                            "1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50"
                        )));
                    }
                },
            };
            let start = match query_param(query, "nextToken") {
                None => 0,
                Some(t) => t
                    .parse::<usize>()
                    .map_err(|_| bad_request(format!("The nextToken {t} is not valid.")))?,
            };
            let bot = world
                .bots
                .get(name)
                .ok_or_else(|| not_found(format!("The bot {name} does not exist.")))?;
            let all: Vec<Value> = bot
                .versions
                .iter()
                .map(|v| {
                    json!({"name": bot.name, "version": v, "status": bot.status,
                        "createdDate": 1_600_000_000, "lastUpdatedDate": 1_600_000_000})
                })
                .collect();
            let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
            let mut out = json!({ "bots": page });
            if start + max < all.len() {
                out["nextToken"] = json!((start + max).to_string());
            }
            Ok((200, out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_percent_encoded_paths() {
        assert_eq!(
            route("GET", "/bots/OrderFlowers/versions/%24LATEST"),
            Some(Route::GetBot("OrderFlowers".into(), "$LATEST".into()))
        );
        assert_eq!(
            route("GET", "/bots/OrderFlowers/versions/"),
            Some(Route::GetBotVersions("OrderFlowers".into()))
        );
        assert_eq!(route("POST", "/migrations"), Some(Route::StartMigration));
        assert_eq!(
            route("GET", "/migrations/ABCDEFGHIJ"),
            Some(Route::GetMigration("ABCDEFGHIJ".into()))
        );
        assert_eq!(route("DELETE", "/migrations"), None);
    }
}
