//! What is made from the command line's definitions (`args.rs`) alone: the shell completion
//! scripts (`clap_complete`) and the man page (`clap_mangen`), so that neither can drift from
//! the commands.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tributary", &mut script);
    std::io::stdout()
        .write_all(&script)
        .context("writing the completion script")
}

/// Prints tributary(1) in roff.
pub fn man_page() -> anyhow::Result<()> {
    let page = render_man_page().context("making the man page")?;
    std::io::stdout()
        .write_all(&page)
        .context("writing the man page")
}

/// The man page: the program's name, synopsis, description and global options (clap_mangen's),
/// then a section per command (nested ones too), then the files and the environment it reads.
fn render_man_page() -> std::io::Result<Vec<u8>> {
    let mut command = Cli::command();
    command.build();
    let mut page = Vec::new();
    // Not clap_mangen's list of subcommands, which names a page per command.
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    for sub in leaf_commands(&command) {
        page.extend(command_section(sub)?);
    }
    page.extend_from_slice(FILES_AND_ENVIRONMENT.as_bytes());
    Ok(page)
}

/// A command's section: its synopsis, description and options, the global ones left out (they
/// are shown once, above).
fn command_section(sub: &clap::Command) -> std::io::Result<Vec<u8>> {
    let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
    let shared: Vec<clap::Id> = sub
        .get_arguments()
        .filter(|a| a.is_global_set() || a.get_id() == "help")
        .map(|a| a.get_id().clone())
        .collect();
    let sub = shared
        .iter()
        .fold(sub.clone(), |sub, id| sub.mut_arg(id, |a| a.hide(true)));
    let man = clap_mangen::Man::new(sub.clone());
    let mut section = Vec::new();
    man.render_synopsis_section(&mut section)?;
    man.render_description_section(&mut section)?;
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut section)?;
    }
    // Its parts become paragraphs and a subsection of the command's section.
    let section = String::from_utf8_lossy(&section)
        .replace(".SH SYNOPSIS\n", "")
        .replace(".SH DESCRIPTION\n", ".PP\n")
        .replace(".SH OPTIONS\n", ".SS Options\n");
    Ok(format!(".SH \"{name}\"\n{section}").into_bytes())
}

/// Every command that runs something: `run`, `db copy`, `rules test`, …, in the help's order.
fn leaf_commands(command: &clap::Command) -> Vec<&clap::Command> {
    let mut leaves = Vec::new();
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        match sub.has_subcommands() {
            true => leaves.extend(leaf_commands(sub)),
            false => leaves.push(sub),
        }
    }
    leaves
}

const FILES_AND_ENVIRONMENT: &str = r#".SH FILES
.TP
\fI/etc/tributary/tributary.toml\fR
The config file of the packaged service (\fB\-\-config\fR; without it,
\fIconfig/tributary.toml\fR in the current folder). Relative paths in it resolve against its
folder. Every option is described in \fI/usr/share/doc/tributary/example.toml\fR.
.TP
\fI/etc/tributary/sources.d/*.toml\fR
More \fB[[sources]]\fR, one file per group; the running daemon picks up changes to them and to
the config file by itself.
.TP
\fI/var/lib/tributary/\fR
The service's state (its \fBStateDirectory\fR): the database \fItributary.db\fR, the daemon's
control socket \fItributary.sock\fR beside it, and the outputs under \fIpublic/\fR. Removing the
package leaves it in place.
.SH ENVIRONMENT
.TP
\fBTRIBUTARY_\fR\fITABLE\fR\fB__\fR\fIKEY\fR
Overrides a key of the config file, for example \fBTRIBUTARY_POLL__CONCURRENCY=8\fR; the value
is read as the key's type.
.TP
\fBRUST_LOG\fR
The log filter; it wins over \fB[log] level\fR.
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1); the README in \fI/usr/share/doc/tributary/\fR.
"#;
