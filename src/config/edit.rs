//! Editing the config file as its user wrote it: sources appended (by `import-opml --append`)
//! with every comment and the layout kept (toml_edit).

/// A source to add to the config: a feed an OPML file named, say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    /// Its URL.
    pub url: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// `config` (TOML text) with a `[[sources]]` table appended for each feed; everything already
/// in it, comments included, is kept as written.
pub fn append_sources(config: &str, feeds: &[NewSource]) -> Result<String, toml_edit::TomlError> {
    let mut document: toml_edit::DocumentMut = config.parse()?;
    let sources = document
        .entry("sources")
        .or_insert(toml_edit::Item::ArrayOfTables(
            toml_edit::ArrayOfTables::new(),
        ));
    if let Some(tables) = sources.as_array_of_tables_mut() {
        for feed in feeds {
            let mut table = toml_edit::Table::new();
            if let Some(name) = &feed.name {
                table.insert("name", toml_edit::value(name.as_str()));
            }
            table.insert("url", toml_edit::value(feed.url.as_str()));
            if !feed.tags.is_empty() {
                let tags: toml_edit::Array = feed.tags.iter().map(String::as_str).collect();
                table.insert("tags", toml_edit::value(tags));
            }
            tables.push(table);
        }
    }
    Ok(document.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_keeps_the_config_as_written() {
        let config = "# My sources\n[poll]\ninterval = \"1h\" # hourly\n\n[[sources]]\nurl = \"https://a.example/\" # first\n";
        let feeds = [NewSource {
            url: "https://rusi.example/rss.xml".into(),
            name: Some("RUSI".into()),
            tags: vec!["Defence".into()],
        }];
        let updated = append_sources(config, &feeds[..1]).unwrap();
        assert!(updated.starts_with(config), "{updated}");
        assert!(updated.ends_with("[[sources]]\nname = \"RUSI\"\nurl = \"https://rusi.example/rss.xml\"\ntags = [\"Defence\"]\n"), "{updated}");
    }
}
