//! argv → run → exit code; the error, if any, is printed here and only here.

use std::sync::Arc;

use clap::FromArgMatches;

use korthbox::base::env::Env;
use korthbox::cli::commands::{self, ExitCode};
use korthbox::cli::grammar::{Cli, Command};
use korthbox::cli::ui::{Style, Ui};

fn main() -> std::process::ExitCode {
    let (args, renamed) = match command_line() {
        Ok(line) => line,
        Err(e) => {
            eprintln!("{e}");
            return exit(ExitCode::from(&e));
        }
    };
    let json = korthbox::cli::argv::wants_json(&args);
    let (config, matches) = match parse(&args, json) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return fail_json(json, &e);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let (env, ui) = environment(&cli);
    for notice in &renamed {
        ui.note(notice);
    }
    if let Some(config) = &config {
        config_notes(&ui, &cli, config, &matches);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime\n  caused by: {e}");
            return exit(ExitCode::Failure);
        }
    };
    let ends_with_ctrl_c = ends_with_ctrl_c(&cli.command);
    let hint = interrupted_hint(&cli.command);
    let code = runtime.block_on(async {
        let typed = args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let mut work = std::pin::pin!(commands::run(cli, env, ui.clone(), typed));
        let result = if ends_with_ctrl_c {
            work.await
        } else {
            tokio::select! {
                result = &mut work => result,
                _ = tokio::signal::ctrl_c() => {
                    if let Some(code) = stop_now(&ui, hint) {
                        return code;
                    }
                    // The work heard it too and is cleaning up (the proof deletes its
                    // study); a second Ctrl-C stops at once.
                    ui.note("interrupted: cleaning up first (Ctrl-C again stops at once)");
                    tokio::select! {
                        result = &mut work => result,
                        _ = tokio::signal::ctrl_c() => {
                            ui.clear();
                            eprintln!("\n{}", ui.interrupted(hint));
                            return ExitCode::Interrupted;
                        }
                    }
                }
            }
        };
        finish(&ui, json, result)
    });
    // Probes that timed out may still hold a socket; do not wait for them.
    runtime.shutdown_background();
    exit(code)
}

/// What the first Ctrl-C does: at a question it is an answer (nothing was changed); while work
/// runs unshielded it stops korthbox; `None` when the work is cleaning up and is waited for.
fn stop_now(ui: &Ui, hint: Option<&str>) -> Option<ExitCode> {
    if ui.asking() {
        eprintln!("\nInterrupted at the question: nothing was changed.");
        return Some(ExitCode::Interrupted);
    }
    if korthbox::base::report::shielded() {
        return None;
    }
    ui.clear();
    eprintln!("\n{}", ui.interrupted(hint));
    Some(ExitCode::Interrupted)
}

/// The process's environment (with `--kubeconfig` as KUBECONFIG) and the terminal's Ui.
fn environment(cli: &Cli) -> (Env, Arc<Ui>) {
    let mut env = Env::from_process();
    if let Some(file) = &cli.kubeconfig {
        env = env.with_var(korthbox::base::env::KUBECONFIG, file);
    }
    let ui = Arc::new(Ui::new(Style::detect(&env, cli.verbose, cli.quiet)));
    (env, ui)
}

/// The command line in korthbox's own flags: `-o json|yaml` as `--json` (YAML then chosen for
/// every document), each old `--timeout` as the command's named limit (with the notices to
/// say), and the sandbox's name as a word as `--name`.
fn command_line() -> Result<(Vec<std::ffi::OsString>, Vec<String>), korthbox::base::error::Error> {
    use korthbox::cli::argv;
    let (args, output) = argv::output_flag(std::env::args_os().collect())?;
    if output == argv::Output::Yaml {
        korthbox::cli::ui::render::write_yaml();
    }
    let (args, renamed) = argv::old_spellings(args);
    Ok((argv::name_word(args), renamed))
}

/// `forward`, `open` (when it forwards) and `logs -f` end with Ctrl-C by design, and `upload`
/// and `export` stop cleanly on it; everything else is interrupted by it.
fn ends_with_ctrl_c(command: &Command) -> bool {
    matches!(
        command,
        Command::Forward(_)
            | Command::Open(_)
            | Command::Upload(_)
            | Command::Export(_)
            | Command::Logs(_)
    )
}

/// What to do after Ctrl-C, for the commands where there is something to say.
fn interrupted_hint(command: &Command) -> Option<&'static str> {
    match command {
        Command::Up(_) | Command::Reset(_) | Command::Cluster(_) | Command::Stack(_) => Some(
            "nothing is left half-done that `korthbox up` cannot continue from; `korthbox reset` starts over",
        ),
        Command::Install(_) => Some("nothing was installed, and the partial download was removed"),
        _ => None,
    }
}

/// What the settings file did: which file (with -v), and, before anything is deleted, which of
/// its settings chose the sandbox.
fn config_notes(
    ui: &Ui,
    cli: &Cli,
    config: &korthbox::cli::config::Config,
    matches: &clap::ArgMatches,
) {
    if cli.verbose {
        ui.note(&format!("settings from {}", config.path.display()));
    }
    for renamed in &config.renamed {
        ui.note(&format!("note: {renamed}"));
    }
    if let Command::Down(_) | Command::Reset(_) = &cli.command {
        let chosen = korthbox::cli::config::chose_target(config, matches);
        if !chosen.is_empty() {
            ui.note(&format!(
                "{} chose the sandbox: {}",
                config.path.display(),
                chosen.join(", ")
            ));
        }
    }
}

/// The exit code of a command's result; an error is printed once (and as JSON on stdout when
/// a script asked for JSON and the command's own document did not already say it).
fn finish(ui: &Ui, json: bool, result: korthbox::base::error::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            ui.error(&e);
            if json && e.kind != korthbox::base::error::ErrorKind::Silent && !e.reported_as_json {
                let _ = korthbox::cli::ui::render::error_json(
                    &mut std::io::stdout().lock(),
                    &e,
                    ExitCode::from(&e) as u8,
                );
            }
            ExitCode::from(&e)
        }
    }
}

/// The command line, parsed. korthbox.toml changes the defaults clap parses with, so it is
/// read before the final parse; but help, `--version`, `completions`, `doctor` and `version`
/// never read it, so that a broken file cannot break the commands that help fix it.
fn parse(
    args: &[std::ffi::OsString],
    json: bool,
) -> Result<(Option<korthbox::cli::config::Config>, clap::ArgMatches), korthbox::base::error::Error>
{
    use clap::error::ErrorKind;
    let bare = korthbox::cli::config::command(None).try_get_matches_from(args);
    match &bare {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Ok(matches)
            if matches!(
                matches.subcommand_name(),
                Some("doctor" | "completions" | "version" | "help")
            ) =>
        {
            return Ok((None, matches.clone()));
        }
        // A neighbour's word (kind's `delete`, minikube's `--profile`): korthbox's word for it.
        Err(_) if let Some(e) = korthbox::cli::argv::neighbours_words(args) => return Err(e),
        _ => {}
    }
    let config = korthbox::cli::config::load(args)?;
    // Without a file the first parse is the answer; with one, its values are the defaults.
    let parsed = match &config {
        None => bare,
        Some(file) => korthbox::cli::config::command(Some(file)).try_get_matches_from(args),
    };
    match parsed {
        Ok(matches) => Ok((config, matches)),
        // clap's own rendering (with a credential in a value masked, as everywhere), unless a
        // script asked for JSON.
        Err(e) if !json => {
            let code = e.exit_code();
            let text = e.render().to_string();
            let text = korthbox::base::error::redact(&text);
            match e.use_stderr() {
                true => eprint!("{text}"),
                false => print!("{text}"),
            }
            std::process::exit(code)
        }
        Err(e) => Err(usage_from_clap(&e)),
    }
}

/// clap's error as korthbox's (for `--json`): its first line the message, its tips hints.
fn usage_from_clap(e: &clap::Error) -> korthbox::base::error::Error {
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default();
    let mut err = korthbox::base::error::Error::usage(first.trim_start_matches("error: "));
    for line in lines.map(str::trim) {
        err = match line.strip_prefix("tip: ") {
            Some(tip) => err.hint(tip),
            None if line.starts_with("For more information") => {
                err.hint("`--help` lists the flags")
            }
            None => err.caused_by(line),
        };
    }
    err
}

/// Prints a failure as JSON on stdout when a script asked for JSON; the exit code.
fn fail_json(json: bool, e: &korthbox::base::error::Error) -> std::process::ExitCode {
    let code = ExitCode::from(e);
    if json {
        let _ = korthbox::cli::ui::render::error_json(&mut std::io::stdout().lock(), e, code as u8);
    }
    exit(code)
}

fn exit(code: ExitCode) -> std::process::ExitCode {
    std::process::ExitCode::from(code as u8)
}
