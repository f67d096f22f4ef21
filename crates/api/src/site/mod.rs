//! Each namespace's static site: its web bucket served at `http://<namespace>.<site domain>/`
//! (`guest.localhost:3233` in a browser) and at `/sites/<namespace>/` for hosts without
//! wildcard DNS.
//!
//! `/api/<package>/<action>...` on a site is that namespace's web actions, so a front end calls
//! its functions on its own origin. Everything else is a file: directories answer their index
//! page, a missing file the configured 404 page (or, in SPA mode, the root index page with
//! 200), with ETags, `Last-Modified`, conditional and range requests, gzip and brotli. How a
//! path is classified is `path`, how headers are answered `negotiate`, where bytes come from
//! `files`; the settings are `wisp_core::site`.

mod files;
mod negotiate;
mod path;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path as PathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use axum::Router;
use percent_encoding::percent_decode_str;
use wisp_core::site::{SiteSettings, RESERVED_PREFIX, SETTINGS_KEY};
use wisp_objects::{Bucket, ObjectError, Objects};

use self::files::{SiteFile, SiteFiles};
use self::negotiate::{not_modified, preferred, range_applies, Coding};
use self::path::{classify, FilePath, SitePath};
use crate::range::parse_range;
use crate::{ApiError, AppState};

/// How sites are reached and cached.
#[derive(Debug, Clone)]
pub struct SitesConfig {
    /// Domains under which `<namespace>.<domain>` is a namespace's site (`localhost`, whose
    /// subdomains resolve to loopback in browsers, and the server's own host name).
    pub domains: Vec<String>,
    /// Bytes of small site files kept in memory (with their compressed forms).
    pub cache_bytes: usize,
}

/// The sites of every namespace.
pub struct Sites {
    files: SiteFiles,
    domains: Vec<String>,
}

impl Sites {
    pub fn new(objects: Arc<dyn Objects>, config: SitesConfig) -> Sites {
        Sites {
            files: SiteFiles::new(objects, config.cache_bytes),
            domains: config
                .domains
                .into_iter()
                .map(|d| d.trim_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }
}

/// The namespace whose site `host` (a `Host` header) names under one of `domains`, if any.
fn namespace_of(domains: &[String], host: &str) -> Option<String> {
    let name = host_name(host).to_ascii_lowercase();
    // `<namespace>.<domain>`, else the form Nimbella's CLI prints, `<namespace>-<domain>`.
    let by = |separator: char| {
        domains.iter().find_map(|domain| {
            let label = name
                .strip_suffix(domain.as_str())?
                .strip_suffix(separator)?;
            (!label.is_empty() && !label.contains('.')).then(|| label.to_string())
        })
    };
    by('.').or_else(|| by('-'))
}

/// Whether `label` can be the first label of a host name: 1 to 63 letters, digits, `-` or `_`
/// (namespaces may have one, and browsers resolve it), not starting or ending with `-`.
fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// `host[:port]` or `[v6]:port` without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The path form: `/sites/<namespace>/...`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sites/{ns}", any(site_root_without_slash))
        .route("/sites/{ns}/", any(by_path))
        .route("/sites/{ns}/{*rest}", any(by_path))
}

/// The host form: a request for `<namespace>.<site domain>` is the site's, whatever its path;
/// any other goes on to the API.
pub async fn by_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let namespace = match (&state.sites, host) {
        (Some(sites), Some(host)) => namespace_of(&sites.domains, &host),
        _ => None,
    };
    match namespace {
        Some(label) if !is_host_label(&label) => ApiError::bad_request(
            "The Host header names no site: its first label is not a host name label \
             (1 to 63 letters, digits, '-' or '_').",
        )
        .into_response(),
        Some(namespace) => {
            let path = request.uri().path().to_string();
            serve(&state, &namespace, &path, "", request).await
        }
        None => next.run(request).await,
    }
}

async fn site_root_without_slash(uri: Uri) -> Response {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::permanent(&format!("{}/{query}", uri.path())).into_response()
}

async fn by_path(
    State(state): State<AppState>,
    PathParams(params): PathParams<Vec<(String, String)>>,
    request: Request,
) -> Response {
    let Some(namespace) = params.first().map(|(_, ns)| ns.clone()) else {
        return ApiError::not_found().into_response();
    };
    // The rest of the path, still encoded: `classify` decides what the encoding may hide.
    let full = request.uri().path().to_string();
    let prefix_len = full
        .match_indices('/')
        .nth(2)
        .map_or(full.len(), |(at, _)| at);
    let (prefix, rest) = full.split_at(prefix_len);
    let prefix = prefix.to_string();
    let rest = rest.to_string();
    let namespace = percent_decode_str(&namespace)
        .decode_utf8_lossy()
        .into_owned();
    // No namespace has an invalid name, so no site has one either.
    if wisp_core::EntityName::parse(&namespace).is_err() {
        return ApiError::not_found().into_response();
    }
    serve(&state, &namespace, &rest, &prefix, request).await
}

/// Answers `request` for `path` (below the site's root) of the namespace's site; `mount` is
/// what precedes the root in the URL (`/sites/<ns>`, or nothing on the site's own host).
async fn serve(
    state: &AppState,
    namespace: &str,
    path: &str,
    mount: &str,
    request: Request,
) -> Response {
    let Some(sites) = state.sites.clone() else {
        return ApiError::objects_unavailable().into_response();
    };
    match classify(path) {
        Err(refused) => {
            ApiError::bad_request(format!("The path is refused: it has {}.", refused.0))
                .into_response()
        }
        Ok(SitePath::Api(rest)) => call_web_action(state, namespace, &rest, request).await,
        Ok(SitePath::File(file)) => {
            let method = request.method().clone();
            if method != Method::GET && method != Method::HEAD {
                let mut response = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "A site's files are read with GET or HEAD; its functions are under /api/.",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                return response;
            }
            let query = request.uri().query().map(|q| format!("?{q}"));
            let target = Target {
                sites: &sites,
                namespace,
                headers: request.headers(),
            };
            target
                .file(&file, &format!("{mount}{path}"), query.as_deref())
                .await
                .unwrap_or_else(|e| ApiError::from(e).into_response())
        }
    }
}

/// `/api/<package>/<action>...` on a site: the web action `/api/v1/web/<ns>/<package>/...`,
/// answered exactly as there.
async fn call_web_action(
    state: &AppState,
    namespace: &str,
    rest: &str,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let namespace =
        percent_encoding::utf8_percent_encode(namespace, percent_encoding::NON_ALPHANUMERIC);
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    match format!("/web/{namespace}/{rest}{query}").parse::<Uri>() {
        Ok(uri) => parts.uri = uri,
        Err(_) => return ApiError::not_found().into_response(),
    }
    crate::routes::web::handle(State(state.clone()), Request::from_parts(parts, body)).await
}

/// One file request of one site.
struct Target<'a> {
    sites: &'a Sites,
    namespace: &'a str,
    headers: &'a HeaderMap,
}

impl Target<'_> {
    async fn file(
        &self,
        path: &FilePath,
        url_path: &str,
        query: Option<&str>,
    ) -> Result<Response, ObjectError> {
        let settings = self.settings().await?;
        let reserved = format!("{path_key}/", path_key = path.key).starts_with(RESERVED_PREFIX);
        if !reserved {
            let key = if path.directory {
                path.index_key(&settings.index)
            } else {
                path.key.clone()
            };
            if let Some(file) = self.lookup(&key).await? {
                return self.respond(&file, StatusCode::OK, &settings).await;
            }
            // `/docs` where `docs/index.html` exists: the directory, at its proper URL, so the
            // page's relative links resolve inside it.
            if !path.directory
                && self
                    .lookup(&path.index_key(&settings.index))
                    .await?
                    .is_some()
            {
                let location = format!("{url_path}/{}", query.unwrap_or(""));
                return Ok(Redirect::permanent(&location).into_response());
            }
            if settings.spa && path.looks_like_a_route() {
                if let Some(index) = self.lookup(&settings.index).await? {
                    return self.respond(&index, StatusCode::OK, &settings).await;
                }
            }
        }
        match self.lookup(&settings.not_found).await? {
            Some(page) => self.respond(&page, StatusCode::NOT_FOUND, &settings).await,
            None => Ok(builtin_not_found()),
        }
    }

    async fn settings(&self) -> Result<SiteSettings, ObjectError> {
        Ok(
            match self.sites.files.file(self.namespace, SETTINGS_KEY).await? {
                Some(SiteFile::Cached(file)) => SiteSettings::parse(&file.body),
                _ => SiteSettings::default(),
            },
        )
    }

    /// A servable file: never one of the platform's own keys, never a key the rules refuse.
    async fn lookup(&self, key: &str) -> Result<Option<SiteFile>, ObjectError> {
        if key.is_empty() || key.starts_with(RESERVED_PREFIX) {
            return Ok(None);
        }
        match self.sites.files.file(self.namespace, key).await {
            Err(ObjectError::InvalidKey(_)) => Ok(None),
            other => other,
        }
    }

    /// The file with `status`; a 200 answers conditional and range requests too.
    async fn respond(
        &self,
        file: &SiteFile,
        status: StatusCode,
        settings: &SiteSettings,
    ) -> Result<Response, ObjectError> {
        let (modified_ms, content_type) = match file {
            SiteFile::Cached(f) => (f.modified_ms, f.content_type.clone()),
            SiteFile::Large(meta) => (
                meta.last_modified_ms,
                files::served_type(meta.content_type.as_deref(), &meta.key),
            ),
        };
        let version = file.version().to_string();
        let modified_secs = modified_ms / 1000;
        let header_str =
            |name: header::HeaderName| self.headers.get(name).and_then(|v| v.to_str().ok());
        let ok = status == StatusCode::OK;
        let mut headers = HeaderMap::new();
        put(&mut headers, header::CONTENT_TYPE, &content_type);
        put(&mut headers, header::CACHE_CONTROL, &settings.cache_control);
        put(
            &mut headers,
            header::LAST_MODIFIED,
            &httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(modified_secs)),
        );
        put(&mut headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if ok {
            put(&mut headers, header::ACCEPT_RANGES, "bytes");
        }
        if negotiate::compressible(&content_type) {
            put(&mut headers, header::VARY, "Accept-Encoding");
        }

        let range = header_str(header::RANGE)
            .filter(|_| ok)
            .filter(|_| range_applies(header_str(header::IF_RANGE), &version, modified_secs))
            .and_then(parse_range);
        // A range is of the identity form; otherwise the best coding the client takes.
        let (coding, body) = match file {
            SiteFile::Cached(f) if range.is_none() => {
                let accept = header_str(header::ACCEPT_ENCODING).unwrap_or("");
                let (coding, bytes) = preferred(accept)
                    .into_iter()
                    .find_map(|c| f.encoded(c).map(|b| (c, b)))
                    .unwrap_or((Coding::Identity, f.body.clone()));
                (coding, Some(bytes))
            }
            SiteFile::Cached(f) => (Coding::Identity, Some(f.body.clone())),
            SiteFile::Large(_) => (Coding::Identity, None),
        };
        put(&mut headers, header::ETAG, &coding.etag(&version));
        if let Some(name) = coding.header() {
            put(&mut headers, header::CONTENT_ENCODING, name);
        }
        if ok
            && not_modified(
                header_str(header::IF_NONE_MATCH),
                header_str(header::IF_MODIFIED_SINCE),
                &version,
                modified_secs,
            )
        {
            headers.remove(header::CONTENT_TYPE);
            return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
        }

        let size = match file {
            SiteFile::Cached(f) => f.body.len() as u64,
            SiteFile::Large(meta) => meta.size,
        };
        if let Some(range) = range {
            let Ok(span) = range.clone().within(size) else {
                put(
                    &mut headers,
                    header::CONTENT_RANGE,
                    &format!("bytes */{size}"),
                );
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response());
            };
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", span.start, span.end - 1),
            );
            let body = match (file, body) {
                (_, Some(bytes)) => Body::from(bytes.slice(span.start as usize..span.end as usize)),
                (SiteFile::Large(meta), None) => self.stream(&meta.key, Some(range)).await?,
                (SiteFile::Cached(_), None) => Body::empty(),
            };
            return Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response());
        }
        let body = match (file, body) {
            (_, Some(bytes)) => Body::from(bytes),
            (SiteFile::Large(meta), None) => {
                put(&mut headers, header::CONTENT_LENGTH, &meta.size.to_string());
                self.stream(&meta.key, None).await?
            }
            (SiteFile::Cached(_), None) => Body::empty(),
        };
        Ok((status, headers, body).into_response())
    }

    async fn stream(
        &self,
        key: &str,
        range: Option<wisp_objects::ByteRange>,
    ) -> Result<Body, ObjectError> {
        let found = self
            .sites
            .files
            .objects()
            .get(self.namespace, Bucket::Web, key, range)
            .await?;
        Ok(match found {
            Some(found) => Body::from_stream(found.stream),
            None => Body::empty(),
        })
    }
}

fn put(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// The answer for a missing file when the site has no 404 page of its own.
fn builtin_not_found() -> Response {
    let page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Not found</title></head>\
                <body><h1>404 Not Found</h1><p>There is no such page on this site.</p></body></html>\n";
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_host_names_its_namespace() {
        let domains = ["localhost".to_string(), "wisp.example.com".to_string()];
        let of = |host| namespace_of(&domains, host);
        assert_eq!(of("guest.localhost:3233"), Some("guest".into()));
        assert_eq!(of("Guest.LocalHost"), Some("guest".into()));
        assert_eq!(of("ns1.wisp.example.com"), Some("ns1".into()));
        // As `nim` prints sites: `<namespace>-<API host name>`.
        assert_eq!(of("ns1-wisp.example.com"), Some("ns1".into()));
        assert_eq!(of("my-ns-wisp.example.com:443"), Some("my-ns".into()));
        assert_eq!(of("guest-localhost:3233"), Some("guest".into()));
        for other in [
            "-localhost",
            "a.b-localhost",
            "wisp.example.com",
            "localhost:3233",
            "127.0.0.1:3233",
            "a.b.localhost",
            "[::1]:3233",
            "evillocalhost",
        ] {
            assert_eq!(of(other), None, "{other}");
        }
    }

    #[test]
    fn host_labels_are_dns_labels() {
        for good in ["guest", "ns-1", "my_ns", "a", &"a".repeat(63)] {
            assert!(is_host_label(good), "{good}");
        }
        for bad in ["", &"a".repeat(64), "-a", "a-", "a b", "a@b", "ü"] {
            assert!(!is_host_label(bad), "{bad}");
        }
    }
}
