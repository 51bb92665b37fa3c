//! URLs as they may be shown or published: never a credential, whoever reads them.

use std::borrow::Cow;

use url::Url;

/// Words that, in a query parameter's name, say its value is a credential: shown as `***`.
const SECRET_PARAMETER_WORDS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "signature",
    "sig",
    "auth",
    "session",
    "credential",
];

/// `url` as it may be shown or published: no user name or password, and the value of each
/// query parameter whose name says it holds a credential (`api_key`, `token`, `sig`, …)
/// replaced by `***`. The request itself still uses them. What is not a URL (a file, a
/// command) is shown as it is.
pub fn shown_url(url: &str) -> Cow<'_, str> {
    let may_hide = url.contains('@') || url.contains('?');
    let Some(mut parsed) = may_hide.then(|| Url::parse(url).ok()).flatten() else {
        return Cow::Borrowed(url);
    };
    let mut changed = false;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        forget_credentials(&mut parsed);
        changed = true;
    }
    if let Some(query) = parsed.query() {
        let mut hidden = false;
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
                let name = percent_encoding::percent_decode_str(name)
                    .decode_utf8_lossy()
                    .to_ascii_lowercase();
                if SECRET_PARAMETER_WORDS.iter().any(|w| name.contains(w)) {
                    hidden = true;
                    format!("{}=***", pair.split('=').next().unwrap_or_default())
                } else {
                    pair.to_string()
                }
            })
            .collect();
        if hidden {
            parsed.set_query(Some(&pairs.join("&")));
            changed = true;
        }
    }
    match changed {
        true => Cow::Owned(parsed.to_string()),
        false => Cow::Borrowed(url),
    }
}

/// A webhook's URL as far as it may be shown: its scheme and host, then the start of a digest
/// of the whole URL, which tells two webhooks on one host apart and reveals nothing of it.
pub fn shown_webhook(url: &str) -> String {
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(url.as_bytes())
        .iter()
        .take(3)
        .map(|b| format!("{b:02x}"))
        .collect();
    let host = url::Url::parse(url)
        .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default()))
        .unwrap_or_default();
    format!("{host}/…{}", digest)
}

/// Drops a user name and password from `url`: they are never shown nor published.
pub fn forget_credentials(url: &mut Url) {
    // Only fails for URLs that cannot carry credentials, which then carry none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

/// Drops a user name and password from the URL `text`, if it has them.
pub(super) fn forget_credentials_in(text: &mut String) {
    // Only a URL with an `@` before its path can carry them: most need no parse.
    let authority = text.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    if !authority.contains('@') {
        return;
    }
    if let Ok(mut parsed) = Url::parse(text) {
        forget_credentials(&mut parsed);
        *text = parsed.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        let table = [
            (
                "https://example.org/feed.xml",
                "https://example.org/feed.xml",
            ),
            (
                "https://example.org/feed?api_key=abc&page=2",
                "https://example.org/feed?api_key=***&page=2",
            ),
            (
                "https://example.org/f?Token=x&SIG=y&q=a%20b&X-Amz-Signature=z&sessionid=s",
                "https://example.org/f?Token=***&SIG=***&q=a%20b&X-Amz-Signature=***&sessionid=***",
            ),
            (
                "https://user:***@example.org/feed",
                "https://example.org/feed",
            ),
            (
                "https://alice@example.org/a?auth=1",
                "https://example.org/a?auth=***",
            ),
            ("/srv/feeds/local.xml", "/srv/feeds/local.xml"),
        ];
        for (url, shown) in table {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}
