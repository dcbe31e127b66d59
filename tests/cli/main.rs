//! The config verbs as an engineer runs them, black box: the real `runner` binary on the shipped
//! config or on a copy a test breaks. Run by the README's test command.

mod coda_fixtures;
mod config_verbs;
mod support;
