//! Unit and property tests of [`super`]: examples, then proptests.

mod examples {
    use super::super::*;
    const US: Region = Region::US;
    use serde_json::json;

    fn fields(v: Value) -> RawFields {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    fn ok(v: Value) -> LeadInput {
        LeadInput::from_fields(fields(v), US, None).unwrap()
    }

    fn issues(v: Value) -> Vec<FieldIssue> {
        LeadInput::from_fields(fields(v), US, None).unwrap_err()
    }

    #[test]
    fn the_contract_example() {
        let l = ok(
            json!({"name": "Alex Customer", "phone": "+91 98765 43210", "email": "Alex@Example.com "}),
        );
        assert_eq!(l.email.as_deref(), Some("alex@example.com"));
        assert_eq!(l.phone.as_deref(), Some("+919876543210"));
        assert_eq!(l.first_name.as_deref(), Some("Alex"));
        assert_eq!(l.last_name.as_deref(), Some("Customer"));
        assert_eq!(l.name.as_deref(), Some("Alex Customer"));
    }

    #[test]
    fn aliases_and_names() {
        let l = ok(json!({"full_name": "Ann Marie Lee", "phone_number": "4155550123"}));
        assert_eq!(l.first_name.as_deref(), Some("Ann"));
        assert_eq!(l.last_name.as_deref(), Some("Marie Lee"));
        assert_eq!(l.phone.as_deref(), Some("+14155550123"));
        let l = ok(json!({"First Name": "Bo", "lastName": "Diddley", "Email": "bo@x.io"}));
        assert_eq!(l.name.as_deref(), Some("Bo Diddley"));
        let l = ok(json!({"first_name": "Cher", "email": "c@x.io"}));
        assert_eq!(l.name.as_deref(), Some("Cher"));
        assert_eq!(l.last_name, None);
        let l = ok(json!({"name": "Madonna", "email": "m@x.io"}));
        assert_eq!(l.first_name.as_deref(), Some("Madonna"));
        assert_eq!(l.last_name, None);
    }

    #[test]
    fn tags_and_custom_fields() {
        let l = ok(
            json!({"email": "a@b.co", "tags": " vip, , webinar,VIP ", "utm_source": "google", "empty": "", "n": 3}),
        );
        assert_eq!(l.tags, vec!["vip", "webinar"]);
        assert_eq!(l.custom_fields.get("utm_source"), Some(&json!("google")));
        assert_eq!(l.custom_fields.get("n"), Some(&json!(3)));
        assert!(!l.custom_fields.contains_key("empty"));
        let l = ok(json!({"email": "a@b.co", "tags": ["a", "b"]}));
        assert_eq!(l.tags, vec!["a", "b"]);
    }

    #[test]
    fn repeated_form_fields() {
        let raw = vec![
            ("email".to_owned(), json!("a@b.co")),
            ("tags[]".to_owned(), json!("x")),
            ("tags[]".to_owned(), json!("y")),
            ("interest".to_owned(), json!("a")),
            ("interest".to_owned(), json!("b")),
            ("email".to_owned(), json!("A@B.co")),
        ];
        let l = LeadInput::from_fields(raw, US, None).unwrap_err();
        assert_eq!(l[0].field, "email");
        let raw = vec![
            ("email".to_owned(), json!("a@b.co")),
            ("tags[]".to_owned(), json!("x")),
            ("tags[]".to_owned(), json!("y")),
            ("interest".to_owned(), json!("a")),
            ("interest".to_owned(), json!("b")),
            ("email".to_owned(), json!("a@b.co")),
        ];
        let l = LeadInput::from_fields(raw, US, None).unwrap();
        assert_eq!(l.tags, vec!["x", "y"]);
        assert_eq!(l.custom_fields["interest"], json!(["a", "b"]));
    }

    #[test]
    fn validation_reports_every_field() {
        let i = issues(json!({"name": "x"}));
        assert_eq!(
            i,
            vec![FieldIssue::new("email", "email or phone is required")]
        );
        let i = issues(json!({"email": "nope", "phone": "12"}));
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].field, "email");
        assert_eq!(i[1].field, "phone");
        let i = issues(json!({"email": 5}));
        assert_eq!(i[0].issue, "must be a string");
        let i = issues(json!({"email": "a@b.co", "name": "x".repeat(201)}));
        assert_eq!(i[0].field, "name");
        let i = issues(json!({"email": "a@b.co", "tags": {"a": 1}}));
        assert_eq!(i[0].field, "tags");
    }

    #[test]
    fn honeypot_is_ignored_as_data() {
        let raw = fields(json!({"email": "a@b.co", "company_url": ""}));
        assert!(!honeypot_tripped(&raw, "company_url"));
        let l = LeadInput::from_fields(raw, US, Some("company_url")).unwrap();
        assert!(l.custom_fields.is_empty());
        let raw = fields(json!({"email": "a@b.co", "company_url": "http://spam"}));
        assert!(honeypot_tripped(&raw, "company_url"));
    }

    #[test]
    fn control_characters_are_cleaned() {
        let l = ok(json!({"email": "a@b.co", "name": "Ann\u{0}\n  Lee"}));
        assert_eq!(l.name.as_deref(), Some("Ann Lee"));
    }
}

mod properties {
    use super::super::*;
    use crate::rules::inbound::normalise;
    const US: Region = Region::US;
    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(json_number),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_number(n: i64) -> Value {
        Value::Number(n.into())
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("email".to_owned()),
            Just("Phone".to_owned()),
            Just("phone_number".to_owned()),
            Just("full_name".to_owned()),
            Just("First Name".to_owned()),
            Just("last_name".to_owned()),
            Just("tags".to_owned()),
            Just("tags[]".to_owned()),
            ".{0,12}",
        ]
    }

    proptest! {
        /// Whatever arrives, the rules answer (a lead or issues) and never
        /// panic; a lead always has an email or a phone, already normalised.
        #[test]
        fn any_fields_give_a_clean_lead_or_issues(
            fields in prop::collection::vec((field_name(), any_json()), 0..12)
        ) {
            match LeadInput::from_fields(fields, US, None) {
                Ok(lead) => {
                    prop_assert!(lead.email.is_some() || lead.phone.is_some());
                    if let Some(e) = &lead.email {
                        prop_assert_eq!(normalise::email(e), Ok(e.clone()));
                    }
                    if let Some(p) = &lead.phone {
                        prop_assert!(p.starts_with('+'));
                        prop_assert_eq!(normalise::phone(p, US), Ok(p.clone()));
                    }
                    prop_assert!(lead.tags.len() <= MAX_TAGS);
                    for t in &lead.tags {
                        prop_assert!(!t.is_empty() && t.trim() == t);
                    }
                    prop_assert!(lead.custom_fields.values().all(|v| !is_empty(v)));
                }
                Err(issues) => prop_assert!(!issues.is_empty()),
            }
        }

        /// Normalising an email is idempotent and case-insensitive.
        #[test]
        fn email_normalisation_is_stable(
            local in "[a-zA-Z0-9]([a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9])?",
            domain in "[a-zA-Z0-9]{1,12}\\.[a-zA-Z]{2,6}",
            pad in " {0,3}"
        ) {
            prop_assume!(!local.contains(".."));
            let raw = format!("{pad}{local}@{domain}{pad}");
            let once = normalise::email(&raw).unwrap();
            prop_assert_eq!(&once, &once.to_lowercase());
            prop_assert_eq!(normalise::email(&once).unwrap(), once.clone());
            prop_assert_eq!(normalise::email(&raw.to_uppercase()).unwrap(), once);
        }

        /// A US number in any common spelling lands on one E.164 form.
        #[test]
        fn us_phone_spellings_agree(area in 201u32..989, exchange in 200u32..999, line in 0u32..9999) {
            let e164 = format!("+1{area}{exchange}{line:04}");
            if let Ok(canonical) = normalise::phone(&e164, US) {
                for spelling in [
                    format!("({area}) {exchange}-{line:04}"),
                    format!("{area}.{exchange}.{line:04}"),
                    format!("+1 {area} {exchange} {line:04}"),
                    format!("1-{area}-{exchange}-{line:04}"),
                ] {
                    prop_assert_eq!(normalise::phone(&spelling, US), Ok(canonical.clone()));
                }
            }
        }

        /// Names: a first and last name always make `name`, a full name
        /// always splits back.
        #[test]
        fn names_complete_each_other(first in "[A-Za-z]{1,10}", last in "[A-Za-z]{1,10}( [A-Za-z]{1,10})?") {
            let mut a = LeadInput { first_name: Some(first.clone()), last_name: Some(last.clone()), ..Default::default() };
            a.complete_names();
            prop_assert_eq!(a.name.clone(), Some(format!("{first} {last}")));
            let mut b = LeadInput { name: a.name.clone(), ..Default::default() };
            b.complete_names();
            prop_assert_eq!(b.first_name, Some(first));
            prop_assert_eq!(b.last_name, Some(last));
        }
    }
}
