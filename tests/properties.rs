//! Property tests of the parsers that take outside input: the configuration file, claim
//! mapping, the sub map file, assurance claims and ID-token decoding.
//!
//! `PROPTEST_CASES` sets the cases per property (proptest's default is 256); for a long
//! run: `PROPTEST_CASES=100000 cargo test --test properties`. Failures proptest finds are
//! saved under tests/proptest-regressions and replayed first on every later run.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use ultraauth::assurance::{AssuranceClaims, AssurancePolicy};
use ultraauth::config::{CasePolicy, MappingConfig, parse_config};
use ultraauth::mapping::map_file::parse_map;
use ultraauth::mapping::{MAX_USERNAME_LEN, check_local_username, map_username};
use ultraauth::provider::id_token::{Expectations, decode, validate_claims};

const PATH: &str = "/etc/ultraauth/ultraauthd.toml";

/// JSON values of every shape, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[A-Za-z0-9._@-]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Claims with the names the mapping reads, each of any shape.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let names = ["sub", "preferred_username", "email", "email_verified", "groups", "amr", "acr", "auth_time"];
    proptest::collection::vec((proptest::sample::select(names.to_vec()), json_value()), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect())
}

fn mapping_config() -> impl Strategy<Value = MappingConfig> {
    let claim = proptest::sample::select(vec!["preferred_username", "email", "sub"]);
    let domain = proptest::option::of(proptest::sample::select(vec!["example.test", "EXAMPLE.test"]));
    let groups = proptest::option::of(proptest::collection::vec("[a-z-]{1,10}", 1..3));
    (claim, domain, any::<bool>(), groups).prop_map(|(claim, domain, lower, groups)| MappingConfig {
        claim: claim.to_owned(),
        strip_domain: domain.map(str::to_ascii_lowercase),
        case: if lower { CasePolicy::Lower } else { CasePolicy::Exact },
        groups_claim: "groups".into(),
        allowed_groups: groups,
        ..Default::default()
    })
}

/// TOML lines built from the daemon's configuration keys, with values of any type.
fn config_source() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[ -~]{0,30}".prop_map(|s| format!("{:?}", s)),
        proptest::collection::vec("[a-z:]{0,8}", 0..3).prop_map(|items| format!("{items:?}")),
    ];
    let key = proptest::sample::select(vec![
        "client_id", "scopes", "clock_leeway_secs", "request_timeout_secs", "id_token_algs", "claim", "strip_domain", "case",
        "lifetime_secs", "wait_secs", "flow", "require_amr", "acr_values", "max_age_secs", "failure_mode", "allowed_groups",
        "groups_claim", "session_lifetime_secs", "unknown_key",
    ]);
    let table = proptest::sample::select(vec!["[mapping]", "[sessions]", "[login]", "[assurance]", "[services.sshd]", "[services.other]", "[bogus]"]);
    let section = (table, proptest::collection::vec((key, value), 0..4))
        .prop_map(|(table, pairs)| format!("{table}\n{}", pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect::<String>()));
    proptest::collection::vec(section, 0..4).prop_map(|sections| {
        format!("[provider]\nissuer = \"https://srv.qryp.to/op\"\nclient_id = \"c\"\n\n{}", sections.join("\n"))
    })
}

proptest! {
    /// Any text: a configuration or an error with a message, never a panic.
    #[test]
    fn config_arbitrary_text_never_panics(source in "\\PC{0,400}") {
        if let Err(err) = parse_config(Path::new(PATH), &source) {
            prop_assert!(!err.message.is_empty());
        }
    }

    /// Known keys with values of any type: every accepted configuration is in range.
    #[test]
    fn config_accepted_values_are_in_range(source in config_source()) {
        let Ok(config) = parse_config(Path::new(PATH), &source) else { return Ok(()) };
        for service in ["sshd", "login", "other"] {
            let policy = config.policies.policy_for(service);
            prop_assert!((5..=3600).contains(&policy.wait_secs));
            prop_assert!(policy.session_lifetime_secs <= 86_400);
            let security = config.security.policy_for(service);
            prop_assert!(security.assurance.require_amr.iter().all(|amr| !amr.is_empty() && !amr.contains(' ')));
            prop_assert!(security.assurance.acr_values.iter().all(|acr| !acr.is_empty() && !acr.contains(' ')));
        }
        if let Some(groups) = &config.mapping.allowed_groups {
            prop_assert!(!groups.is_empty());
        }
    }

    /// Whatever the claims, a mapped name is a valid local username.
    #[test]
    fn mapping_yields_only_valid_usernames(claims in claims(), config in mapping_config()) {
        if let Ok(name) = map_username(&claims, &config) {
            prop_assert!(check_local_username(&name).is_ok(), "{name:?}");
            prop_assert!(name.len() <= MAX_USERNAME_LEN);
            if config.claim == "email" {
                prop_assert_eq!(claims.get("email_verified").and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s.eq_ignore_ascii_case("true")))), Some(true));
            }
            if let Some(allowed) = &config.allowed_groups {
                let groups = claims.get("groups").cloned().unwrap_or(Value::Null);
                let member = match &groups {
                    Value::String(group) => allowed.contains(group),
                    Value::Array(items) => items.iter().any(|item| item.as_str().is_some_and(|group| allowed.iter().any(|a| a == group))),
                    _ => false,
                };
                prop_assert!(member, "{groups}");
            }
        }
    }

    /// Usernames from arbitrary strings: accepted names use the portable character set.
    #[test]
    fn username_check_is_strict(name in "\\PC{0,40}") {
        if check_local_username(&name).is_ok() {
            prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            prop_assert!(!name.starts_with('-'));
        }
    }

    /// A parsed map file never maps two subs to one local user.
    #[test]
    fn map_file_has_no_shared_users(lines in proptest::collection::vec(("[a-c]{1,2}", "[a-c]{1,2}|root;x|-x"), 0..12)) {
        let text: String = lines.iter().map(|(sub, user)| format!("{sub} {user}\n")).collect();
        if let Ok(map) = parse_map(&text) {
            let mut users: Vec<&str> = lines.iter().filter_map(|(sub, _)| map.local_user(sub)).collect();
            users.sort();
            let before = users.len();
            users.dedup();
            prop_assert_eq!(before, users.len());
        }
    }

    /// Assurance claims of any shape: an accepted token has a required amr.
    #[test]
    fn assurance_accepts_only_required_amr(claims in claims(), now in 0u64..4_000_000_000) {
        let policy = AssurancePolicy { require_amr: vec!["fpt".into(), "face".into()], max_age_secs: Some(300), ..Default::default() };
        let assurance = AssuranceClaims::from_claims(&claims);
        if policy.check(&assurance, now, 60).is_ok() {
            let amr = claims.get("amr").and_then(Value::as_array).unwrap();
            prop_assert!(amr.iter().any(|m| m == "fpt" || m == "face"));
            let auth_time = claims.get("auth_time").and_then(Value::as_f64).unwrap();
            prop_assert!(auth_time <= now as f64 + 60.0 && now as f64 - auth_time <= 360.0);
        }
    }

    /// Arbitrary compact tokens: decoding and claim checks never panic.
    #[test]
    fn id_token_decode_never_panics(token in "[A-Za-z0-9_.=-]{0,300}", claims in claims()) {
        let _ = decode(&token);
        let algs = vec!["RS256".to_owned()];
        let expect = Expectations {
            issuer: "https://srv.qryp.to/op",
            client_id: "c",
            allowed_algs: &algs,
            client_secret: None,
            leeway_secs: 60,
            now: 1_800_000_000,
            nonce: None,
        };
        let _ = validate_claims(&claims, &expect);
    }
}
