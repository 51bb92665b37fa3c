//! The type every config key takes, and the check of a written config against it: a value of
//! the wrong type is named by its key and the type expected (`site.pages: expected a folder (a
//! string), found a boolean`) before serde reads the file, and every such value is found in
//! one pass. An environment override is text read as its key's type.
//!
//! The tables here follow `raw.rs`, and a key they do not list is refused as unknown (with the
//! keys its table takes): a key added to one and not the other is refused by every test that
//! writes it.

/// What a key takes: its description in errors and the TOML values it admits.
#[derive(Debug)]
pub(super) struct Type {
    /// `a folder (a string)`: what it is, then its TOML type.
    pub(super) what: &'static str,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Text,
    Integer,
    /// An integer or a float.
    Number,
    Boolean,
    List(&'static Type),
    Table(Fields),
    /// A table whose keys are the user's (`headers`), each value of this type.
    Map(&'static Type),
    /// A string, or a table of these keys (a secret: `{ env = "…" }`).
    TextOrTable(Fields),
}

type Fields = &'static [(&'static str, Type)];

const fn text(what: &'static str) -> Type {
    Type {
        what,
        kind: Kind::Text,
    }
}

const fn table(what: &'static str, fields: Fields) -> Type {
    Type {
        what,
        kind: Kind::Table(fields),
    }
}

const fn list(what: &'static str, of: &'static Type) -> Type {
    Type {
        what,
        kind: Kind::List(of),
    }
}

const TEXT: Type = text("a string");
const FILE: Type = text("a file (a string)");
const FOLDER: Type = text("a folder (a string)");
const DURATION: Type = text("a duration (a string)");
const SIZE: Type = text("a size (a string)");
const URL: Type = text("a URL (a string)");
const ADDRESS: Type = text("an address (a string)");
const PATTERN: Type = text("a pattern (a string)");
const QUERY: Type = text("a search query (a string)");
const INTEGER: Type = Type {
    what: "an integer",
    kind: Kind::Integer,
};
const NUMBER: Type = Type {
    what: "a number",
    kind: Kind::Number,
};
const BOOLEAN: Type = Type {
    what: "true or false (a boolean)",
    kind: Kind::Boolean,
};
const STRINGS: Type = list("a list of strings", &TEXT);
const SECRET: Type = Type {
    what: "a secret (a string, or a table with env or file)",
    kind: Kind::TextOrTable(&[("env", TEXT), ("file", FILE)]),
};

const WHEN: Type = table(
    "a table of conditions",
    &[
        ("title", PATTERN),
        ("summary", PATTERN),
        ("content", PATTERN),
        ("any", PATTERN),
        ("author", PATTERN),
        ("category", PATTERN),
        ("link", PATTERN),
        ("older_than", DURATION),
        ("newer_than", DURATION),
        ("reported_by_at_least", INTEGER),
    ],
);

const RULE: Type = table(
    "a rule (a table)",
    &[
        ("sources", STRINGS),
        ("tags", STRINGS),
        ("when", WHEN),
        ("action", TEXT),
        ("tag", TEXT),
    ],
);

const RULES: Type = list("a list of rules (tables)", &RULE);

const REPLACE: Type = table(
    "a rewrite (a table)",
    &[("field", TEXT), ("pattern", PATTERN), ("with", TEXT)],
);

const OUTPUT: Type = table(
    "an output (a table)",
    &[
        ("path", FILE),
        ("title", TEXT),
        ("max_items", INTEGER),
        ("keep_removed_sources", BOOLEAN),
        ("format", TEXT),
        ("tags", STRINGS),
        ("sources", STRINGS),
        ("max_age", DURATION),
        ("per_source", INTEGER),
        ("include", STRINGS),
        ("exclude", STRINGS),
        ("html", FILE),
        ("provenance", BOOLEAN),
        ("query", QUERY),
        ("stories", TEXT),
    ],
);

const WEBHOOK: Type = table(
    "a webhook (a table)",
    &[
        ("url", URL),
        ("secret", SECRET),
        ("tags", STRINGS),
        ("sources", STRINGS),
        ("include", STRINGS),
        ("exclude", STRINGS),
        ("query", QUERY),
    ],
);

const NEVER: Type = table(
    "a pair never joined (a table)",
    &[("links", STRINGS), ("sources", STRINGS)],
);

/// One `[[sources]]` table.
pub(super) const SOURCE: Type = table(
    "a source (a table)",
    &[
        ("name", TEXT),
        ("url", URL),
        ("interval", DURATION),
        ("tags", STRINGS),
        (
            "headers",
            Type {
                what: "a table of headers",
                kind: Kind::Map(&SECRET),
            },
        ),
        (
            "auth",
            table(
                "a table (username and password, or bearer)",
                &[("username", TEXT), ("password", SECRET), ("bearer", SECRET)],
            ),
        ),
        ("user_agent", TEXT),
        ("proxy", URL),
        ("ignore_cache", BOOLEAN),
        (
            "tls",
            table(
                "a table (ca, accept_invalid_certs)",
                &[("ca", FILE), ("accept_invalid_certs", BOOLEAN)],
            ),
        ),
        ("kind", TEXT),
        (
            "json",
            table(
                "a table of paths",
                &[
                    ("items", TEXT),
                    ("id", TEXT),
                    ("title", TEXT),
                    ("link", TEXT),
                    ("date", TEXT),
                    ("summary", TEXT),
                    ("content", TEXT),
                    ("author", TEXT),
                ],
            ),
        ),
        (
            "html",
            table(
                "a table of selectors",
                &[
                    ("item", TEXT),
                    ("title", TEXT),
                    ("link", TEXT),
                    ("date", TEXT),
                    ("date_format", TEXT),
                    ("summary", TEXT),
                    ("content", TEXT),
                    ("author", TEXT),
                ],
            ),
        ),
        ("command", STRINGS),
        ("timeout", DURATION),
        ("rules", RULES),
        ("remove", STRINGS),
        ("replace", list("a list of rewrites (tables)", &REPLACE)),
        ("strip_query", STRINGS),
        ("full_text", BOOLEAN),
        ("full_text_selector", TEXT),
        ("hub", URL),
    ],
);

/// The whole file.
pub(super) const CONFIG: Type = table(
    "a table",
    &[
        (
            "database",
            table(
                "a table",
                &[
                    ("path", FILE),
                    ("url", URL),
                    ("password", SECRET),
                    ("lease", DURATION),
                ],
            ),
        ),
        (
            "poll",
            table(
                "a table",
                &[
                    ("interval", DURATION),
                    ("concurrency", INTEGER),
                    ("per_host_concurrency", INTEGER),
                    ("timeout", DURATION),
                    ("connect_timeout", DURATION),
                    ("first_byte_timeout", DURATION),
                    ("max_body", SIZE),
                    ("user_agent", TEXT),
                    ("contact", TEXT),
                    ("max_interval", DURATION),
                    ("max_backoff", DURATION),
                    ("allow_private_redirects", BOOLEAN),
                    ("adopt_redirect_after", INTEGER),
                    ("proxy", URL),
                    ("adaptive", BOOLEAN),
                    ("min_interval", DURATION),
                ],
            ),
        ),
        ("outputs", list("a list of outputs (tables)", &OUTPUT)),
        ("health", table("a table", &[("path", FILE)])),
        (
            "retention",
            table(
                "a table",
                &[("max_age", DURATION), ("initial_items", INTEGER)],
            ),
        ),
        (
            "dedup",
            table(
                "a table",
                &[("across_sources", BOOLEAN), ("strip_query", STRINGS)],
            ),
        ),
        ("content", table("a table", &[("max_size", SIZE)])),
        (
            "service",
            table(
                "a table",
                &[("shutdown_timeout", DURATION), ("watch_config", BOOLEAN)],
            ),
        ),
        (
            "log",
            table("a table", &[("level", TEXT), ("format", TEXT)]),
        ),
        (
            "site",
            table(
                "a table",
                &[
                    ("base_url", URL),
                    ("pages", FOLDER),
                    ("templates", FOLDER),
                    ("items_per_page", INTEGER),
                    ("title", TEXT),
                ],
            ),
        ),
        (
            "metrics",
            table("a table", &[("listen", ADDRESS), ("per_source", BOOLEAN)]),
        ),
        ("opml", table("a table", &[("path", FILE)])),
        (
            "serve",
            table(
                "a table",
                &[
                    ("listen", ADDRESS),
                    ("root", FOLDER),
                    ("status", BOOLEAN),
                    ("header_timeout", DURATION),
                    ("idle_timeout", DURATION),
                    ("max_connections", INTEGER),
                    ("cache_size", SIZE),
                ],
            ),
        ),
        (
            "websub",
            table(
                "a table",
                &[
                    ("hub", URL),
                    ("timeout", DURATION),
                    ("subscribe", BOOLEAN),
                    ("callback_url", URL),
                    ("lease", DURATION),
                    ("poll_interval", DURATION),
                ],
            ),
        ),
        ("rules", RULES),
        ("webhooks", list("a list of webhooks (tables)", &WEBHOOK)),
        (
            "stories",
            table(
                "a table",
                &[
                    ("enabled", BOOLEAN),
                    ("similarity", NUMBER),
                    ("within", DURATION),
                    ("never", list("a list of pairs (tables)", &NEVER)),
                ],
            ),
        ),
        ("sources", list("a list of sources (tables)", &SOURCE)),
    ],
);

/// A key unknown or with a value of the wrong type: where (`outputs[1].path`) and what is wrong.
pub(super) type KeyProblem = (String, String);

impl Type {
    /// Every key of `value` (read as this type) that is unknown or has a value of the wrong
    /// type, each with its key below `at`.
    pub(super) fn check(&self, value: &toml::Value, at: &str, found: &mut Vec<KeyProblem>) {
        let mut path = Path(vec![Step::Key(at)]);
        self.check_at(value, &mut path, found);
    }

    fn check_at<'a>(
        &self,
        value: &'a toml::Value,
        path: &mut Path<'a>,
        found: &mut Vec<KeyProblem>,
    ) {
        use toml::Value as V;
        match (&self.kind, value) {
            (Kind::Text, V::String(_))
            | (Kind::Integer, V::Integer(_))
            | (Kind::Number, V::Integer(_) | V::Float(_))
            | (Kind::Boolean, V::Boolean(_))
            | (Kind::TextOrTable(_), V::String(_)) => {}
            (Kind::List(of), V::Array(values)) => {
                for (index, value) in values.iter().enumerate() {
                    path.0.push(Step::Index(index));
                    of.check_at(value, path, found);
                    path.0.pop();
                }
            }
            (Kind::Table(fields) | Kind::TextOrTable(fields), V::Table(table)) => {
                for (key, value) in table {
                    path.0.push(Step::Key(key));
                    match fields.iter().find(|(name, _)| name == key) {
                        Some((_, of)) => of.check_at(value, path, found),
                        None => found.push((path.shown(), unknown(fields))),
                    }
                    path.0.pop();
                }
            }
            (Kind::Map(of), V::Table(table)) => {
                for (key, value) in table {
                    path.0.push(Step::Key(key));
                    of.check_at(value, path, found);
                    path.0.pop();
                }
            }
            _ => found.push((
                path.shown(),
                format!("expected {}, found {}", self.what, a_value_like(value)),
            )),
        }
    }

    /// The type of the key at `keys` (`["poll", "concurrency"]`) below this table's.
    pub(super) fn at(&self, keys: &[&str]) -> Option<&Type> {
        let Some((first, rest)) = keys.split_first() else {
            return Some(self);
        };
        match &self.kind {
            Kind::Table(fields) => fields
                .iter()
                .find(|(name, _)| name == first)
                .and_then(|(_, of)| of.at(rest)),
            Kind::Map(of) => of.at(rest),
            _ => None,
        }
    }

    /// An environment override's text as a value of this type, or why it is not one (an
    /// environment variable is text: a string key takes it as it is).
    pub(super) fn env_value(&self, text: &str) -> Result<toml::Value, String> {
        let refused = || format!("expected {}, found {text:?}", self.what);
        match &self.kind {
            Kind::Text | Kind::TextOrTable(_) => Ok(toml::Value::String(text.to_string())),
            Kind::Integer => text
                .trim()
                .parse()
                .map(toml::Value::Integer)
                .map_err(|_| refused()),
            Kind::Number => text
                .trim()
                .parse()
                .map(toml::Value::Float)
                .map_err(|_| refused()),
            Kind::Boolean => match text.trim() {
                "true" => Ok(toml::Value::Boolean(true)),
                "false" => Ok(toml::Value::Boolean(false)),
                _ => Err(refused()),
            },
            Kind::List(_) | Kind::Table(_) | Kind::Map(_) => Err(format!(
                "{} cannot be set from the environment; set it in the file",
                self.what
            )),
        }
    }
}

/// The keys down to a value, shown in errors as `outputs[1].path`.
struct Path<'a>(Vec<Step<'a>>);

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Path<'_> {
    fn shown(&self) -> String {
        let mut shown = String::new();
        for step in &self.0 {
            match step {
                Step::Key(key) if shown.is_empty() => shown.push_str(key),
                Step::Key(key) if !key.is_empty() => {
                    shown.push('.');
                    shown.push_str(key);
                }
                Step::Key(_) => {}
                Step::Index(index) => shown.push_str(&format!("[{index}]")),
            }
        }
        shown
    }
}

/// What an unknown key is told: the keys its table takes.
fn unknown(fields: Fields) -> String {
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    format!("unknown key (expected one of: {})", names.join(", "))
}

/// "a boolean", "a list", …: what a TOML value is, in an error.
fn a_value_like(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mistyped(text: &str) -> Vec<KeyProblem> {
        let value = toml::Value::Table(toml::from_str(text).unwrap());
        let mut found = Vec::new();
        CONFIG.check(&value, "", &mut found);
        found
    }

    #[test]
    fn every_wrong_value_is_named_by_its_key_in_one_pass() {
        let mut found = mistyped(
            "[site]\npages = true\n[poll]\nconcurrency = \"8\"\n\
             [[outputs]]\npath = \"a.xml\"\ntags = [\"x\", 3]\n\
             [[sources]]\nurl = \"https://a.example/\"\nheaders = { X = { env = 5 } }\n",
        );
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "outputs[0].tags[1]".to_string(),
                    "expected a string, found an integer".to_string()
                ),
                (
                    "poll.concurrency".into(),
                    "expected an integer, found a string".into()
                ),
                (
                    "site.pages".into(),
                    "expected a folder (a string), found a boolean".into()
                ),
                (
                    "sources[0].headers.X.env".into(),
                    "expected a string, found an integer".into()
                ),
            ]
        );
        assert!(mistyped("[stories]\nsimilarity = 1\n").is_empty());
        assert_eq!(
            mistyped("[health]\npath = \"h.xml\"\npaht = 1\n"),
            [(
                "health.paht".to_string(),
                "unknown key (expected one of: path)".to_string()
            )]
        );
    }

    /// Values of the type `of`, each setting one key below it (with the tables above it), to a
    /// value of that key's type.
    fn one_key_each(of: &Type) -> Vec<toml::Value> {
        use toml::Value as V;
        match &of.kind {
            Kind::Text | Kind::TextOrTable(_) => vec![V::String("x".into())],
            Kind::Integer => vec![V::Integer(1)],
            Kind::Number => vec![V::Float(0.5)],
            Kind::Boolean => vec![V::Boolean(true)],
            Kind::List(item) => one_key_each(item)
                .into_iter()
                .map(|v| V::Array(vec![v]))
                .collect(),
            Kind::Map(item) => one_key_each(item)
                .into_iter()
                .map(|v| V::Table([("X-Key".to_string(), v)].into_iter().collect()))
                .collect(),
            Kind::Table(fields) => fields
                .iter()
                .flat_map(|(name, of)| {
                    one_key_each(of)
                        .into_iter()
                        .map(|v| V::Table([(name.to_string(), v)].into_iter().collect()))
                })
                .collect(),
        }
    }

    /// The other half of "the tables follow raw.rs": each key they list, set alone to a value
    /// of its type, passes them, and serde knows it (it may refuse the value, `format = "x"`,
    /// never the key).
    #[test]
    fn every_key_listed_here_is_one_serde_reads() {
        let configs = one_key_each(&CONFIG);
        assert!(configs.len() > 120, "{}", configs.len());
        for config in configs {
            let mut found = Vec::new();
            CONFIG.check(&config, "", &mut found);
            assert_eq!(found, [], "{config}");
            // Sources are read one by one (`load.rs`), the rest as a whole.
            let read = match config.get("sources").and_then(|s| s.get(0)) {
                Some(source) => source
                    .clone()
                    .try_into::<super::super::raw::RawSource>()
                    .err(),
                None => config.try_into::<super::super::raw::RawConfig>().err(),
            };
            if let Some(error) = read {
                assert!(!error.message().contains("unknown field"), "{error}");
            }
        }
    }

    #[test]
    fn environment_text_is_read_as_its_key_s_type() {
        let of = |keys: &[&str]| CONFIG.at(keys).unwrap();
        assert_eq!(
            of(&["site", "pages"]).env_value("true"),
            Ok(toml::Value::String("true".into()))
        );
        assert_eq!(
            of(&["poll", "concurrency"]).env_value("8"),
            Ok(toml::Value::Integer(8))
        );
        assert_eq!(
            of(&["poll", "concurrency"]).env_value("eight"),
            Err("expected an integer, found \"eight\"".into())
        );
        assert_eq!(
            of(&["service", "watch_config"]).env_value("yes"),
            Err("expected true or false (a boolean), found \"yes\"".into())
        );
        assert!(of(&["outputs"]).env_value("x").is_err());
        assert!(CONFIG.at(&["poll", "nonsense"]).is_none());
    }
}
