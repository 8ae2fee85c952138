//! End-to-end tests: one binary, one module per area.

mod health; // the server starts on a loopback port and answers /healthz
