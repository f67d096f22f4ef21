//! Value parsers for flags whose values may hold a password (`--store`, `--kv-backend`: a
//! PostgreSQL or Redis URL). clap's own error repeats the value whole; these say only what the
//! type's parser says, which never quotes more than a URL's scheme. The flags also hide their
//! variables' values from `--help`.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::str::FromStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// Parses a flag's value with `T::from_str`, naming the flag (`--store (WISP_STORE)`) and
/// never the value in its errors.
pub struct SecretParser<T> {
    flag: &'static str,
    parsed: PhantomData<fn() -> T>,
}

impl<T> SecretParser<T> {
    pub const fn new(flag: &'static str) -> SecretParser<T> {
        SecretParser {
            flag,
            parsed: PhantomData,
        }
    }
}

impl<T> Clone for SecretParser<T> {
    fn clone(&self) -> Self {
        SecretParser::new(self.flag)
    }
}

impl<T> TypedValueParser for SecretParser<T>
where
    T: FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value for {}: {message}\n", self.flag),
            )
            .with_cmd(cmd)
        };
        value
            .to_str()
            .ok_or_else(|| refuse("not UTF-8".into()))?
            .parse()
            .map_err(refuse)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use wisp_services::KvBackend;
    use wisp_store::Backend;

    use super::SecretParser;

    #[derive(Parser)]
    struct Flags {
        #[arg(long, value_parser = SecretParser::<Backend>::new("--store"))]
        store: Option<Backend>,
        #[arg(long, value_parser = SecretParser::<KvBackend>::new("--kv-backend"))]
        kv_backend: Option<KvBackend>,
    }

    /// The error clap prints for these arguments.
    fn refusal(args: &[&str]) -> String {
        let all = std::iter::once("wisp").chain(args.iter().copied());
        match Flags::try_parse_from(all) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_refused_url_is_not_repeated() {
        for args in [
            ["--store", "mysql://admin:hunter2@db/wisp"],
            ["--store", "postgres://admin:hunter2@db:notaport/wisp"],
            ["--kv-backend", "rediss://admin:hunter2@cache:6380"],
            ["--kv-backend", "admin:hunter2@cache"],
        ] {
            let message = refusal(&args);
            assert!(message.contains(args[0]), "names the flag: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn good_values_parse() {
        let flags = Flags::try_parse_from(["wisp", "--kv-backend", "redis://:pw@127.0.0.1:6379/2"])
            .unwrap();
        assert!(flags.kv_backend == Some(KvBackend::Redis("redis://:pw@127.0.0.1:6379/2".into())));
    }
}
