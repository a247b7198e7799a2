//! The Dockerfile front end: BuildKit's `parser` (text -> [`ast::Node`]),
//! `shell` (word expansion) and `instructions` (nodes -> typed commands).

pub mod ast;
pub mod gostr;
pub mod instructions;
pub mod parser;
pub mod shell;
