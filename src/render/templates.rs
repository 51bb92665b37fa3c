//! The HTML templates of the site and of the outputs' pages: minijinja files shipped in the
//! repository's `templates/` and embedded in the binary, each replaceable by a file of the same
//! name in `[site] templates` (read by the config). They are compiled and tried on a sample
//! once the config is loaded ([`check`]), so that a broken one is a config error naming its file
//! and line, never a half-written site.

use std::path::PathBuf;

use minijinja::{AutoEscape, Environment};

use super::provenance::escape;
use crate::config::{Config, ConfigError, Problem, Publishing, TemplateFile};

/// The templates shipped with Tributary, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("entries.html", include_str!("../../templates/entries.html")),
    ("river.html", include_str!("../../templates/river.html")),
    ("item.html", include_str!("../../templates/item.html")),
    ("source.html", include_str!("../../templates/source.html")),
    ("sources.html", include_str!("../../templates/sources.html")),
    ("tag.html", include_str!("../../templates/tag.html")),
    ("status.html", include_str!("../../templates/status.html")),
    ("search.html", include_str!("../../templates/search.html")),
    ("story.html", include_str!("../../templates/story.html")),
    ("style.css", include_str!("../../templates/style.css")),
];

/// One template: its name, its text, and the file it was read from (`None`: built in).
#[derive(Debug, Clone, PartialEq)]
struct Template {
    name: String,
    text: String,
    file: Option<PathBuf>,
}

/// The templates in force: the built-in ones, with those a user's folder holds in their place
/// (and any other `.html` file there, for the user's own parts).
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    templates: Vec<Template>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            templates: BUILT_IN
                .iter()
                .map(|(name, text)| Template {
                    name: (*name).into(),
                    text: (*text).into(),
                    file: None,
                })
                .collect(),
        }
    }
}

impl Templates {
    /// The built-in templates with a user's `files` in their place (and beside them, for a
    /// user's own parts).
    pub fn with(files: &[TemplateFile]) -> Templates {
        let mut templates = Templates::default();
        for file in files {
            let template = Template {
                name: file.name.clone(),
                text: file.text.clone(),
                file: Some(file.file.clone()),
            };
            match templates.templates.iter_mut().find(|t| t.name == file.name) {
                Some(slot) => *slot = template,
                None => templates.templates.push(template),
            }
        }
        templates
    }

    /// Compiles every template and tries each page on a sample: an error names the file and
    /// the line.
    pub fn try_all(&self) -> Result<(), String> {
        let env = self.environment().map_err(|e| self.describe(&e))?;
        super::site::try_every_page(&env).map_err(|e| self.describe(&e))
    }

    /// The site's templates (a user's in place of the built-in ones), else the built-in ones.
    pub fn in_force(publishing: &Publishing) -> Templates {
        match &publishing.site {
            Some(site) => Templates::with(&site.templates),
            None => Templates::default(),
        }
    }

    /// An environment holding every template, HTML-escaping what they print.
    pub fn environment(&self) -> Result<Environment<'static>, minijinja::Error> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        // minijinja's HTML escaping also escapes `/`, which makes every URL unreadable in the
        // source; `&`, `<`, `>` and quotes are what HTML needs.
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
                out.write_str(&escape(text)).map_err(minijinja::Error::from)
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        for template in &self.templates {
            env.add_template_owned(template.name.clone(), template.text.clone())?;
        }
        Ok(env)
    }

    /// `error` told with the file it comes from and its line.
    pub fn describe(&self, error: &minijinja::Error) -> String {
        let name = error.name().unwrap_or("a template");
        let file = self.templates.iter().find(|t| t.name == name).map_or_else(
            || name.to_string(),
            |t| match &t.file {
                Some(file) => file.display().to_string(),
                None => format!("the built-in {name}"),
            },
        );
        let line = error
            .line()
            .map(|l| format!(" line {l}"))
            .unwrap_or_default();
        let what = error.detail().map_or_else(
            || error.kind().to_string(),
            |d| format!("{}: {d}", error.kind()),
        );
        format!("{file}{line}: {what}")
    }
}

/// The site's templates of `config` compiled and tried on a sample, as the config is loaded (by
/// the commands, and by the daemon's reload): a broken one is a config error at
/// `site.templates` naming its file and line.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    let Some(site) = &config.publishing.site else {
        return Ok(());
    };
    Templates::with(&site.templates)
        .try_all()
        .map_err(|message| ConfigError {
            problems: vec![Problem {
                file: config.file.clone(),
                key: "site.templates".into(),
                message,
            }],
        })
}
