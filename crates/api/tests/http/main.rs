//! HTTP tests: the real router on a loopback port over real stores (SQLite in a temporary file,
//! PostgreSQL from `LINEUP_TEST_DATABASE_URL`), spoken to with reqwest.

mod analytics;
mod auth;
mod broken;
mod common;
mod fuzz;
mod inbox;
mod isolation;
mod live;
mod pagination;
mod pbx;
mod postgres;
mod problems;
mod protection;
mod roles;
mod routes;
mod schedules;
mod walkthrough;
mod webhooks;
