//! Integration tests on real TPM evidence. One binary, so the shared helpers in `common` are
//! compiled (and used) once.

mod claims;
mod common;
mod properties;
mod replay;
mod structures;
mod verify;
