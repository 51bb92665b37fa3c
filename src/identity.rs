//! What makes two items the same: canonical links, and the detection of publishers whose guids
//! change on every fetch. Pure.

use url::Url;

/// Query parameters that only track where a click came from; they never change the article.
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
    "igshid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "spm", "cmpid",
];

/// The form of a link two copies of one article share, whoever republished it: scheme and host
/// in lower case (the `url` crate does that), no fragment, no tracking parameters (`utm_*`,
/// `fbclid`, `gclid`, …), no default port, no trailing slash. `None` for what is not an
/// absolute http(s) URL.
pub fn canonical_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return None;
    }
    url.set_fragment(None);
    // The `url` crate already drops a port that is the scheme's default.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    // `/a/` and `/a`, `http://host/` and `http://host`, are the same page.
    let path = url.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    let mut text = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        text.pop();
    }
    Some(text)
}

fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || TRACKING_PARAMETERS.contains(&name.as_str())
}

/// One fetched item, as churn detection sees it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Whether its own key (guid, link or hash) is already stored for the source.
    pub key_known: bool,
    /// Its canonical link, if any.
    pub link: Option<&'a str>,
    /// Whether an item of the source with that link is already stored.
    pub link_known: bool,
}

/// Whether a fetch looks like guid churn: most of its items with unknown keys carry links,
/// unique within the fetch, of items already stored. Then those items are the stored ones with
/// new guids, and are matched by link. Links shared by several items of one fetch (feeds that
/// point every item at their home page) prove nothing, and neither does a single item.
pub fn guid_churn(items: &[Seen<'_>]) -> bool {
    let unknown: Vec<&Seen<'_>> = items.iter().filter(|s| !s.key_known).collect();
    let unique_link = |link: &str| items.iter().filter(|s| s.link == Some(link)).count() == 1;
    let relinked = unknown
        .iter()
        .filter(|s| s.link_known && s.link.is_some_and(unique_link))
        .count();
    relinked >= 2 && relinked * 2 >= unknown.len()
}

/// For each fetched item, whether to match it to a stored item by its canonical link: only when
/// the fetch looks like guid churn, and only items with an unknown key whose link is unique in
/// the fetch and already stored.
pub fn relinkable(items: &[Seen<'_>]) -> Vec<bool> {
    if !guid_churn(items) {
        return vec![false; items.len()];
    }
    items
        .iter()
        .map(|s| {
            !s.key_known
                && s.link_known
                && s.link
                    .is_some_and(|l| items.iter().filter(|o| o.link == Some(l)).count() == 1)
        })
        .collect()
}

/// An id that is the same for the same name, wherever and whenever it is made: a UUID (v5, URL
/// namespace) URN. Items' and outputs' ids are made so.
pub fn stable_urn(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
        .urn()
        .to_string()
}

/// Lowercase hexadecimal, for digests stored as text.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_links_fold_what_does_not_name_a_different_page() {
        let table = [
            (
                "HTTPS://News.Example.COM:443/a/story/?utm_source=rss&utm_medium=feed#comments",
                Some("https://news.example.com/a/story"),
            ),
            (
                "http://news.example.com:80/a?id=7&fbclid=xyz&gclid=abc",
                Some("http://news.example.com/a?id=7"),
            ),
            (
                "http://news.example.com:8080/a/",
                Some("http://news.example.com:8080/a"),
            ),
            (
                "https://news.example.com/",
                Some("https://news.example.com"),
            ),
            (
                "https://news.example.com/a/?page=2&UTM_Campaign=x",
                Some("https://news.example.com/a?page=2"),
            ),
            ("/relative/path", None),
            ("mailto:someone@example.com", None),
        ];
        for (link, expected) in table {
            assert_eq!(canonical_link(link).as_deref(), expected, "{link}");
        }
    }

    fn seen(key_known: bool, link: &str, link_known: bool) -> Seen<'_> {
        Seen {
            key_known,
            link: Some(link),
            link_known,
        }
    }

    #[test]
    fn churn_is_new_guids_on_known_distinct_links() {
        let churned = [
            seen(false, "a", true),
            seen(false, "b", true),
            seen(false, "c", false),
        ];
        assert!(guid_churn(&churned));

        let new_posts = [
            seen(false, "a", false),
            seen(false, "b", false),
            seen(true, "c", true),
        ];
        assert!(!guid_churn(&new_posts), "new items on new links");

        let home_page = [
            seen(false, "home", true),
            seen(false, "home", true),
            seen(true, "home", true),
        ];
        assert!(!guid_churn(&home_page), "every item links to the home page");

        let one = [seen(false, "a", true), seen(true, "b", true)];
        assert!(!guid_churn(&one), "a single re-guided item proves nothing");
    }
}
