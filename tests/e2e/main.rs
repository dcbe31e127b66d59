//! The seed's end-to-end suite, black box: the real `runner` binary, the simulators as
//! servers, a fresh database per test. Run by the README's test command.

mod flows;
mod people;
