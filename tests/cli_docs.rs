//! The shell completions and the man page are made from the command line's definitions: each
//! shell completes every command, and the man page has a section per command and renders
//! without a warning. Bash, fish, zsh and groff are Debian's; `.ci/run` installs fish and zsh,
//! and in CI (`CI` set) a missing one fails the test instead of skipping it.

mod common;

use std::process::Command;

use clap::CommandFactory as _;
use common::*;

/// Every command as typed: `run`, `db copy`, ….
fn commands() -> Vec<Vec<String>> {
    let cli = tributary::cli::Cli::command();
    let mut commands = Vec::new();
    for sub in cli.get_subcommands() {
        let name = sub.get_name().to_string();
        commands.push(vec![name.clone()]);
        for nested in sub.get_subcommands() {
            commands.push(vec![name.clone(), nested.get_name().to_string()]);
        }
    }
    assert!(commands.len() >= 18, "{commands:?}");
    commands
}

fn tributary(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The shell at `name`, or `None` after saying it skipped (a failure in CI).
fn shell(name: &str) -> Option<&str> {
    if Command::new(name).arg("-c").arg("true").output().is_ok() {
        return Some(name);
    }
    skipped(&format!("{name} is not installed (.ci/run installs it)"));
    None
}

/// What `shell` offers after the words `typed` for a word begun as `begun` (`script` defines
/// its completion for `tributary`).
fn offered(shell: &str, script: &std::path::Path, typed: &[String], begun: &str) -> String {
    let words = typed.join(" ");
    let program = match shell {
        // The words so far and the one being typed, as bash hands them to the function.
        "bash" => format!(
            "source {script}; COMP_WORDS=(tributary {words} '{begun}'); \
             COMP_CWORD=${{#COMP_WORDS[@]}}; COMP_CWORD=$((COMP_CWORD-1)); \
             _tributary tributary '{begun}' ''; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script = script.display()
        ),
        "fish" => format!(
            "source {script}; complete -C 'tributary {words} {begun}'",
            script = script.display()
        ),
        _ => unreachable!(),
    };
    let out = Command::new(shell).arg("-c").arg(program).output().unwrap();
    assert!(out.status.success(), "{shell}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_and_fish_complete_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bash", "fish"] {
        let Some(shell) = shell(name) else {
            continue;
        };
        let script = dir.path().join(name);
        std::fs::write(&script, tributary(&["completions", name])).unwrap();
        for command in commands() {
            let (above, last) = command.split_at(command.len() - 1);
            let offered = offered(shell, &script, above, "");
            assert!(
                offered
                    .lines()
                    .any(|l| l.split('\t').next() == Some(&last[0])),
                "{shell} does not offer {command:?} after {above:?}:\n{offered}"
            );
        }
        // Past a command, its own options.
        let offered = offered(shell, &script, &["once".into()], "--");
        assert!(offered.contains("--due"), "{shell}: {offered}");
    }
}

#[test]
fn zsh_loads_its_completion_for_every_command() {
    let Some(zsh) = shell("zsh") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("_tributary"),
        tributary(&["completions", "zsh"]),
    )
    .unwrap();
    // As zsh finds it in a folder of its fpath: the function is defined and registered.
    let out = Command::new(zsh)
        .arg("-fc")
        .arg(format!(
            "fpath=({} $fpath); autoload -U compinit; compinit -u -D; \
             autoload -U +X _tributary && print -r -- $_comps[tributary] && \
             functions _tributary",
            dir.path().display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{}", text, stderr(&out));
    assert!(text.starts_with("_tributary\n"), "{text}");
    for command in commands() {
        let last = command.last().unwrap();
        assert!(text.contains(&format!("'{last}:")), "zsh lacks {command:?}");
    }
}

#[test]
fn the_man_page_renders_without_a_warning_with_a_section_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("tributary.1");
    std::fs::write(&page, tributary(&["man"])).unwrap();
    let Ok(out) = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
    else {
        skipped("groff is not installed (Debian's groff-base, with man-db)");
        return;
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff warns: {}",
        stderr(&out)
    );
    let text = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-P-cbou"])
        .arg(&page)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let commands = commands();
    let leaves = commands
        .iter()
        .filter(|c| !commands.iter().any(|o| o.len() > c.len() && o[0] == c[0]));
    for command in leaves {
        let heading = format!("TRIBUTARY {}", command.join(" ").to_uppercase());
        assert!(text.contains(&heading), "no section {heading}:\n{text}");
    }
    assert!(text.contains("/etc/tributary/tributary.toml"), "{text}");
}
