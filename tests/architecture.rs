//! The house's layering, checked: every `crate::` path a top-level module of `src/` uses must be
//! one `ARCHITECTURE.md`'s "Layers" table allows it, no two top-level modules may reach each
//! other (directly or round a circle), functions stay short and the binary thin.
//!
//! The table is read from `ARCHITECTURE.md` itself, so the map and the check cannot drift
//! apart. Test code (`#[cfg(test)]` items) is left out: a unit test may build its fixtures
//! from any layer without the program depending on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The longest a function may be, in lines from its signature to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

/// The longest `main.rs` may be: clap definitions, logging and dispatch.
const MAX_MAIN_LINES: usize = 200;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One row of the table: a module, the modules it may use, and the rule in words.
struct Layer {
    may_use: BTreeSet<String>,
    rule: String,
}

/// The "Layers" table of `ARCHITECTURE.md`: `| \`module\` | \`a\`, \`b\` | rule |`, `—` for
/// none.
fn layers() -> BTreeMap<String, Layer> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Layers"))
        .expect("ARCHITECTURE.md has a \"## Layers\" section");
    let mut table = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a Layers row has three cells: {line}");
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        };
        let module = names(cells[0]).into_iter().next().expect("a module name");
        let layer = Layer {
            may_use: names(cells[1]),
            rule: cells[2].to_string(),
        };
        assert!(
            table.insert(module.clone(), layer).is_none(),
            "{module} has two rows"
        );
    }
    table
}

/// A `crate::` path's first segment, where it was written.
struct Use {
    file: String,
    line: usize,
    module: String,
}

/// Every `.rs` file under `src/` but the binary and the crate root, with its top-level module.
fn sources() -> Vec<(String, String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(&src)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            let top = relative
                .split('/')
                .next()?
                .trim_end_matches(".rs")
                .to_string();
            if top == "main" || top == "lib" {
                return None;
            }
            let code = without_tests(&code_only(&std::fs::read_to_string(&path).ok()?));
            Some((format!("src/{relative}"), top, code))
        })
        .collect()
}

/// `text` with comments, string and character literals blanked (line breaks kept), so that a
/// path in a doc comment or a message is not taken for a use.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, span: &[char]| {
        out.extend(span.iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
    };
    while i < chars.len() {
        let rest = &chars[i..];
        let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let end = if rest.starts_with(&['/', '/']) {
            i + rest.iter().position(|&c| c == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            let mut depth = 0;
            let mut j = i;
            loop {
                if chars[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 2;
                } else if chars[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break j;
                    }
                } else {
                    j += 1;
                }
            }
        } else if !after_ident && (rest[0] == 'r' || rest.starts_with(&['b', 'r'])) && {
            let start = if rest[0] == 'b' { 2 } else { 1 };
            let hashes = rest[start..].iter().take_while(|&&c| c == '#').count();
            rest.get(start + hashes) == Some(&'"')
        } {
            let start = if rest[0] == 'b' { 2 } else { 1 };
            let hashes = rest[start..].iter().take_while(|&&c| c == '#').count();
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = i + start + hashes + 1;
            let found = (body..chars.len())
                .find(|&j| chars[j..].starts_with(&close))
                .expect("a raw string ends");
            found + close.len()
        } else if rest[0] == '"' {
            let mut j = i + 1;
            while chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else if rest[0] == '\'' && rest.get(1) == Some(&'\\') {
            i + 2
                + rest[2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .expect("a char ends")
                + 1
        } else if rest[0] == '\'' && rest.get(2) == Some(&'\'') {
            i + 3
        } else {
            out.push(rest[0]);
            i += 1;
            continue;
        };
        blank(&mut out, &chars[i..end]);
        i = end;
    }
    out
}

/// `code` with every `#[cfg(test)]` item blanked (a module's braces, or up to its `;`).
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find("#[cfg(test)]").map(|p| p + from) {
        let bytes = out.as_bytes();
        let mut j = at;
        let mut depth = 0usize;
        let end = loop {
            match bytes[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break j + 1;
                    }
                }
                b';' if depth == 0 => break j + 1,
                _ => {}
            }
            j += 1;
        };
        let blanked: String = out[at..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..end, &blanked);
        from = end;
    }
    out
}

/// The first segment of every `crate::` path in `code`: `crate::a::b` gives `a`, and
/// `crate::{a::b, c}` gives `a` and `c`.
fn crate_uses(file: &str, code: &str) -> Vec<Use> {
    let mut uses = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::").map(|p| p + from) {
        from = at + "crate::".len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[from..];
        let segments: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = k;
                    break;
                }
            }
            let mut parts = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (k, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&group[start..k]);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&group[start..end]);
            parts
        } else {
            vec![rest]
        };
        for segment in segments {
            let name: String = segment
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != "self" {
                uses.push(Use {
                    file: file.to_string(),
                    line: line_of(at),
                    module: name,
                });
            }
        }
    }
    uses
}

/// Every use of another top-level module, by the module that makes it.
fn uses_by_module() -> BTreeMap<String, Vec<Use>> {
    let mut by_module: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for (file, top, code) in sources() {
        let entry = by_module.entry(top.clone()).or_default();
        entry.extend(
            crate_uses(&file, &code)
                .into_iter()
                .filter(|u| u.module != top),
        );
    }
    by_module
}

#[test]
fn every_module_has_a_row_and_every_row_a_module() {
    let table = layers();
    let modules: BTreeSet<String> = uses_by_module().into_keys().collect();
    let unlisted: Vec<&String> = modules.iter().filter(|m| !table.contains_key(*m)).collect();
    let gone: Vec<&String> = table.keys().filter(|m| !modules.contains(*m)).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "ARCHITECTURE.md's Layers table and src/ disagree: modules without a row {unlisted:?}, rows without a module {gone:?}"
    );
}

#[test]
fn every_import_is_one_the_layers_table_allows() {
    let table = layers();
    let mut broken = String::new();
    for (module, uses) in uses_by_module() {
        let Some(layer) = table.get(&module) else {
            continue;
        };
        for used in uses.iter().filter(|u| !layer.may_use.contains(&u.module)) {
            let allowed: Vec<&str> = layer.may_use.iter().map(String::as_str).collect();
            let _ = writeln!(
                broken,
                "{}:{}: `{module}` uses `{}`, which the Layers table does not allow (it may use: {}). Rule: {}",
                used.file,
                used.line,
                used.module,
                if allowed.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.join(", ")
                },
                layer.rule
            );
        }
    }
    assert!(
        broken.is_empty(),
        "imports that break the layering:\n{broken}"
    );
}

#[test]
fn no_two_modules_reach_each_other() {
    let uses = uses_by_module();
    let edges: BTreeMap<&str, BTreeMap<&str, &Use>> = uses
        .iter()
        .map(|(module, uses)| {
            let mut first = BTreeMap::new();
            for u in uses {
                first.entry(u.module.as_str()).or_insert(u);
            }
            (module.as_str(), first)
        })
        .collect();
    // A path back from each module's neighbour to the module itself is a circle; each is told
    // once, from its first module by name.
    let mut seen = BTreeSet::new();
    let mut circles = String::new();
    for (&from, targets) in &edges {
        for &to in targets.keys() {
            let Some(back) = path(&edges, to, from) else {
                continue;
            };
            let mut circle: Vec<&str> = std::iter::once(from).chain(back).collect();
            circle.pop();
            let first = (0..circle.len()).min_by_key(|&i| circle[i]).unwrap_or(0);
            circle.rotate_left(first);
            if !seen.insert(circle.clone()) {
                continue;
            }
            circle.push(circle[0]);
            let _ = writeln!(circles, "{}", circle.join(" → "));
            for hop in circle.windows(2) {
                let u = edges[hop[0]][hop[1]];
                let _ = writeln!(
                    circles,
                    "    {}:{}: `{}` uses `{}`",
                    u.file, u.line, hop[0], hop[1]
                );
            }
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other:\n{circles}"
    );
}

/// The modules from `from` to `to` along uses, if `to` can be reached.
fn path<'a>(
    edges: &BTreeMap<&'a str, BTreeMap<&'a str, &Use>>,
    from: &'a str,
    to: &'a str,
) -> Option<Vec<&'a str>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from]];
    while let Some(trail) = stack.pop() {
        let last = *trail.last()?;
        if last == to {
            return Some(trail);
        }
        if !seen.insert(last) {
            continue;
        }
        for &next in edges.get(last).into_iter().flat_map(|t| t.keys()) {
            let mut longer = trail.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

#[test]
fn no_function_outside_tests_is_longer_than_80_lines() {
    let mut long = String::new();
    for (file, _, code) in sources() {
        for (name, line, length) in functions(&code) {
            if length > MAX_FUNCTION_LINES {
                let _ = writeln!(long, "{file}:{line}: `{name}` is {length} lines");
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n{long}"
    );
}

/// Each function with a body in `code`: its name, first line and length in lines.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("fn ").map(|p| p + from) {
        from = at + 3;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let name: String = code[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body is the first brace after the signature, unless a `;` ends it first.
        let mut j = from;
        let mut angle_or_paren = 0i32;
        while j < bytes.len() {
            match bytes[j] {
                b'(' | b'<' => angle_or_paren += 1,
                b')' | b'>' if bytes[j - 1] != b'-' && bytes[j - 1] != b'=' => angle_or_paren -= 1,
                b'{' if angle_or_paren <= 0 => break,
                b';' if angle_or_paren <= 0 => break,
                _ => {}
            }
            j += 1;
        }
        if j >= bytes.len() || bytes[j] == b';' {
            continue;
        }
        let mut depth = 0;
        let mut end = j;
        while end < bytes.len() {
            match bytes[end] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let first = code[..at].matches('\n').count() + 1;
        let last = code[..end].matches('\n').count() + 1;
        found.push((name, first, last - first + 1));
    }
    found
}

#[test]
fn the_binary_is_arguments_logging_and_dispatch() {
    let main = std::fs::read_to_string(root().join("src/main.rs")).expect("src/main.rs");
    let lines = main.lines().count();
    assert!(
        lines <= MAX_MAIN_LINES,
        "src/main.rs is {lines} lines (at most {MAX_MAIN_LINES}): a command's body belongs in the library's `cli`"
    );
}

#[test]
fn the_reader_of_paths_sees_what_the_compiler_sees() {
    // The scanner itself, on the shapes it must get right.
    let code = code_only(
        "use crate::{a::{b, c}, d};\n// crate::e\nlet s = \"crate::f\";\nlet r = r#\"crate::g\"#;\nlet c = '\"'; x(crate::h::i);\n#[cfg(test)]\nmod tests { use crate::j; }\nfn long() {\n}\n",
    );
    let code = without_tests(&code);
    let names: Vec<(String, usize)> = crate_uses("x.rs", &code)
        .into_iter()
        .map(|u| (u.module, u.line))
        .collect();
    assert_eq!(
        names,
        [("a".into(), 1), ("d".into(), 1), ("h".into(), 5)],
        "{code}"
    );
    assert_eq!(functions(&code), [("long".to_string(), 8, 2)]);
}
