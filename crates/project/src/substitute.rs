//! `${NAME}` substitution in the text of `project.yml`, before it is parsed as YAML, from the
//! process environment and then the project's `.env` file (or the one given with `--env`).

use std::collections::BTreeMap;

use crate::error::ProjectError;

/// Where `${NAME}` values come from: the process environment first, then the env file.
#[derive(Debug, Default, Clone)]
pub struct Variables {
    pub process: BTreeMap<String, String>,
    pub file: BTreeMap<String, String>,
}

impl Variables {
    /// The process environment and the given env file's properties.
    pub fn from_env(file: BTreeMap<String, String>) -> Self {
        Self {
            process: std::env::vars().collect(),
            file,
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.process
            .get(name)
            .or_else(|| self.file.get(name))
            .map(String::as_str)
    }
}

/// Replaces every `${NAME}` (spaces inside the braces allowed). A value's line breaks are
/// written as `\n` so it stays on its line and the YAML's line numbers stay true.
/// Names that resolve nowhere are all reported at once.
pub fn substitute(text: &str, vars: &Variables) -> Result<String, ProjectError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(value) => out.push_str(&value.replace('\r', "").replace('\n', "\\n")),
            None => {
                if !missing.contains(&name.to_string()) {
                    missing.push(name.to_string());
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(ProjectError::Unresolved(missing))
    }
}

/// Reads a properties file: `NAME=value` lines, `#` comments, optional `export ` and quotes.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let unquoted = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close))
            .unwrap_or(value);
        vars.insert(name.trim().to_string(), unquoted.to_string());
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(process: &[(&str, &str)], file: &[(&str, &str)]) -> Variables {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Variables {
            process: map(process),
            file: map(file),
        }
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let v = vars(&[("A", "env")], &[("A", "file"), ("B", "file")]);
        assert_eq!(
            substitute("a: ${A}\nb: ${ B }\n", &v).unwrap(),
            "a: env\nb: file\n"
        );
    }

    #[test]
    fn unresolved_names_are_all_reported() {
        let err = substitute("${X} ${Y} ${X}", &Variables::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "project.yml names variables that are set neither in the environment nor in the env file: X, Y"
        );
    }

    #[test]
    fn line_breaks_stay_on_their_line() {
        let v = vars(&[("K", "one\ntwo")], &[]);
        assert_eq!(substitute("k: \"${K}\"", &v).unwrap(), "k: \"one\\ntwo\"");
        assert_eq!(substitute("cost: $5 ${", &v).unwrap(), "cost: $5 ${");
    }

    #[test]
    fn env_files_are_properties() {
        let vars = parse_env_file("# c\nA=1\nexport B = \"two words\"\nC='x=y'\nnonsense\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x=y");
        assert_eq!(vars.len(), 3);
    }
}
