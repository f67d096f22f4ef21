//! Where a cluster keeps its objects on S3 ([`S3Location`], `s3://BUCKET[/prefix]`) and how
//! the `object_store` client for it is made from the AWS SDKs' environment variables.
//!
//! One cluster per prefix: every key of a cluster is under its prefix, so several clusters (or a
//! test per prefix) can share a bucket. The bucket is reached with whatever the AWS SDKs read:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (an S3-compatible server: Ceph, Garage, SeaweedFS, MinIO), web identity and
//! container credentials. One choice is Wisp's: an `http://` endpoint is allowed without
//! `AWS_ALLOW_HTTP`, since whoever wrote `http://` meant it (`AWS_ALLOW_HTTP=false` still refuses).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore};

use crate::ObjectError;

/// A bucket and the prefix of a cluster's keys in it (empty: the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl FromStr for S3Location {
    /// Never quotes the text, which may be a mistyped secret.
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or("an S3 location is s3://BUCKET or s3://BUCKET/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's rules for new buckets: 3 to 63 of a-z, 0-9, `.` and `-`.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(
                "the bucket of s3://BUCKET is 3 to 63 characters of a-z, 0-9, `.` and `-` \
                 (credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                    .into(),
            );
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() && Path::parse(prefix).is_err() {
            return Err("the prefix of s3://BUCKET/prefix has an empty, `.` or `..` part".into());
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            prefix => write!(f, "s3://{}/{prefix}", self.bucket),
        }
    }
}

/// The store for `location`, configured by the `AWS_*` variables among `env` (the process's
/// environment, or a test's own); nothing is sent yet.
pub(crate) fn open(
    location: &S3Location,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Arc<dyn ObjectStore>, ObjectError> {
    let mut builder = AmazonS3Builder::new();
    let mut http_said = false;
    for (name, value) in env {
        if !name.starts_with("AWS_") {
            continue;
        }
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            http_said |= key == AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp);
            builder = builder.with_config(key, value);
        }
    }
    let endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::S3Endpoint)
        .or_else(|| builder.get_config_value(&AmazonS3ConfigKey::Endpoint));
    if endpoint.is_some_and(|e| e.starts_with("http://")) && !http_said {
        builder = builder.with_allow_http(true);
    }
    let s3 = builder
        .with_bucket_name(&location.bucket)
        .build()
        .map_err(|e| ObjectError::Storage(format!("cannot use {location}: {e}")))?;
    Ok(match location.prefix.as_str() {
        "" => Arc::new(s3),
        prefix => Arc::new(PrefixStore::new(s3, Path::from(prefix))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_print_back() {
        let plain: S3Location = "s3://wisp-objects".parse().unwrap();
        assert_eq!(plain.prefix, "");
        assert_eq!(plain.to_string(), "s3://wisp-objects");
        let prefixed: S3Location = "s3://wisp.objects/clusters/eu-1/".parse().unwrap();
        assert_eq!(prefixed.bucket, "wisp.objects");
        assert_eq!(prefixed.prefix, "clusters/eu-1");
        assert_eq!(prefixed.to_string(), "s3://wisp.objects/clusters/eu-1");
    }

    #[test]
    fn bad_locations_are_refused_without_being_quoted() {
        for bad in [
            "wisp-objects",
            "s3://",
            "s3://AKIA:hunter2@bucket",
            "s3://Upper",
            "s3://ok-bucket/a//b",
            "s3://ok-bucket/a/../b",
        ] {
            let err = bad.parse::<S3Location>().unwrap_err();
            assert!(!err.contains("hunter2") && !err.contains("Upper"), "{err}");
        }
    }
}
