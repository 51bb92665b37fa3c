//! Test feeds: items and whole RSS 2.0 and Atom documents.

/// One item of a test feed.
#[derive(Clone)]
pub struct TestItem {
    pub guid: String,
    pub title: String,
    pub body: String,
    pub date: String,
}

pub fn item(guid: &str, title: &str, date: &str) -> TestItem {
    TestItem {
        guid: guid.into(),
        title: title.into(),
        body: format!("<p>About {title}.</p>"),
        date: date.into(),
    }
}

/// An item with this body (HTML).
pub fn with_body(guid: &str, title: &str, body: &str, date: &str) -> TestItem {
    TestItem {
        body: body.into(),
        ..item(guid, title, date)
    }
}

/// A joint statement several publishers carry, for stories.
pub const JOINT_STATEMENT: &str = "<p>The four governments today agreed a joint plan to \
    restore the river's salmon, which have all but vanished from its upper reaches since the \
    dams were built in the 1950s.</p><p>The plan removes two of the smaller weirs by 2028, \
    builds fish passes on the three largest dams, and sets limits on the water taken for \
    irrigation in dry summers.</p><p>Ministers will report on progress to a joint committee \
    every year, and the first survey of spawning grounds begins in the spring.</p>";

/// An RSS 2.0 feed; `date` is RFC 2822.
pub fn rss(title: &str, site: &str, items: &[TestItem]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{title}</title><link>{site}</link><description>d</description>\n"
    );
    for i in items {
        xml.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{site}{}</link>\
             <description><![CDATA[{}]]></description><pubDate>{}</pubDate></item>\n",
            i.guid, i.title, i.guid, i.body, i.date
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

/// An Atom feed; `date` is RFC 3339.
pub fn atom(title: &str, site: &str, items: &[TestItem]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>{title}</title><id>{site}</id><link href=\"{site}\"/><updated>2025-01-01T00:00:00Z</updated>\n"
    );
    for i in items {
        xml.push_str(&format!(
            "<entry><id>{site}{}</id><title>{}</title><link href=\"{site}{}\"/>\
             <updated>{}</updated><content type=\"html\">{}</content></entry>\n",
            i.guid,
            i.title,
            i.guid,
            i.date,
            i.body.replace('<', "&lt;")
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// An RSS item with full control over guid and link.
pub fn raw_item(
    guid: Option<&str>,
    title: &str,
    link: Option<&str>,
    body: &str,
    date: &str,
) -> String {
    let mut xml = String::from("<item>");
    if let Some(guid) = guid {
        xml.push_str(&format!("<guid isPermaLink=\"false\">{guid}</guid>"));
    }
    xml.push_str(&format!("<title>{title}</title>"));
    if let Some(link) = link {
        xml.push_str(&format!("<link>{link}</link>"));
    }
    xml.push_str(&format!(
        "<description><![CDATA[{body}]]></description><pubDate>{date}</pubDate></item>"
    ));
    xml
}

/// An RSS 2.0 channel named `title` holding `items` (made by [`raw_item`]).
pub fn channel(title: &str, items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <link>https://{}.example/</link><description>d</description>{}</channel></rss>",
        title.to_lowercase().replace(' ', "-"),
        items.concat()
    )
}

/// A podcast-like RSS feed: items with enclosures, categories and a thumbnail.
pub fn podcast(title: &str, site: &str, tag: &str, items: &[(&str, &str, &str)]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>{title}</title><link>{site}</link><description>{title}</description>"#
    );
    for (guid, item_title, date) in items {
        let item_title = item_title.replace('&', "&amp;");
        xml.push_str(&format!(
            r#"<item><guid>{site}{guid}</guid><title>{item_title}</title><link>{site}{guid}</link>
<description><![CDATA[<p>Episode <b>{item_title}</b> &amp; more.</p>]]></description>
<pubDate>{date}</pubDate><category>{tag}</category><category>audio</category>
<enclosure url="{site}{guid}.mp3" length="123456" type="audio/mpeg"/></item>"#
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

/// Items `from..to`, newest first, each with a body of about 3.6 kB.
pub fn big_items(from: usize, to: usize) -> Vec<TestItem> {
    (from..to)
        .rev()
        .map(|n| TestItem {
            guid: format!("g{n}"),
            title: format!("Item {n}"),
            body: format!("<p>{}</p>", "lorem ipsum ".repeat(300)),
            date: format!("Mon, {:02} Aug 2025 10:00:00 GMT", 1 + n % 28),
        })
        .collect()
}
