//! Bucket names as Nimbella's SDKs compute them (reference §3.3): a namespace's web bucket is
//! `<ns>-<first label of the API host>-nimbella-io` and its data bucket `data-` + that. The
//! Python SDK ignores the `buckets` map of `__NIM_STORAGE_KEY` and computes these itself, so
//! the names must be exactly these.

use wisp_objects::Bucket;

/// The first label of the API host's host name: `http://127.0.0.1:3233` → `127`,
/// `https://api.example.com` → `api`.
pub fn api_label(api_host: &str) -> String {
    let rest = api_host
        .split_once("://")
        .map_or(api_host, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.split(['.', ':'])
        .next()
        .unwrap_or(host)
        .to_ascii_lowercase()
}

/// A namespace's bucket names under one API host label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketNames {
    pub web: String,
    pub data: String,
}

impl BucketNames {
    pub fn of(namespace: &str, label: &str) -> BucketNames {
        let web = format!("{namespace}-{label}-nimbella-io");
        BucketNames {
            data: format!("data-{web}"),
            web,
        }
    }

    /// Which of the namespace's buckets `name` is, if either.
    pub fn bucket(&self, name: &str) -> Option<Bucket> {
        if name == self.data {
            Some(Bucket::Data)
        } else if name == self.web {
            Some(Bucket::Web)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_first_part_of_the_host() {
        assert_eq!(api_label("http://127.0.0.1:3233"), "127");
        assert_eq!(api_label("https://API.example.com/"), "api");
        assert_eq!(api_label("http://localhost"), "localhost");
        assert_eq!(api_label("http://[::1]:3233"), "");
        assert_eq!(api_label("apihost.io"), "apihost");
    }

    #[test]
    fn names_follow_nimbella_and_map_back() {
        let names = BucketNames::of("guest", "127");
        assert_eq!(names.web, "guest-127-nimbella-io");
        assert_eq!(names.data, "data-guest-127-nimbella-io");
        assert_eq!(
            names.bucket("data-guest-127-nimbella-io"),
            Some(Bucket::Data)
        );
        assert_eq!(names.bucket("guest-127-nimbella-io"), Some(Bucket::Web));
        assert_eq!(names.bucket("other-127-nimbella-io"), None);
    }
}
