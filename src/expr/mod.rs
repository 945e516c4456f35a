//! Condition expressions used by Playbooks: `result < 0.05`, `all(result, {# < 0.05})`,
//! `unavailableRatio >= 0.5 && crashLoopingPods > 0`.
//!
//! A small, bounded language: parsing is limited in length and nesting so that no input can
//! exhaust the stack, and evaluation never panics.

mod eval;
mod parse;

pub use eval::{Value, Variables};
pub use parse::{parse, Expr};

/// Longest expression accepted.
pub const MAX_LEN: usize = 1024;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 48;

/// Parses and evaluates `source` to a boolean.
pub fn eval_bool(source: &str, vars: &Variables) -> Result<bool, String> {
    let expr = parse(source)?;
    match eval::eval(&expr, vars, None)? {
        Value::Bool(b) => Ok(b),
        other => Err(format!("expression {source:?} gives {other}, not true/false")),
    }
}
