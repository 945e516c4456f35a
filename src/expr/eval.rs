use super::parse::{BinOp, Expr};
use std::collections::BTreeMap;
use std::fmt;

/// A value an expression works with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Bool(bool),
    List(Vec<f64>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(|n| n.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// Named values an expression can read.
pub type Variables = BTreeMap<String, Value>;

pub(super) fn eval(expr: &Expr, vars: &Variables, element: Option<f64>) -> Result<Value, String> {
    match expr {
        Expr::Number(n) => Ok(Value::Number(*n)),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Element => element
            .map(Value::Number)
            .ok_or_else(|| "# is only meaningful inside all(...) or any(...)".to_string()),
        Expr::Var(name) => vars.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            format!("unknown name {name:?} (known: {})", known.join(", "))
        }),
        Expr::Not(inner) => Ok(Value::Bool(!as_bool(&eval(inner, vars, element)?)?)),
        Expr::Neg(inner) => Ok(Value::Number(-as_number(&eval(inner, vars, element)?)?)),
        Expr::Index(list, index) => {
            let items = as_list(&eval(list, vars, element)?);
            let i = as_number(&eval(index, vars, element)?)?;
            if i < 0.0 || i.fract() != 0.0 {
                return Err(format!("index {i} is not a whole non-negative number"));
            }
            items
                .get(i as usize)
                .map(|n| Value::Number(*n))
                .ok_or_else(|| format!("index {i} out of range for {} values", items.len()))
        }
        Expr::Binary(BinOp::Or, l, r) => Ok(Value::Bool(
            as_bool(&eval(l, vars, element)?)? || as_bool(&eval(r, vars, element)?)?,
        )),
        Expr::Binary(BinOp::And, l, r) => Ok(Value::Bool(
            as_bool(&eval(l, vars, element)?)? && as_bool(&eval(r, vars, element)?)?,
        )),
        Expr::Binary(op, l, r) => {
            let left = eval(l, vars, element)?;
            let right = eval(r, vars, element)?;
            if let (BinOp::Eq | BinOp::Ne, Value::Bool(a), Value::Bool(b)) = (op, &left, &right) {
                let equal = a == b;
                return Ok(Value::Bool(if *op == BinOp::Eq { equal } else { !equal }));
            }
            let (a, b) = (as_number(&left)?, as_number(&right)?);
            Ok(match op {
                BinOp::Lt => Value::Bool(a < b),
                BinOp::Le => Value::Bool(a <= b),
                BinOp::Gt => Value::Bool(a > b),
                BinOp::Ge => Value::Bool(a >= b),
                BinOp::Eq => Value::Bool(a == b),
                BinOp::Ne => Value::Bool(a != b),
                BinOp::Add => Value::Number(a + b),
                BinOp::Sub => Value::Number(a - b),
                BinOp::Mul => Value::Number(a * b),
                BinOp::Div => Value::Number(a / b),
                BinOp::Or | BinOp::And => unreachable!("handled above"),
            })
        }
        Expr::Call(name, args) => call(name, args, vars, element),
        Expr::Lambda(_) => Err("a {predicate} can only be passed to all(...) or any(...)".to_string()),
    }
}

fn call(name: &str, args: &[Expr], vars: &Variables, element: Option<f64>) -> Result<Value, String> {
    match (name, args) {
        ("all" | "any", [list, Expr::Lambda(body)]) => {
            let items = as_list(&eval(list, vars, element)?);
            if items.is_empty() {
                return Err(format!("{name}() over an empty list is undefined"));
            }
            let mut results = Vec::with_capacity(items.len());
            for item in items {
                results.push(as_bool(&eval(body, vars, Some(item))?)?);
            }
            Ok(Value::Bool(if name == "all" {
                results.iter().all(|b| *b)
            } else {
                results.iter().any(|b| *b)
            }))
        }
        ("all" | "any", _) => Err(format!(
            "{name}() takes a list and a {{predicate}}, e.g. {name}(result, {{# < 0.05}})"
        )),
        ("len", [list]) => Ok(Value::Number(as_list(&eval(list, vars, element)?).len() as f64)),
        ("min" | "max" | "sum" | "avg", [list]) => {
            let items = as_list(&eval(list, vars, element)?);
            if items.is_empty() {
                return Err(format!("{name}() over an empty list is undefined"));
            }
            let value = match name {
                "min" => items.iter().copied().fold(f64::INFINITY, f64::min),
                "max" => items.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                "sum" => items.iter().sum(),
                _ => items.iter().sum::<f64>() / items.len() as f64,
            };
            Ok(Value::Number(value))
        }
        ("isNaN", [value]) => Ok(Value::Bool(as_number(&eval(value, vars, element)?)?.is_nan())),
        _ => Err(format!(
            "unknown function {name}() with {} argument(s); known: all, any, len, min, max, sum, avg, isNaN",
            args.len()
        )),
    }
}

fn as_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("expected true/false, got {other}")),
    }
}

fn as_number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => Ok(*n),
        Value::List(items) if items.len() == 1 => Ok(items[0]),
        Value::List(items) => Err(format!(
            "a vector of {} values cannot be compared directly; use all(result, {{...}}) or any(result, {{...}})",
            items.len()
        )),
        Value::Bool(b) => Err(format!("expected a number, got {b}")),
    }
}

fn as_list(value: &Value) -> Vec<f64> {
    match value {
        Value::List(items) => items.clone(),
        Value::Number(n) => vec![*n],
        Value::Bool(b) => vec![if *b { 1.0 } else { 0.0 }],
    }
}

#[cfg(test)]
mod tests {
    use super::super::eval_bool;
    use super::*;

    fn vars(result: Value) -> Variables {
        let mut v = Variables::new();
        v.insert("result".to_string(), result);
        v
    }

    #[test]
    fn scalar_conditions() {
        assert!(eval_bool("result < 0.05", &vars(Value::Number(0.01))).unwrap());
        assert!(!eval_bool("result < 0.05", &vars(Value::Number(0.5))).unwrap());
        assert!(eval_bool("result >= 0.99", &vars(Value::Number(0.99))).unwrap());
        assert!(eval_bool("result[0] < 1", &vars(Value::List(vec![0.5]))).unwrap());
        assert!(eval_bool("result < 1", &vars(Value::List(vec![0.5]))).unwrap());
    }

    #[test]
    fn vector_conditions() {
        let v = vars(Value::List(vec![0.01, 0.02, 0.2]));
        assert!(!eval_bool("all(result, {# < 0.05})", &v).unwrap());
        assert!(eval_bool("any(result, {# < 0.05})", &v).unwrap());
        assert!(eval_bool("len(result) == 3 && max(result) > 0.1", &v).unwrap());
        assert!(eval_bool("result < 0.05", &v).unwrap_err().contains("use all"));
    }

    #[test]
    fn arithmetic_and_logic() {
        let mut v = Variables::new();
        v.insert("unavailableRatio".into(), Value::Number(0.6));
        v.insert("crashLoopingPods".into(), Value::Number(2.0));
        assert!(eval_bool("unavailableRatio >= 0.5 && crashLoopingPods > 0", &v).unwrap());
        assert!(eval_bool("!(unavailableRatio < 0.5) || false", &v).unwrap());
        assert!(eval_bool("crashLoopingPods * 2 - 1 == 3", &v).unwrap());
        assert!(eval_bool("-crashLoopingPods < 0", &v).unwrap());
    }

    #[test]
    fn errors_name_the_problem() {
        let v = vars(Value::Number(1.0));
        assert!(eval_bool("nope > 1", &v).unwrap_err().contains("unknown name"));
        assert!(eval_bool("result + 1", &v).unwrap_err().contains("not true/false"));
        assert!(eval_bool("# > 1", &v).unwrap_err().contains("only meaningful"));
        assert!(eval_bool("frob(result)", &v).unwrap_err().contains("unknown function"));
        assert!(eval_bool("all(result)", &v).unwrap_err().contains("predicate"));
        assert!(eval_bool("result[3] > 0", &v).unwrap_err().contains("out of range"));
    }
}
