//! `wisp package ...`: packages group actions and give them parameters; a binding is a package
//! that points at another one, with parameters of its own.

use serde_json::{json, Value};
use wisp_wire::{Package, PackageEntry};

use super::entity::{self, full_name, listed, parameter_keys, updated, Kind, ListArgs};
use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::output::{self, document, or_dash, Printer};
use crate::params::{put_fields, PutFlags};

#[derive(clap::Args, Debug)]
pub struct PackageArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: PackageCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum PackageCommand {
    /// Create a package
    Create(PutArgs),
    /// Change a package's parameters, annotations or sharing (each one given replaces the old)
    Update(PutArgs),
    /// Bind a package: a new package that reads PACKAGE's actions with parameters of its own
    Bind(BindArgs),
    /// Show a package, with its actions and feeds
    Get(GetArgs),
    /// List packages, newest first
    List(ListArgs),
    /// Delete a package or binding
    Delete(DeleteArgs),
}

#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// Package name: NAME or /NAMESPACE/NAME
    pub name: String,

    #[command(flatten)]
    pub flags: PutFlags,

    /// Share the package (yes) so other namespaces can read, invoke and bind it, or not (no)
    #[arg(long, value_name = "yes|no", value_parser = parse_shared)]
    pub shared: Option<bool>,
}

#[derive(clap::Args, Debug)]
pub struct BindArgs {
    /// The package to bind: PACKAGE or /NAMESPACE/PACKAGE
    pub package: String,

    /// Name of the new binding: NAME or /NAMESPACE/NAME
    pub name: String,

    #[command(flatten)]
    pub flags: PutFlags,
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Package name: NAME or /NAMESPACE/NAME
    pub name: String,

    /// Show a short description instead of the JSON
    #[arg(short = 's', long)]
    pub summary: bool,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Package name: NAME or /NAMESPACE/NAME
    pub name: String,

    /// Also delete the actions in the package (without it, a package with actions stays)
    #[arg(long)]
    pub force: bool,
}

pub async fn run(
    command: PackageCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        PackageCommand::Create(args) => put(&args, false, config, printer).await,
        PackageCommand::Update(args) => put(&args, true, config, printer).await,
        PackageCommand::Bind(args) => bind(&args, config, printer).await,
        PackageCommand::Get(args) => {
            let package = entity::get(Kind::Package, &args.name, config).await?;
            if args.summary && !config.json {
                printer.text(&summary(&document(&package)))
            } else {
                printer.json(&package)
            }
        }
        PackageCommand::List(args) => {
            entity::list_in_namespace(Kind::Package, &args, config, printer, package_table).await
        }
        PackageCommand::Delete(args) => {
            let name = Kind::Package.name(&args.name, config)?;
            let query = if args.force {
                vec![("force", "true".to_string())]
            } else {
                vec![]
            };
            entity::delete(Kind::Package, &name, &args.name, &query, config, printer).await
        }
    }
}

async fn put(
    args: &PutArgs,
    overwrite: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let mut body = put_body(&args.flags)?;
    if let Some(shared) = args.shared {
        body["publish"] = json!(shared);
    }
    entity::put(Kind::Package, &args.name, &body, overwrite, config, printer).await
}

async fn bind(args: &BindArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let target = Kind::Package.name(&args.package, config)?;
    let name = Kind::Package.name(&args.name, config)?;
    let mut body = put_body(&args.flags)?;
    body["binding"] = json!({"namespace": target.namespace, "name": target.name});
    let binding = Client::new(config)?
        .put(&name.path("packages"), &[], &body)
        .await?;
    let message = format!("ok: created binding {}", args.name);
    entity::done(config, printer, &binding, message)
}

fn put_body(flags: &PutFlags) -> anyhow::Result<Value> {
    let params = match flags.params.given() {
        true => Some(flags.params.values()?),
        false => None,
    };
    Ok(put_fields(params.as_ref(), &flags.annotations.values()?))
}

/// `--shared yes|no` (and `true|false`).
fn parse_shared(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err("use yes or no".into()),
    }
}

/// `/ns/name` of the package a binding points at, or `-` for a package.
fn binding_target(package: &Package) -> String {
    match package.binding.target() {
        Some((namespace, name)) => full_name(namespace, name),
        None => "-".into(),
    }
}

fn visibility(package: &Package) -> &'static str {
    if package.publish {
        "shared"
    } else {
        "private"
    }
}

pub fn package_table(list: &Value) -> String {
    let rows = entity::rows(list, |package: &Package| {
        vec![
            full_name(&package.namespace, &package.name),
            visibility(package).into(),
            binding_target(package),
            or_dash(&package.version),
            updated(package.updated),
        ]
    });
    output::table(
        &["Name", "Visibility", "Binding", "Version", "Updated"],
        &rows,
    )
}

/// A few lines a person can read at a glance.
pub fn summary(package: &Package) -> String {
    let names = |entries: &Option<Vec<PackageEntry>>| {
        listed(entries.iter().flatten().map(|e| e.name.as_str()))
    };
    let mut items = vec![];
    if package.binding.target().is_some() {
        items.push(("binding", binding_target(package)));
    }
    items.extend([
        ("visibility", visibility(package).to_string()),
        ("version", or_dash(&package.version)),
        ("updated", updated(package.updated)),
        ("parameters", parameter_keys(package.parameters.as_deref())),
        ("actions", names(&package.actions)),
        ("feeds", names(&package.feeds)),
    ]);
    format!(
        "package {}\n{}",
        full_name(&package.namespace, &package.name),
        output::pairs("  ", &items)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{AnnotationFlags, ParamFlags};

    #[test]
    fn put_body_from_flags() {
        let flags = PutFlags {
            params: ParamFlags {
                param: vec!["greeting".into(), "Hi".into()],
                param_file: None,
            },
            annotations: AnnotationFlags {
                annotation: vec!["description".into(), "tools".into()],
                annotation_file: None,
            },
        };
        assert_eq!(
            put_body(&flags).unwrap(),
            json!({"parameters": [{"key": "greeting", "value": "Hi"}],
                   "annotations": [{"key": "description", "value": "tools"}]})
        );
        assert_eq!(put_body(&PutFlags::default()).unwrap(), json!({}));
    }

    #[test]
    fn shared_takes_yes_or_no() {
        assert!(parse_shared("yes").unwrap());
        assert!(parse_shared("TRUE").unwrap());
        assert!(!parse_shared("no").unwrap());
        assert!(parse_shared("maybe").is_err());
    }

    #[test]
    fn table_shows_visibility_and_bindings() {
        let list = json!([
            {"namespace": "guest", "name": "tools", "version": "0.0.1", "publish": true,
             "binding": false, "updated": 0},
            {"namespace": "guest", "name": "mine", "version": "0.0.2", "publish": false,
             "binding": {"namespace": "guest", "name": "tools"}, "updated": 0}
        ]);
        assert_eq!(
            package_table(&list),
            "Name          Visibility  Binding       Version  Updated\n\
             /guest/tools  shared      -             0.0.1    -\n\
             /guest/mine   private     /guest/tools  0.0.2    -\n"
        );
    }

    #[test]
    fn summary_view() {
        let package = json!({
            "namespace": "guest", "name": "mine", "version": "0.0.2", "publish": false,
            "binding": {"namespace": "guest", "name": "tools"}, "updated": 0,
            "parameters": [{"key": "greeting", "value": "Hi"}],
            "actions": [{"name": "echo"}, {"name": "date"}], "feeds": []
        });
        assert_eq!(
            summary(&document(&package)),
            "package /guest/mine\n\
             \x20 binding     /guest/tools\n\
             \x20 visibility  private\n\
             \x20 version     0.0.2\n\
             \x20 updated     -\n\
             \x20 parameters  greeting\n\
             \x20 actions     echo, date\n\
             \x20 feeds       none\n"
        );
    }
}
