//! Stories as `tributary stories` lists them and `explain` names an item's nearest.

use crate::model::Reported;
use crate::store::Nearest;

/// One line of text, however the publisher broke it.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn version(v: &Reported) -> String {
    format!(
        "{}  {}  {}  {}",
        v.sort_at.format("%Y-%m-%d %H:%M"),
        one_line(&v.publisher),
        one_line(v.title.as_deref().unwrap_or("(untitled)")),
        v.link.as_deref().unwrap_or("(no link)")
    )
}

/// `tributary stories`: each story, newest first, its lead and then each other version with
/// how similar it is to the version it was found beside.
pub fn stories_text(stories: &[Vec<Reported>], enabled: bool) -> String {
    let mut out = String::new();
    if !enabled {
        out.push_str("Stories are off ([stories] enabled = false): nothing is grouped.\n");
    }
    if stories.is_empty() {
        out.push_str("No story was reported by more than one source.\n");
        return out;
    }
    for story in stories {
        let Some((lead, others)) = story.split_first() else {
            continue;
        };
        out.push_str(&format!("{} versions: {}\n", story.len(), version(lead)));
        for other in others {
            out.push_str(&format!("  {:.2}  {}\n", other.similarity, version(other)));
        }
    }
    out
}

/// `explain`'s lines for one item: its nearest stored items, and whether it would join one's
/// story (`joins_at`: the similarity that joins; `None` when stories are off).
pub fn nearest_lines(nearest: &[Nearest], joins_at: Option<f64>) -> Vec<String> {
    if nearest.is_empty() {
        return vec!["     story:      no stored item of another source shares its text".into()];
    }
    nearest
        .iter()
        .map(|n| {
            let verdict = match joins_at {
                _ if n.joins => "joins its story".to_string(),
                None => "stories are off".to_string(),
                Some(at) if n.similarity >= at => {
                    "apart: its story has a version of this source, or a never".to_string()
                }
                Some(at) => format!("apart: below {at}"),
            };
            format!(
                "     nearest:    {:.2} {}  {}  ({verdict})",
                n.similarity,
                one_line(&n.version.publisher),
                one_line(n.version.title.as_deref().unwrap_or("(untitled)")),
            )
        })
        .collect()
}
