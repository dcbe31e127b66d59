//! Runner library.
