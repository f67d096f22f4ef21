//! Entity names as clients write them in bodies: `/ns/[pkg/]name`, `ns/pkg/name`, `[pkg/]name`.

use wisp_core::{EntityName, EntityPath, NameError};

/// Parses a possibly fully qualified name; `_` and a missing namespace mean `caller`'s.
pub fn parse_fully_qualified(raw: &str, caller: &EntityName) -> Result<EntityPath, NameError> {
    let qualified = raw.starts_with('/');
    let parts: Vec<&str> = raw.trim_start_matches('/').split('/').collect();
    let namespace = |segment: &str| -> Result<EntityName, NameError> {
        if segment == "_" {
            Ok(caller.clone())
        } else {
            EntityName::parse(segment)
        }
    };
    let (ns, package, name) = match (qualified, parts.as_slice()) {
        (true, [ns, name]) => (namespace(ns)?, None, *name),
        (true, [ns, package, name]) | (false, [ns, package, name]) => {
            (namespace(ns)?, Some(EntityName::parse(package)?), *name)
        }
        (false, [name]) => (caller.clone(), None, *name),
        (false, [package, name]) => (caller.clone(), Some(EntityName::parse(package)?), *name),
        _ => return Err(NameError::IllegalCharacters),
    };
    Ok(EntityPath::new(ns, package, EntityName::parse(name)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> EntityName {
        EntityName::parse("guest").unwrap()
    }

    #[test]
    fn reads_every_form_clients_send() {
        let cases = [
            ("/_/t", "/guest/t"),
            ("/guest/t", "/guest/t"),
            ("/other/pkg/a", "/other/pkg/a"),
            ("t", "/guest/t"),
            ("pkg/a", "/guest/pkg/a"),
            ("other/pkg/a", "/other/pkg/a"),
        ];
        for (raw, expected) in cases {
            let path = parse_fully_qualified(raw, &caller()).unwrap();
            assert_eq!(path.fully_qualified(), expected, "{raw}");
        }
        for bad in ["", "/", "/a/b/c/d", "/ns/", "a b/"] {
            assert!(parse_fully_qualified(bad, &caller()).is_err(), "{bad:?}");
        }
    }
}
