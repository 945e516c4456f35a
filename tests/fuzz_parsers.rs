//! Property tests: the parsers that read user input never panic, whatever they are given, and
//! reject what they cannot read with a message.

use dontpanic::duration::{format_duration, parse_duration};
use dontpanic::expr::{self, Value, Variables};
use dontpanic::webhook::payload;
use proptest::prelude::*;

fn vars() -> Variables {
    let mut v = Variables::new();
    v.insert("result".into(), Value::List(vec![0.01, 0.2, 3.0]));
    v.insert("unavailableRatio".into(), Value::Number(0.5));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn expressions_never_panic_on_arbitrary_text(text in ".{0,300}") {
        if let Ok(parsed) = expr::parse(&text) {
            let _ = parsed;
        }
        let _ = expr::eval_bool(&text, &vars());
    }

    #[test]
    fn expressions_never_panic_on_expression_shaped_text(
        text in proptest::collection::vec(
            prop_oneof![
                Just("result"), Just("#"), Just("all("), Just("any("), Just(")"), Just("{"), Just("}"),
                Just("["), Just("]"), Just(","), Just("<"), Just("<="), Just("=="), Just("&&"), Just("||"),
                Just("!"), Just("-"), Just("+"), Just("*"), Just("/"), Just("0.05"), Just("1e308"), Just("len("),
                Just("true"), Just("unavailableRatio"), Just("("),
            ],
            0..120,
        )
    ) {
        let source = text.concat();
        let _ = expr::eval_bool(&source, &vars());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed(depth in 50usize..5000) {
        let source = format!("{}result{}", "(".repeat(depth), ")".repeat(depth));
        prop_assert!(expr::parse(&source).is_err());
        let nots = format!("{}true", "!".repeat(depth));
        prop_assert!(expr::parse(&nots).is_err());
    }

    #[test]
    fn durations_never_panic(text in ".{0,64}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn durations_round_trip(h in 0u64..100, m in 0u64..60, s in 0u64..60) {
        let text = format!("{h}h{m}m{s}s");
        let parsed = parse_duration(&text).unwrap();
        prop_assert_eq!(parsed.as_secs(), h * 3600 + m * 60 + s);
        prop_assert_eq!(parse_duration(&format_duration(parsed)).unwrap(), parsed);
    }

    #[test]
    fn webhook_payloads_never_panic_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = payload::parse(&body);
    }

    #[test]
    fn webhook_payloads_never_panic_on_json_shaped_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"version\""), Just("\"4\""),
                Just("\"alerts\""), Just("\"status\""), Just("\"firing\""), Just("\"resolved\""), Just("\"labels\""),
                Just("\"fingerprint\""), Just("\"startsAt\""), Just("\"2026-11-23T10:00:00Z\""), Just("null"), Just("1e999"),
                Just("\"\\u0000\""), Just("true"),
            ],
            0..200,
        )
    ) {
        let _ = payload::parse(parts.concat().as_bytes());
    }

    #[test]
    fn deeply_nested_payloads_are_rejected(depth in 33usize..20000) {
        let body = format!("{{\"version\":\"4\",\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        prop_assert!(payload::parse(body.as_bytes()).is_err());
    }
}
