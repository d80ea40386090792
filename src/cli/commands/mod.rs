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

use crate::base::env::Env;
use crate::base::error::Result;
use crate::base::report::Steps;
use crate::cli::grammar::{Cli, ClusterCommand, Command, Lazy, StackCommand};
use crate::cli::ui::Ui;
use crate::sandbox::Context;

pub async fn run(cli: Cli, env: Env, ui: Arc<Ui>, args: Vec<String>) -> Result<ExitCode> {
    let env = reach::postgres_password(&cli, env).await?;
    let ctx = Context::new(env, Steps::new(ui.clone())).with_args(args);
    let ui = ui.as_ref();
    match cli.command {
        Command::Up(Lazy(args)) => up::up(args, &ctx, ui).await,
        Command::Reset(Lazy(args)) => up::reset(args, &ctx, ui).await,
        Command::Status(Lazy(args)) => lifecycle::status(args, &ctx, ui).await,
        Command::Down(Lazy(args)) => lifecycle::down(args, &ctx).await,
        Command::Stop(Lazy(args)) => lifecycle::stop(args, &ctx).await,
        Command::Start(Lazy(args)) => up::start(args, &ctx, ui).await,
        Command::Forward(Lazy(mut args)) => {
            args.word.clone().into(&mut args.target);
            lifecycle::forward(args, &ctx).await
        }
        Command::Password(Lazy(mut args)) => {
            args.word.clone().into(&mut args.target);
            lifecycle::password(args, &ctx).await
        }
        Command::Prove(Lazy(mut args)) => {
            args.word.clone().into(&mut args.orthanc.target);
            prove::run(args, &ctx).await
        }
        Command::Samples(Lazy(mut args)) => {
            args.word.clone().into(&mut args.orthanc.target);
            evaluate::samples(args, &ctx).await
        }
        Command::Upload(Lazy(args)) => evaluate::upload(args, &ctx).await,
        Command::Export(Lazy(args)) => evaluate::export(args, &ctx).await,
        Command::Open(Lazy(mut args)) => {
            args.word.clone().into(&mut args.target);
            evaluate::open(args, &ctx, ui).await
        }
        Command::Logs(Lazy(args)) => lifecycle::logs(args, &ctx, ui).await,
        Command::Version(Lazy(args)) => lifecycle::version(args),
        Command::Completions(Lazy(args)) => lifecycle::completions(args),
        Command::Install(Lazy(args)) => install::run(args, &ctx, ui).await,
        Command::Doctor(Lazy(args)) => doctor::run(args, &ctx.env, ui).await,
        Command::Plan(Lazy(mut args)) => {
            args.word.clone().into(&mut args.spec.target);
            plan::run(args, &ctx, ui).await
        }
        Command::Cluster(command) => match command {
            ClusterCommand::Create(Lazy(mut args)) => {
                args.word.clone().into(&mut args.spec.target);
                cluster::create(args, &ctx, ui).await
            }
            ClusterCommand::Check(Lazy(mut args)) => {
                args.word.clone().into(&mut args.target);
                cluster::check(args, &ctx, ui).await
            }
            ClusterCommand::List(Lazy(args)) => cluster::list(args, &ctx, ui).await,
            ClusterCommand::Delete(Lazy(mut args)) => {
                args.word.clone().into(&mut args.target);
                cluster::delete(args, &ctx).await
            }
            ClusterCommand::Load(Lazy(args)) => cluster::load(args, &ctx).await,
        },
        Command::Stack(StackCommand::Apply(Lazy(mut args))) => {
            args.word.clone().into(&mut args.target);
            stack::apply(args, &ctx, ui).await
        }
    }
}
