//! Unit and property tests of [`super`]: examples, then proptests.

use serde_json::{Value, json};

use super::*;

fn lead() -> Value {
    json!({"id": "lead_1", "email": "anna@example.de", "phone": "+4930123456",
           "firstName": "Anna", "status": "new", "tags": ["webinar", "VIP"],
           "customFields": {"country": "DE", "budget": 5000, "seats": "12", "utm.source": "ads"},
           "source": {"type": "webhook", "keyId": "key_1"}})
}

fn check(filter: Value) -> bool {
    parse(&filter, "filter").unwrap().matches(&lead())
}

#[test]
fn each_op_on_the_example_lead() {
    let cases = [
        (
            json!({"field": "customFields.country", "op": "eq", "value": "de"}),
            true,
        ),
        (
            json!({"field": "customFields.country", "op": "ne", "value": "DE"}),
            false,
        ),
        (
            json!({"field": "customFields.missing", "op": "ne", "value": "DE"}),
            true,
        ),
        (
            json!({"field": "customFields.country", "op": "in", "value": ["AT", "DE", "CH"]}),
            true,
        ),
        (
            json!({"field": "customFields.country", "op": "in", "value": ["FR"]}),
            false,
        ),
        (
            json!({"field": "tags", "op": "contains", "value": "vip"}),
            true,
        ),
        (
            json!({"field": "tags", "op": "eq", "value": "webinar"}),
            true,
        ),
        (
            json!({"field": "email", "op": "contains", "value": "@EXAMPLE.de"}),
            true,
        ),
        (
            json!({"field": "customFields.budget", "op": "gte", "value": 5000}),
            true,
        ),
        (
            json!({"field": "customFields.budget", "op": "lte", "value": 4999.5}),
            false,
        ),
        (
            json!({"field": "customFields.seats", "op": "gte", "value": 10}),
            true,
        ),
        (
            json!({"field": "customFields.budget", "op": "eq", "value": "5000"}),
            true,
        ),
        (
            json!({"field": "customFields.utm.source", "op": "eq", "value": "ads"}),
            true,
        ),
        (
            json!({"field": "source.type", "op": "eq", "value": "webhook"}),
            true,
        ),
        (json!({"field": "phone", "op": "exists"}), true),
        (json!({"field": "lastName", "op": "exists"}), false),
        (
            json!({"field": "lastName", "op": "exists", "value": false}),
            true,
        ),
        (json!({"field": "email", "op": "gte", "value": 1}), false),
    ];
    for (filter, want) in cases {
        assert_eq!(check(filter.clone()), want, "{filter}");
    }
}

#[test]
fn groups_combine() {
    let de = json!({"field": "customFields.country", "op": "eq", "value": "DE"});
    let fr = json!({"field": "customFields.country", "op": "eq", "value": "FR"});
    assert!(check(json!({"all": [de, {"not": fr}]})));
    assert!(check(json!({"any": [fr, de]})));
    assert!(!check(json!({"all": [fr, de]})));
    assert!(!check(json!({"not": {"any": [de]}})));
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let bad = json!({"all": [
        {"field": "", "op": "eq", "value": "x"},
        {"field": "a", "op": "like", "value": "x"},
        {"field": "a", "op": "in", "value": "x"},
        {"field": "a", "op": "gte", "value": "ten"},
        {"any": []},
        {"field": "a", "op": "eq", "value": {"nested": 1}, "extra": 1},
        {"all": [], "any": []},
        7
    ]});
    let issues = parse(&bad, "filter").unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "filter.all[0].field",
            "filter.all[1].op",
            "filter.all[2].value",
            "filter.all[3].value",
            "filter.all[4].any",
            "filter.all[5]",
            "filter.all[5].value",
            "filter.all[6]",
            "filter.all[7]",
        ],
        "{issues:?}"
    );
}

#[test]
fn size_and_depth_are_bounded() {
    let mut deep = json!({"field": "a", "op": "exists"});
    for _ in 0..MAX_DEPTH + 2 {
        deep = json!({"not": deep});
    }
    assert!(parse(&deep, "filter").is_err());
    let wide = json!({"any": (0..MAX_ITEMS).map(|_| json!({"all": [{"field": "a", "op": "exists"}]})).collect::<Vec<_>>()});
    let issues = parse(&wide, "filter").unwrap_err();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0].issue.contains("at most"));
}

#[test]
fn stored_text_that_no_longer_parses_matches_nothing() {
    assert!(stored_matches(None, &lead()));
    assert!(stored_matches(
        Some(r#"{"field":"email","op":"exists"}"#),
        &lead()
    ));
    assert!(!stored_matches(Some("{not json"), &lead()));
    assert!(!stored_matches(
        Some(r#"{"field":"email","op":"nope"}"#),
        &lead()
    ));
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop_oneof![Just("field".to_owned()), Just("op".to_owned()), ".{0,12}"]
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("all".to_owned()),
                        Just("any".to_owned()),
                        Just("not".to_owned()),
                        Just("field".to_owned()),
                        Just("op".to_owned()),
                        Just("value".to_owned()),
                        "[a-z]{1,5}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn condition() -> impl Strategy<Value = Filter> {
        let field = prop_oneof![
            Just("email"),
            Just("tags"),
            Just("customFields.country"),
            Just("customFields.budget"),
            Just("source.type"),
            Just("nope"),
        ];
        let value = prop_oneof![
            "[A-Za-z]{0,4}".prop_map(Value::String),
            (-10i32..10).prop_map(|n| json!(n)),
        ];
        (field, prop::sample::select(Op::ALL.to_vec()), value).prop_map(|(f, op, v)| {
            let value = match op {
                Op::In => json!([v]),
                Op::Gte | Op::Lte => json!(v.as_i64().unwrap_or(0)),
                Op::Exists => Value::Null,
                _ => v,
            };
            Filter::Cond {
                field: f.to_owned(),
                op,
                value,
            }
        })
    }

    fn filter() -> impl Strategy<Value = Filter> {
        condition().prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::All),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::Any),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    fn to_json(f: &Filter) -> Value {
        match f {
            Filter::All(items) => json!({"all": items.iter().map(to_json).collect::<Vec<_>>()}),
            Filter::Any(items) => json!({"any": items.iter().map(to_json).collect::<Vec<_>>()}),
            Filter::Not(inner) => json!({"not": to_json(inner)}),
            Filter::Cond { field, op, value } if value.is_null() => {
                json!({"field": field, "op": op.as_str()})
            }
            Filter::Cond { field, op, value } => {
                json!({"field": field, "op": op.as_str(), "value": value})
            }
        }
    }

    fn a_lead() -> impl Strategy<Value = Value> {
        (
            prop::option::of("[a-z]{1,5}@[a-z]{1,5}\\.de"),
            prop::collection::vec("[A-Za-z]{0,4}", 0..3),
            prop::option::of("[A-Za-z]{0,4}"),
            prop::option::of(-10i32..10),
        )
            .prop_map(|(email, tags, country, budget)| {
                json!({"email": email, "tags": tags, "source": {"type": "webhook"},
                       "customFields": {"country": country, "budget": budget}})
            })
    }

    proptest! {
        /// Whatever JSON arrives, parsing answers (a filter or issues, each
        /// with a path under the root) and never panics; a parsed filter
        /// evaluates on any lead.
        #[test]
        fn any_json_parses_or_is_refused_with_paths(v in any_json(), lead in a_lead()) {
            match parse(&v, "filter") {
                Ok(f) => { let _ = f.matches(&lead); }
                Err(issues) => {
                    prop_assert!(!issues.is_empty() && issues.len() <= 20);
                    for i in issues {
                        prop_assert!(i.path.starts_with("filter"), "{}", i.path);
                        prop_assert!(!i.issue.is_empty());
                    }
                }
            }
        }

        /// A filter written out as JSON reads back as itself.
        #[test]
        fn round_trips(f in filter()) {
            prop_assert_eq!(parse(&to_json(&f), "filter").unwrap(), f);
        }

        /// `not` inverts, `all` is every, `any` is some; `ne` is the
        /// opposite of `eq`; `in` of one item is `eq`.
        #[test]
        fn logic_laws(f in filter(), g in filter(), lead in a_lead()) {
            let (a, b) = (f.matches(&lead), g.matches(&lead));
            prop_assert_eq!(Filter::Not(Box::new(f.clone())).matches(&lead), !a);
            prop_assert_eq!(Filter::All(vec![f.clone(), g.clone()]).matches(&lead), a && b);
            prop_assert_eq!(Filter::Any(vec![f.clone(), g.clone()]).matches(&lead), a || b);
            if let Filter::Cond { field, op: Op::Eq, value } = &f {
                let ne = Filter::Cond { field: field.clone(), op: Op::Ne, value: value.clone() };
                prop_assert_eq!(ne.matches(&lead), !a);
                let one = Filter::Cond { field: field.clone(), op: Op::In, value: json!([value]) };
                prop_assert_eq!(one.matches(&lead), a);
            }
        }
    }
}
