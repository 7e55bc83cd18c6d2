//! A 3CX simulator for Lineup's tests and demos.
//!
//! Owns `model`: the pure, seeded, deterministic traffic model of a call centre (queues, agents,
//! arrivals, ring strategies, call records with segments, ground truth). The model does no IO,
//! never reads the wall clock and draws every random number from streams derived from one seed;
//! it must not know HTTP, OData or the XAPI wire shapes.
//!
//! On top of it: `odata`, the OData query options applied to JSON rows, and `server`, the
//! XAPI-compatible HTTP server that shows the model to a client (tokens, the XAPI routes and
//! report functions, faults on demand, a scaled or manual clock, the ground-truth export); start
//! one with [`server::start`]. `lineup sim` runs it as a process.

#![warn(missing_docs)]

pub mod model;
pub mod odata;
pub mod server;
