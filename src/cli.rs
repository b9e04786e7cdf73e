//! The command line (clap): `interlock check`, `interlock rule CODE`, `interlock rules`,
//! `interlock graph`, `interlock server`.
//! Exit codes follow Ruff: 0 no findings, 1 findings, 2 usage, configuration or internal error.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::analysis::{self, Input, Report};
use crate::codes::{self, Code};
use crate::config::{Options, Resolver, Selector};
use crate::discover;
use crate::graph::export::{self, GraphFormat, GraphKind};
use crate::graph::{Project, summary};
use crate::report::{self, OutputFormat};
use crate::rules;
use crate::source::Language;

#[derive(Parser)]
#[command(
    name = "interlock",
    version,
    about = "Finds concurrency bugs in Python and Rust code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files or directories (default: the current directory).
    Check(CheckArgs),
    /// Show the documentation of one rule.
    Rule {
        /// A rule code, e.g. IL101.
        code: String,
    },
    /// List every rule.
    Rules,
    /// Draw the project's call graph or await graph (Graphviz DOT or JSON).
    Graph(GraphArgs),
    /// Run the language server (LSP over stdin/stdout) for editors.
    Server,
}

#[derive(Args)]
struct GraphArgs {
    /// Files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Which graph: every call, or only awaited/spawned calls.
    #[arg(long, value_enum, default_value = "calls")]
    kind: GraphKind,
    /// Output format; `dot` renders with `dot -Tsvg`.
    #[arg(long, value_enum, default_value = "dot")]
    format: GraphFormat,
    /// Only what this function reaches (canonical name or its last segments: `serve`,
    /// `Service.handle`, `db::Store::load`).
    #[arg(long)]
    from: Option<String>,
    /// Use this config file for every file.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    /// Files or directories to check; `-` reads one file from standard input.
    paths: Vec<PathBuf>,
    /// Rules to enable (codes or prefixes, comma-separated; `ALL` for every rule).
    #[arg(long, value_delimiter = ',', value_parser = Selector::parse)]
    select: Option<Vec<Selector>>,
    /// Rules to enable in addition to those selected.
    #[arg(long, value_delimiter = ',', value_parser = Selector::parse)]
    extend_select: Option<Vec<Selector>>,
    /// Rules to disable.
    #[arg(long, value_delimiter = ',', value_parser = Selector::parse)]
    ignore: Option<Vec<Selector>>,
    /// Glob patterns of paths to exclude (replaces the default list).
    #[arg(long, value_delimiter = ',')]
    exclude: Option<Vec<String>>,
    /// Glob patterns of paths to exclude in addition to the default list.
    #[arg(long, value_delimiter = ',')]
    extend_exclude: Option<Vec<String>>,
    /// Apply exclusions even to files named explicitly on the command line.
    #[arg(long)]
    force_exclude: bool,
    /// With only files given: analyse just those files. By default the project around them is
    /// analysed too (so cross-file rules see their callers and callees), and only findings that
    /// involve the given files are reported.
    #[arg(long)]
    files_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "full")]
    output_format: OutputFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, short = 'o')]
    output_file: Option<PathBuf>,
    /// Exit with status 0 even when there are findings.
    #[arg(long)]
    exit_zero: bool,
    /// Show the number of findings per rule instead of the findings.
    #[arg(long)]
    statistics: bool,
    /// The name of the file read from standard input (decides its language and settings).
    #[arg(long)]
    stdin_filename: Option<PathBuf>,
    /// Use this config file for every file (instead of the closest one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Never colour the output.
    #[arg(long)]
    no_color: bool,
    /// Print how long each phase took to standard error.
    #[arg(long)]
    timings: bool,
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Rule { code } => match code.parse::<Code>() {
            Ok(code) => {
                print!("{}", code.doc());
                Ok(ExitCode::SUCCESS)
            }
            Err(_) => Err(format!("unknown rule `{code}` (see `interlock rules`)")),
        },
        Command::Graph(args) => graph(args),
        Command::Server => return crate::server::run_stdio(),
        Command::Rules => {
            for code in codes::ALL {
                println!("{code}  {:<30} {}", code.name(), code.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let options = Options {
        select: args.select.clone(),
        extend_select: args.extend_select.clone(),
        ignore: args.ignore.clone(),
        exclude: args.exclude.clone(),
        extend_exclude: args.extend_exclude.clone(),
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let mut resolver = Resolver::new(options, args.config.as_deref())?;
    let reads_stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    // Only files given (as pre-commit does): report on them, in the context of their project.
    let focus: Option<std::collections::HashSet<PathBuf>> = (!reads_stdin
        && !args.files_only
        && !args.paths.is_empty()
        && args.paths.iter().all(|p| p.is_file()))
    .then(|| {
        args.paths
            .iter()
            .map(|p| crate::source::absolute(p))
            .collect()
    });
    let (inputs, mut errors) = if reads_stdin {
        let name = args
            .stdin_filename
            .clone()
            .unwrap_or_else(|| PathBuf::from("-.py"));
        let mut contents = Vec::new();
        // Past the size limit the file is refused anyway: read no more than one byte over it.
        std::io::stdin()
            .take(crate::analysed::MAX_FILE_BYTES + 1)
            .read_to_end(&mut contents)
            .map_err(|e| format!("could not read standard input: {e}"))?;
        let settings = resolver.settings_for(&name)?;
        let language = Language::from_path(&name).unwrap_or(Language::Python);
        let excluded = args.force_exclude && settings.is_excluded_with_ancestors(&name);
        let inputs = if excluded {
            Vec::new()
        } else {
            vec![Input {
                path: name,
                language,
                settings,
                contents: Some(analysis::Contents::Bytes(contents)),
            }]
        };
        (inputs, Vec::new())
    } else {
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        let mut paths = paths;
        if let Some(files) = &focus {
            // The files first (their names as given), then the projects around them.
            paths.extend(discover::project_roots(files));
        }
        discover::discover(&paths, resolver, args.force_exclude)?
    };
    if args.timings {
        eprintln!(
            "discovery: {} files in {:.0} ms",
            inputs.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let mut report = analysis::analyse_before_exit(inputs);
    if args.timings {
        eprintln!("{}", analysis::TIMINGS.summary());
    }
    errors.append(&mut report.errors);
    if let Some(files) = &focus {
        let given = |path: &std::path::Path| files.contains(&crate::source::absolute(path));
        // A cross-file finding counts when any of its sites is in a given file.
        report
            .diagnostics
            .retain(|d| given(&d.path) || d.related.iter().any(|r| given(&r.path)));
        errors.retain(|e| given(&e.path));
    }
    for error in &errors {
        eprintln!("error: {}: {}", error.path.display(), error.message);
    }

    let color = args.output_file.is_none()
        && !args.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stdout().is_terminal();
    let mut buffer = Vec::new();
    write_output(&report, &args, color, &mut buffer).map_err(|e| e.to_string())?;
    match &args.output_file {
        Some(path) => std::fs::write(path, &buffer)
            .map_err(|e| format!("could not write {}: {e}", path.display()))?,
        None => std::io::stdout()
            .write_all(&buffer)
            .map_err(|e| e.to_string())?,
    }

    Ok(if !errors.is_empty() {
        ExitCode::from(2)
    } else if report.diagnostics.is_empty() || args.exit_zero {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn graph(args: GraphArgs) -> Result<ExitCode, String> {
    let resolver = Resolver::new(Options::default(), args.config.as_deref())?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let (inputs, errors) = discover::discover(&paths, resolver, false)?;
    let pool = analysis::analysis_pool();
    let (files, more_errors) = analysis::analyse_files(&pool, inputs);
    for error in errors.iter().chain(&more_errors) {
        eprintln!("error: {}: {}", error.path.display(), error.message);
    }
    let parsed: Vec<&crate::analysed::AnalysedFile> =
        files.iter().filter(|f| f.model.is_some()).collect();
    let project = Project::new(parsed.iter().filter_map(|f| f.model.as_ref()).collect());
    let context = rules::ProjectContext::new(&project, &parsed);
    let lines: Vec<_> = parsed.iter().map(|f| f.lines()).collect();
    if args.kind == GraphKind::Locks {
        let picture = export::render_locks(&project, &lines, context.lock_graph(), args.format)?;
        println!("{picture}");
        return Ok(ExitCode::SUCCESS);
    }
    let summaries = summary::blocking_summaries(&project, &context, summary::BLOCKING);
    let picture = export::render(
        &project,
        &lines,
        &summaries,
        args.kind,
        args.format,
        args.from.as_deref(),
    )?;
    println!("{picture}");
    Ok(ExitCode::SUCCESS)
}

fn write_output(
    report: &Report,
    args: &CheckArgs,
    color: bool,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    if args.statistics {
        report::write_statistics(report, out)
    } else {
        report::write(report, args.output_format, color, out)
    }
}
