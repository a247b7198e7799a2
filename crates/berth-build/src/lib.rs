//! Building images from Dockerfiles with BuildKit's semantics.
//!
//! `dockerfile` turns text into instructions (parser, shell lexer, typed
//! instructions), `context` reads the build context (.dockerignore, content
//! checksums for the cache); the executor and cache come on top.

pub mod context;
pub mod copy;
pub mod dockerfile;
