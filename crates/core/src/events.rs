//! The EventBridge events Fleetshift publishes and consumes.

/// `source` of every event Fleetshift publishes, and of the events that start a wave.
pub const SOURCE: &str = "fleetshift";
/// `detail-type` of the event whose detail is a wave plan (consumed by start-wave).
pub const WAVE_REQUESTED: &str = "Wave Requested";
/// `detail-type` of the event that registers a wave's items.
pub const WAVE_REGISTERED: &str = "Wave Registered";
/// `detail-type` of a per-item progress update.
pub const ITEM_PROGRESS: &str = "Migration Progress";
/// `detail-type` of the final summary with the old->new id mapping.
pub const WAVE_FINISHED: &str = "Wave Finished";
