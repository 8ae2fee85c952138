//! Tianjian's shared core.
