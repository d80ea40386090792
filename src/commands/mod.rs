//! What each command does, from parsed arguments to an exit code: turn the flags into a
//! request, call the library (`sandbox`, `doctor`, …), render the result with `ui`.

mod args;
mod cluster;
mod doctor;
mod evaluate;
mod exit;
mod install;
mod lifecycle;
mod plan;
mod prove;
mod reach;
mod stack;
mod up;

pub use exit::ExitCode;

use std::sync::Arc;

use crate::cli::{Cli, ClusterCommand, Command, StackCommand};
use crate::env::Env;
use crate::error::Result;
use crate::report::Steps;
use crate::sandbox::Context;
use crate::ui::Ui;

pub async fn run(cli: Cli, env: Env, ui: Arc<Ui>, args: Vec<String>) -> Result<ExitCode> {
    let ctx = Context::new(env, Steps::new(ui.clone())).with_args(args);
    let ui = ui.as_ref();
    match cli.command {
        Command::Up(args) => up::up(args, &ctx, ui).await,
        Command::Reset(args) => up::reset(args, &ctx, ui).await,
        Command::Status(args) => lifecycle::status(args, &ctx, ui).await,
        Command::Down(args) => lifecycle::down(args, &ctx).await,
        Command::Forward(args) => lifecycle::forward(args, &ctx).await,
        Command::Password(args) => lifecycle::password(args, &ctx).await,
        Command::Prove(args) => prove::run(args, &ctx).await,
        Command::Samples(args) => evaluate::samples(args, &ctx).await,
        Command::Upload(args) => evaluate::upload(args, &ctx).await,
        Command::Open(args) => evaluate::open(args, &ctx, ui).await,
        Command::Logs(args) => lifecycle::logs(args, &ctx, ui).await,
        Command::Version(args) => lifecycle::version(args),
        Command::Completions(args) => lifecycle::completions(args),
        Command::Install(args) => install::run(args, &ctx, ui).await,
        Command::Doctor(args) => doctor::run(args, &ctx.env, ui).await,
        Command::Plan(args) => plan::run(args, &ctx, ui).await,
        Command::Cluster(command) => match command {
            ClusterCommand::Create(args) => cluster::create(args, &ctx, ui).await,
            ClusterCommand::Check(args) => cluster::check(args, &ctx, ui).await,
            ClusterCommand::List(args) => cluster::list(args, &ctx, ui).await,
            ClusterCommand::Delete(args) => cluster::delete(args, &ctx).await,
            ClusterCommand::Load(args) => cluster::load(args, &ctx).await,
        },
        Command::Stack(StackCommand::Apply(args)) => stack::apply(args, &ctx, ui).await,
    }
}
