//! Client options from the command line, resolved once into a `Config`.
//!
//! Order of precedence: flag, then `WISP_*` environment variable (clap reads both), then the
//! properties file shared with `wsk`.

use std::path::PathBuf;

use crate::error::usage;
use crate::props::{self, Props};

/// Options every client command accepts.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientOpts {
    /// API host of the wisp server, e.g. http://127.0.0.1:3233 [default: APIHOST in ~/.wskprops]
    #[arg(
        long,
        global = true,
        env = "WISP_APIHOST",
        value_name = "URL",
        help_heading = "Client options"
    )]
    pub apihost: Option<String>,

    /// Authorization key, UUID:KEY [default: AUTH in ~/.wskprops]
    #[arg(
        short = 'u',
        long,
        global = true,
        env = "WISP_AUTH",
        hide_env_values = true,
        value_name = "UUID:KEY",
        help_heading = "Client options"
    )]
    pub auth: Option<String>,

    /// Print the server's JSON instead of tables and messages, for scripts
    #[arg(long, global = true, help_heading = "Client options")]
    pub json: bool,
}

impl ClientOpts {
    /// The options as the environment alone gives them, for commands whose flags mean
    /// something else (`property get --apihost`).
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Self {
            apihost: var("WISP_APIHOST"),
            auth: var("WISP_AUTH"),
            json: false,
        }
    }
}

/// Everything a client command needs to know about where and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The API host as configured, not yet normalised (see `base_url`).
    pub apihost: Option<String>,
    pub auth: Option<String>,
    /// Namespace used in URLs for names without one: `NAMESPACE` from the properties file, else `_`.
    pub namespace: String,
    pub json: bool,
    pub props_path: Option<PathBuf>,
}

impl Config {
    pub fn resolve(opts: &ClientOpts, props: &Props, props_path: Option<PathBuf>) -> Self {
        let pick = |flag: &Option<String>, key| {
            non_empty(flag.as_deref())
                .or_else(|| props.get(key))
                .map(str::to_string)
        };
        Self {
            apihost: pick(&opts.apihost, props::APIHOST),
            auth: pick(&opts.auth, props::AUTH),
            namespace: props.get(props::NAMESPACE).unwrap_or("_").to_string(),
            json: opts.json,
            props_path,
        }
    }

    /// `http://host:port` of the server, without a trailing slash.
    pub fn base_url(&self) -> anyhow::Result<String> {
        match &self.apihost {
            Some(raw) => normalize_apihost(raw),
            None => Err(usage(
                "no API host configured; pass --apihost URL, set WISP_APIHOST, \
                 or run 'wisp property set --apihost URL'",
            )),
        }
    }

    /// The `(uuid, key)` pair for HTTP Basic authentication.
    pub fn credentials(&self) -> anyhow::Result<(String, String)> {
        let Some(auth) = &self.auth else {
            return Err(usage(
                "no auth key configured; pass --auth UUID:KEY, set WISP_AUTH, \
                 or run 'wisp property set --auth UUID:KEY'",
            ));
        };
        match auth.split_once(':') {
            Some((user, key)) if !user.is_empty() => Ok((user.to_string(), key.to_string())),
            _ => Err(usage("the auth key must look like UUID:KEY")),
        }
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Turns an `APIHOST` value into a base URL.
///
/// Like `wsk`, a host without a scheme means https, except for this machine, where a local
/// server almost always speaks plain http.
pub fn normalize_apihost(raw: &str) -> anyhow::Result<String> {
    let host = raw.trim().trim_end_matches('/');
    if host.is_empty() {
        return Err(usage("the API host is empty"));
    }
    if host.starts_with("http://") {
        return Ok(host.to_string());
    }
    if host.starts_with("https://") {
        return Err(usage(format!(
            "cannot use {host}: this build of wisp speaks plain http only; use an http:// API host"
        )));
    }
    if let Some((scheme, _)) = host.split_once("://") {
        return Err(usage(format!(
            "unsupported scheme '{scheme}' in API host {host}; use http://HOST:PORT"
        )));
    }
    let host = bracket_bare_ipv6(host);
    if is_local(&host) {
        Ok(format!("http://{host}"))
    } else {
        Err(usage(format!(
            "API host {host} has no scheme, which means https, and this build of wisp speaks \
             plain http only; write http://{host} to use http"
        )))
    }
}

/// `::1` cannot carry a port and needs brackets in a URL.
fn bracket_bare_ipv6(host: &str) -> String {
    if !host.starts_with('[') && host.matches(':').count() > 1 {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn is_local(host_port: &str) -> bool {
    let host = match host_port.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with("127.")
        || host == "::1"
        || host == "0.0.0.0"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(apihost: Option<&str>, auth: Option<&str>) -> ClientOpts {
        ClientOpts {
            apihost: apihost.map(str::to_string),
            auth: auth.map(str::to_string),
            json: false,
        }
    }

    #[test]
    fn flags_win_over_props() {
        let props = Props::parse("APIHOST=localhost:1\nAUTH=p:q\nNAMESPACE=guest\n");
        let config = Config::resolve(&opts(Some("http://h:2"), None), &props, None);
        assert_eq!(config.apihost.as_deref(), Some("http://h:2"));
        assert_eq!(config.auth.as_deref(), Some("p:q"));
        assert_eq!(config.namespace, "guest");
    }

    #[test]
    fn empty_flags_fall_back_and_namespace_defaults_to_underscore() {
        let props = Props::parse("APIHOST=localhost:1\n");
        let config = Config::resolve(&opts(Some(" "), None), &props, None);
        assert_eq!(config.apihost.as_deref(), Some("localhost:1"));
        assert_eq!(config.namespace, "_");
        assert!(config.credentials().is_err());
    }

    #[test]
    fn credentials_split_at_the_first_colon() {
        let config = Config::resolve(&opts(None, Some("uuid:k:ey")), &Props::default(), None);
        assert_eq!(
            config.credentials().unwrap(),
            ("uuid".to_string(), "k:ey".to_string())
        );
        let bad = Config::resolve(&opts(None, Some("nocolon")), &Props::default(), None);
        assert!(bad.credentials().is_err());
    }

    #[test]
    fn apihost_normalisation() {
        let ok = |raw: &str| normalize_apihost(raw).unwrap();
        assert_eq!(ok("http://10.0.0.1:3233/"), "http://10.0.0.1:3233");
        assert_eq!(ok("localhost:3233"), "http://localhost:3233");
        assert_eq!(ok("127.0.0.1"), "http://127.0.0.1");
        assert_eq!(ok("127.1.2.3:80"), "http://127.1.2.3:80");
        assert_eq!(ok("[::1]:3233"), "http://[::1]:3233");
        assert_eq!(ok("::1"), "http://[::1]");
        assert!(normalize_apihost("https://x").is_err());
        assert!(normalize_apihost("example.com:3233").is_err());
        assert!(normalize_apihost("ftp://x").is_err());
        assert!(normalize_apihost("").is_err());
    }

    #[test]
    fn bare_remote_host_error_says_how_to_fix_it() {
        let err = normalize_apihost("example.com:3233").unwrap_err();
        assert!(err.to_string().contains("http://example.com:3233"));
    }
}
