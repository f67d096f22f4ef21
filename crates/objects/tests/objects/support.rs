//! What the suite shares: a backend to open stores on, the macro that runs a test against each
//! backend, and bodies to put and read.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use wisp_objects::{Bucket, ByteRange, ByteStream, Objects, ObjectsConfig, StoreObjects};

/// Runs each named test, an `async fn(&Fixture)`, against the local filesystem, and against
/// S3 in the full tier: `local::<name>` and `s3::<name>`.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = crate::support::Fixture::local(stringify!($test));
                    super::$test(&fixture).await;
                }
            )*
        }

        #[cfg(feature = "full-tests")]
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = crate::support::Fixture::s3().await;
                    super::$test(&fixture).await;
                }
            )*
        }
    };
}

/// Where a test's objects live, opened as often as the test likes (a reopen is a restart, or
/// on S3 another process sharing the bucket).
pub enum Fixture {
    Local(tempfile::TempDir),
    #[cfg(feature = "full-tests")]
    S3(s3::TestBucket),
}

impl Fixture {
    /// A scratch directory, removed when dropped; `label` names it for whoever looks in /tmp.
    pub fn local(label: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix(&format!("wisp-objects-{label}-"))
            .tempdir()
            .expect("a scratch directory");
        Fixture::Local(dir)
    }

    /// A fresh bucket on the test S3 server.
    #[cfg(feature = "full-tests")]
    pub async fn s3() -> Fixture {
        Fixture::S3(s3::TestBucket::create().await)
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Fixture::Local(_))
    }

    /// A store with the default configuration.
    pub fn open(&self) -> StoreObjects {
        self.open_with(ObjectsConfig::default())
    }

    pub fn open_with(&self, config: ObjectsConfig) -> StoreObjects {
        match self {
            Fixture::Local(dir) => StoreObjects::local(dir.path(), config).unwrap(),
            #[cfg(feature = "full-tests")]
            Fixture::S3(bucket) => bucket.open("", config),
        }
    }
}

pub fn body(chunks: &[&[u8]]) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks).boxed()
}

pub async fn read(
    objects: &StoreObjects,
    ns: &str,
    key: &str,
    range: Option<ByteRange>,
) -> Vec<u8> {
    let found = objects
        .get(ns, Bucket::Data, key, range)
        .await
        .unwrap()
        .unwrap();
    let mut bytes = Vec::new();
    let mut stream = found.stream;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

#[cfg(feature = "full-tests")]
pub mod s3 {
    //! A bucket per test on the test S3 server: `WISP_TEST_S3`, else the moto server that
    //! scripts/test.sh starts on 127.0.0.1:5055.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wisp_objects::{ObjectsConfig, S3Location, StoreObjects};

    /// These tests are of the full tier: without an S3 server they fail, saying this.
    pub const START: &str = "run scripts/test.sh, which starts moto's S3 server on \
        127.0.0.1:5055, or point WISP_TEST_S3 at an S3 server that takes unsigned bucket \
        creation, as moto does";

    /// The server's endpoint, `http://host:port`.
    pub fn endpoint() -> String {
        std::env::var("WISP_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
    }

    /// The variables a server of the cluster would have: moto takes any key pair.
    pub fn env() -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ACCESS_KEY_ID", "wisp-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "wisp-test-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A bucket of one test, `wisp-test-<random>`. The server keeps it (moto, in memory, until
    /// it stops).
    pub struct TestBucket {
        pub name: String,
    }

    impl TestBucket {
        pub async fn create() -> TestBucket {
            let name = format!("wisp-test-{:016x}", rand::random::<u64>());
            create_bucket(&name).await;
            TestBucket { name }
        }

        /// A store on this bucket under `prefix`, as a server of the cluster opens it.
        pub fn open(&self, prefix: &str, config: ObjectsConfig) -> StoreObjects {
            let location: S3Location = match prefix {
                "" => format!("s3://{}", self.name),
                prefix => format!("s3://{}/{prefix}", self.name),
            }
            .parse()
            .unwrap();
            StoreObjects::s3(&location, env(), config).unwrap()
        }
    }

    /// `PUT /<bucket>`, unsigned: one request needs no S3 client.
    async fn create_bucket(name: &str) {
        let endpoint = endpoint();
        let address = endpoint
            .strip_prefix("http://")
            .expect("WISP_TEST_S3 is an http:// endpoint");
        let mut connection = tokio::net::TcpStream::connect(address)
            .await
            .unwrap_or_else(|e| {
                panic!("no S3 server answers at {endpoint} (the full test tier needs one): {e}: {START}")
            });
        let request = format!(
            "PUT /{name} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        connection.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        connection.read_to_string(&mut response).await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "the bucket {name} was not created at {endpoint}: {response}"
        );
    }
}
