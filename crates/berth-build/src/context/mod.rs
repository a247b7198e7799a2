//! The build context.
