//! Virtual time for callers that cannot stamp their requests: processes outside the caller's
//! task, such as the Lambda binaries `fleetshift local run --binaries` spawns. Each such process
//! signs with an access key id of its own; whoever invokes it says which virtual time requests
//! signed with that key are at, for the duration of the invocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::http::{HeaderMap, header};

/// The virtual time of requests signed with a given access key id (SigV4 `Credential=KEY/...`).
///
/// A request's time is, in order: its `x-fleetshift-virtual-time` header, the time set here for
/// the access key it is signed with, the wall clock. Cheap to clone; clones share the map.
#[derive(Clone, Default, Debug)]
pub struct KeyClock(Arc<Mutex<HashMap<String, SystemTime>>>);

impl KeyClock {
    fn map(&self) -> MutexGuard<'_, HashMap<String, SystemTime>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, requests signed with `access_key_id` arrive at `now` (until [`KeyClock::clear`]
    /// or the next `set`).
    pub fn set(&self, access_key_id: &str, now: SystemTime) {
        self.map().insert(access_key_id.to_owned(), now);
    }

    /// Requests signed with `access_key_id` arrive on the wall clock again.
    pub fn clear(&self, access_key_id: &str) {
        self.map().remove(access_key_id);
    }

    /// The time set for `access_key_id`, if any.
    pub fn get(&self, access_key_id: &str) -> Option<SystemTime> {
        self.map().get(access_key_id).copied()
    }

    /// The time set for the access key a request is signed with, if any.
    pub(crate) fn for_request(&self, headers: &HeaderMap) -> Option<SystemTime> {
        signed_access_key(headers).and_then(|k| self.get(k))
    }
}

/// The access key id of the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
pub(crate) fn signed_access_key(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    let key = scope.split('/').next()?;
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn signed(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={key}/20250101/us-west-2/workspaces/aws4_request, SignedHeaders=host, Signature=abc"
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&auth).unwrap());
        h
    }

    #[test]
    fn reads_the_access_key_of_the_credential_scope() {
        assert_eq!(signed_access_key(&signed("AKIDONE")), Some("AKIDONE"));
        assert_eq!(signed_access_key(&HeaderMap::new()), None);
    }

    #[test]
    fn a_set_time_applies_to_its_key_only_until_cleared() {
        let clock = KeyClock::default();
        let t = fleetshift_clock::from_millis(1_700_000_000_000);
        clock.set("AKIDONE", t);
        assert_eq!(clock.for_request(&signed("AKIDONE")), Some(t));
        assert_eq!(clock.for_request(&signed("AKIDTWO")), None);
        clock.clear("AKIDONE");
        assert_eq!(clock.for_request(&signed("AKIDONE")), None);
    }
}
