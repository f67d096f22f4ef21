//! `wisp project create NAME`: a skeleton that deploys as it is, so a newcomer's first
//! `wisp project deploy` works (Nimbella's generated templates once failed its own validator).

use std::path::Path;

use crate::error::usage;
use crate::output::Printer;

const PROJECT_YML: &str = "\
# A Wisp project. Every file in packages/<package>/ is an action (packages/default: no
# package); web/ is the static front end. docs/PROJECTS.md describes every key.
packages:
  - name: default
    actions:
      - name: hello
        web: true
        limits:
          timeout: 3000
";

const HELLO_JS: &str = "\
// The action `hello`: wisp action invoke hello -p name Ada --result
function main(args) {
  const name = args.name || 'World';
  return { greeting: `Hello ${name}!` };
}
";

const INDEX_HTML: &str = "\
<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Hello from Wisp</title></head>
<body>
  <h1>Hello from Wisp</h1>
  <p>Edit web/index.html and packages/default/hello.js, then run <code>wisp project deploy .</code></p>
</body>
</html>
";

pub fn run(dir: &Path, printer: &mut Printer) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(usage(format!(
            "{} already exists and is not empty; choose another name",
            dir.display()
        )));
    }
    let files = [
        ("project.yml", PROJECT_YML),
        ("packages/default/hello.js", HELLO_JS),
        ("web/index.html", INDEX_HTML),
        (".gitignore", ".env\n"),
    ];
    for (relative, text) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    }
    printer.line(format!(
        "ok: created project {} (deploy it with 'wisp project deploy {}')",
        dir.display(),
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn the_skeleton_reads_as_a_valid_project() {
        let dir = TempDir::new();
        let root = dir.path().join("myapp");
        let (mut printer, _, _) = crate::output::capture::printer();
        run(&root, &mut printer).unwrap();
        let project = wisp_project::read(&root, &Default::default()).unwrap();
        assert_eq!(project.name, "myapp");
        let hello = &project.packages[0].actions[0];
        assert_eq!(hello.path(), "hello");
        assert_eq!(project.web, ["index.html"]);
        assert!(run(&root, &mut printer).is_err(), "never overwrites");
    }
}
