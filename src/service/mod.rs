//! The rules of the service. REST handlers and MCP tools both call these functions; nothing
//! here knows about HTTP.

pub mod auth;
pub mod exec;
pub mod files;
pub mod lifecycle;
pub mod projects;
pub mod quota;
