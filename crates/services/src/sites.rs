//! Where the namespaces' static sites are reached.

use std::net::IpAddr;

/// The domains under which `<namespace>.<domain>` is a site: `localhost` always (browsers
/// resolve its subdomains to loopback, so `guest.localhost:3233` works with no DNS set-up),
/// the configured `--site-domain`, and the API host's name when it is a name rather than an
/// address (a wildcard DNS record for it then reaches every namespace's site).
pub fn site_domains(api_host: &str, configured: Option<&str>) -> Vec<String> {
    let mut domains = vec!["localhost".to_string()];
    let api_name =
        host_of(api_host).filter(|host| host.trim_matches(['[', ']']).parse::<IpAddr>().is_err());
    for domain in configured.into_iter().chain(api_name) {
        let domain = domain.trim_matches('.').to_ascii_lowercase();
        if !domain.is_empty() && !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    domains
}

/// The host of a URL such as `http://host:port/path`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.starts_with('[') {
        return authority.split_once(']').map(|(h, _)| &h[1..]);
    }
    Some(authority.split(':').next().unwrap_or(authority)).filter(|h| !h.is_empty())
}

/// How a user reaches a namespace's site, for the start-up banner: `{namespace}` is a
/// placeholder.
pub fn site_url_pattern(api_host: &str, domains: &[String]) -> String {
    let port = api_host
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches('/').parse::<u16>().ok())
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let scheme = if api_host.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    let domain = domains.last().map_or("localhost", String::as_str);
    format!("{scheme}://{{namespace}}.{domain}{port}/")
}

/// The URL of one namespace's site: on its own host when its name is a DNS label, else at
/// the path form under the API host.
pub fn site_url(pattern: &str, api_host: &str, namespace: &str) -> String {
    let label = !namespace.is_empty()
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if label {
        pattern.replace("{namespace}", namespace)
    } else {
        let encoded: String =
            percent_encoding::utf8_percent_encode(namespace, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!("{}/sites/{encoded}/", api_host.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_not_site_domains_and_names_are() {
        assert_eq!(site_domains("http://127.0.0.1:3233", None), ["localhost"]);
        assert_eq!(site_domains("http://[::1]:3233", None), ["localhost"]);
        assert_eq!(
            site_domains("https://wisp.example.com", Some("apps.example.com")),
            ["localhost", "apps.example.com", "wisp.example.com"]
        );
        assert_eq!(site_domains("http://localhost:3233", None), ["localhost"]);
    }

    #[test]
    fn namespaces_that_are_not_labels_use_the_path_form() {
        let pattern = "http://{namespace}.localhost:3233/";
        let api = "http://127.0.0.1:3233";
        assert_eq!(
            site_url(pattern, api, "guest"),
            "http://guest.localhost:3233/"
        );
        assert_eq!(
            site_url(pattern, api, "Big_One"),
            "http://127.0.0.1:3233/sites/Big%5FOne/"
        );
    }

    #[test]
    fn the_banner_names_the_port() {
        assert_eq!(
            site_url_pattern("http://127.0.0.1:3233", &["localhost".into()]),
            "http://{namespace}.localhost:3233/"
        );
    }
}
