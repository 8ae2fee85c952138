//! The server's metrics, served at `GET /metrics` in the Prometheus (OpenMetrics) text
//! format: sync sessions and their traffic, changes accepted and refused, documents held,
//! storage write latency, uploads, the blob store, and token refreshes.
//!
//! One `Metrics` per server, held in its state and handed to the parts that count, so that
//! two servers in one process (as in the tests) never count into each other.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use std::fmt::Write;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Which way a frame went.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl EncodeLabelValue for Direction {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            Direction::In => "in",
            Direction::Out => "out",
        })
    }
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Way {
    pub direction: Direction,
}

/// The rule a refused change or message broke (`not_owner`, `bad_frame`, …).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Rule {
    pub rule: String,
}

/// How a token refresh ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Result {
    pub outcome: Outcome,
}

/// Every metric the server keeps. Cheap to clone: each is a handle to shared counts.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub sync_sessions: Gauge,
    pub frames: Family<Way, Counter>,
    pub frame_bytes: Family<Way, Counter>,
    pub changes_accepted: Counter,
    pub changes_refused: Family<Rule, Counter>,
    pub changes_refused_again: Family<Rule, Counter>,
    pub documents_loaded: Counter,
    pub documents_evicted: Counter,
    pub documents_held: Gauge,
    pub storage_write_seconds: Histogram,
    pub uploads_in_progress: Gauge,
    pub uploaded_bytes: Counter,
    pub blob_store_bytes: Gauge<u64, AtomicU64>,
    pub token_refreshes: Family<Result, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            // Filled below, once the metrics it lists exist.
            registry: Arc::default(),
            sync_sessions: Gauge::default(),
            frames: Family::default(),
            frame_bytes: Family::default(),
            changes_accepted: Counter::default(),
            changes_refused: Family::default(),
            changes_refused_again: Family::default(),
            documents_loaded: Counter::default(),
            documents_evicted: Counter::default(),
            documents_held: Gauge::default(),
            // 0.5 ms to about 8 s: a group commit on a good disk, and one on a sick SD card.
            storage_write_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            uploads_in_progress: Gauge::default(),
            uploaded_bytes: Counter::default(),
            blob_store_bytes: Gauge::default(),
            token_refreshes: Family::default(),
        };
        metrics.registry = Arc::new(metrics.registry());
        metrics
    }

    /// The registry that names and describes each metric.
    fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("tianjian");
        let m = self;
        registry.register(
            "sync_sessions_open",
            "Sync sessions (WebSocket connections) open now",
            m.sync_sessions.clone(),
        );
        registry.register(
            "sync_frames",
            "Sync protocol frames received (in) and sent (out)",
            m.frames.clone(),
        );
        registry.register_with_unit(
            "sync_frame",
            "Bytes of sync protocol frames received (in) and sent (out)",
            Unit::Bytes,
            m.frame_bytes.clone(),
        );
        registry.register(
            "changes_accepted",
            "Document changes that passed validation and were stored",
            m.changes_accepted.clone(),
        );
        registry.register(
            "changes_refused",
            "Changes and messages refused, by the rule they broke",
            m.changes_refused.clone(),
        );
        registry.register(
            "changes_refused_again",
            "Refused changes offered again and answered from memory, by the rule that refused them",
            m.changes_refused_again.clone(),
        );
        registry.register(
            "documents_loaded",
            "Documents loaded from storage into memory",
            m.documents_loaded.clone(),
        );
        registry.register(
            "documents_evicted",
            "Idle documents dropped from memory",
            m.documents_evicted.clone(),
        );
        registry.register(
            "documents_in_memory",
            "Documents held in memory now",
            m.documents_held.clone(),
        );
        registry.register_with_unit(
            "storage_write_latency",
            "Time to store a batch of accepted changes, queueing included",
            Unit::Seconds,
            m.storage_write_seconds.clone(),
        );
        registry.register(
            "uploads_in_progress",
            "Media uploads begun and not yet complete",
            m.uploads_in_progress.clone(),
        );
        registry.register_with_unit(
            "uploaded",
            "Bytes of media received",
            Unit::Bytes,
            m.uploaded_bytes.clone(),
        );
        registry.register_with_unit(
            "blob_store",
            "Bytes of complete media stored",
            Unit::Bytes,
            m.blob_store_bytes.clone(),
        );
        registry.register(
            "token_refreshes",
            "Access token refreshes, by outcome",
            m.token_refreshes.clone(),
        );
        registry
    }

    /// Counts a frame received or sent.
    pub fn frame(&self, direction: Direction, bytes: usize) {
        let way = Way { direction };
        self.frames.get_or_create(&way).inc();
        self.frame_bytes
            .get_or_create(&way)
            .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    pub fn refused(&self, rule: &str) {
        self.changes_refused
            .get_or_create(&Rule {
                rule: rule.to_owned(),
            })
            .inc();
    }

    pub fn refused_again(&self, rule: &str) {
        self.changes_refused_again
            .get_or_create(&Rule {
                rule: rule.to_owned(),
            })
            .inc();
    }

    pub fn refresh(&self, outcome: Outcome) {
        self.token_refreshes
            .get_or_create(&Result { outcome })
            .inc();
    }

    /// Everything, in the text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Counts an open sync session for as long as it lives.
#[derive(Debug)]
pub struct OpenSession(Gauge);

impl OpenSession {
    pub fn new(metrics: &Metrics) -> OpenSession {
        metrics.sync_sessions.inc();
        OpenSession(metrics.sync_sessions.clone())
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.dec();
    }
}
