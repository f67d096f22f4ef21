//! Object storage from inside functions: the S3-compatible endpoint driven by the AWS SDK for
//! JavaScript v3 and by `@nimbella/sdk`'s `storageClient()`, both unchanged and configured only
//! by `__NIM_STORAGE_KEY`, with the `wisp object` CLI outside seeing the same objects.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{admin_namespace, ok, Server};

/// The AWS SDK v3 as a function would use it: the whole `__NIM_STORAGE_KEY` goes to S3Client.
/// `config` and `bucket` parameters let a test point it at other credentials or buckets.
pub const AWS_ACTION: &str = r#"
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
        DeleteObjectCommand, DeleteObjectsCommand, CopyObjectCommand, CreateMultipartUploadCommand,
        UploadPartCommand, CompleteMultipartUploadCommand } = require('@aws-sdk/client-s3')
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner')
exports.main = async function (params) {
  const config = params.config || JSON.parse(process.env.__NIM_STORAGE_KEY)
  const s3 = new S3Client(config)
  const Bucket = params.bucket || config.buckets.data
  const Key = params.key
  try {
    switch (params.op) {
      case 'config': return { config }
      case 'put':
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: params.body, ContentType: params.type }))
        return { ok: true }
      case 'get': {
        const r = await s3.send(new GetObjectCommand({ Bucket, Key, Range: params.range }))
        return { body: await r.Body.transformToString(), type: r.ContentType, length: r.ContentLength }
      }
      case 'head':
        return { size: (await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength }
      case 'list': {
        const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: params.prefix, Delimiter: params.delimiter }))
        return { keys: (r.Contents || []).map(c => c.Key), prefixes: (r.CommonPrefixes || []).map(p => p.Prefix) }
      }
      case 'copy':
        await s3.send(new CopyObjectCommand({ Bucket: config.buckets.web, Key, CopySource: `${Bucket}/${params.from}`, ACL: 'public-read' }))
        return { ok: true }
      case 'delete':
        await s3.send(new DeleteObjectCommand({ Bucket, Key }))
        return { ok: true }
      case 'delete-many': {
        const r = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: params.keys.map(k => ({ Key: k })) } }))
        return { deleted: (r.Deleted || []).map(d => d.Key).sort() }
      }
      case 'multipart': {
        // Parts of 5 MiB ('a', 'b') and a short last one ('c'), made here: an invoke's
        // parameters are limited to 1 MB.
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-parts' }))
        const Parts = []
        for (const [n, fill, size] of [[1, 'a', 5 << 20], [2, 'b', 5 << 20], [3, 'c', 10]]) {
          const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: Buffer.alloc(size, fill) }))
          Parts.push({ ETag, PartNumber: n })
        }
        await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }))
        const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
        return { size: head.ContentLength, type: head.ContentType }
      }
      case 'presign': {
        const command = params.put ? new PutObjectCommand({ Bucket, Key }) : new GetObjectCommand({ Bucket, Key })
        return { url: await getSignedUrl(s3, command, { expiresIn: 300 }) }
      }
    }
  } catch (e) {
    return { failed: e.name, status: e.$metadata && e.$metadata.httpStatusCode }
  }
}
"#;

/// `@nimbella/sdk`'s provider-neutral storage client, as Nimbella's docs show it.
const NIMBELLA_ACTION: &str = r#"
const nim = require('@nimbella/sdk')
exports.main = async function (params) {
  const bucket = await nim.storageClient()
  const file = bucket.file(params.key)
  switch (params.op) {
    case 'save':
      await file.save(Buffer.from(params.body), { metadata: { contentType: 'text/plain' } })
      return { exists: await file.exists() }
    case 'read': {
      const exists = await file.exists()
      return {
        exists,
        body: exists ? (await file.download()).toString() : null,
        files: (await bucket.getFiles({ prefix: params.prefix })).map(f => f.name).sort(),
      }
    }
    case 'url':
      return { url: await file.getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60000 }) }
    case 'delete':
      await file.delete()
      return { exists: await file.exists() }
    case 'web': {
      const web = await nim.storageClient(true)
      await web.setWebsite({ mainPageSuffix: 'index.html', notFoundPage: '404.html' })
      await web.file('index.html').save(Buffer.from('<p>hi</p>'), { metadata: { contentType: 'text/html' } })
      return { files: (await web.getFiles()).map(f => f.name), url: web.getURL() }
    }
  }
}
"#;

/// A Node.js zip action with `index.js` and the SDK fixture's `node_modules` (installed by
/// scripts/test.sh from tests/fixtures/nimbella-sdk).
pub async fn sdk_action(server: &Server, name: &str, code: &str) {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nimbella-sdk/node_modules");
    assert!(
        fixture.join("@aws-sdk/client-s3").is_dir(),
        "the AWS SDK is not installed in {}: run scripts/test.sh, which installs it",
        fixture.display()
    );
    let code = crate::support::zip_with_tree(&[("index.js", code)], ("node_modules", &fixture));
    let body = json!({"exec": {"kind": "nodejs:20", "code": code}});
    let (status, created) = server
        .put(&format!("namespaces/_/actions/{name}"), body)
        .await;
    assert_eq!(status, 200, "{created}");
}

/// A blocking invoke's result, followed to its record if the wait ran out (cold starts of a
/// large zip on a busy machine).
pub async fn run(server: &Server, name: &str, params: Value) -> Value {
    let (status, body) = server
        .post(
            &format!("namespaces/_/actions/{name}?blocking=true&result=true"),
            params,
        )
        .await;
    server.settled(status, body).await
}

/// `__NIM_STORAGE_KEY` as a namespace's activations get it, read by a plain action.
async fn storage_key(server: &Server, auth: &str) -> Value {
    let code = "function main() { return JSON.parse(process.env.__NIM_STORAGE_KEY) }";
    let body = json!({"exec": {"kind": "nodejs:20", "code": code}});
    let request = server.request_as(
        auth,
        Method::PUT,
        "namespaces/_/actions/storage-key?overwrite=true",
    );
    let (status, created) = server.send(request.json(&body)).await;
    assert_eq!(status, 200, "{created}");
    let request = server.request_as(
        auth,
        Method::POST,
        "namespaces/_/actions/storage-key?blocking=true&result=true",
    );
    let (status, key) = server.send(request.json(&json!({}))).await;
    assert_eq!(status, 200, "{key}");
    key
}

#[tokio::test]
async fn every_activation_gets_its_namespaces_storage_key() {
    let mut server = Server::start();
    let other = admin_namespace(&server, "other");
    let key = storage_key(&server, &server.auth).await;
    let endpoint = format!("http://{}", server.s3_address());
    assert_eq!(key["provider"], "@nimbella/storage-s3");
    assert_eq!(key["endpoint"], endpoint.as_str());
    assert_eq!(key["region"], "us-east-1");
    assert_eq!(key["forcePathStyle"], true);
    // Nimbella's names: `<ns>-<first label of the API host>-nimbella-io`, `data-` + that.
    assert_eq!(key["buckets"]["web"], "guest-127-nimbella-io");
    assert_eq!(key["buckets"]["data"], "data-guest-127-nimbella-io");
    // `weburl` is where the web bucket's files are seen: the namespace's site.
    let port = server.api_host.rsplit(':').next().unwrap();
    assert_eq!(
        key["weburl"],
        format!("http://guest.localhost:{port}").as_str()
    );
    let id = key["credentials"]["accessKeyId"].as_str().unwrap();
    assert_eq!(
        key["credentials"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    // The same pair every time; another namespace has its own.
    assert_eq!(storage_key(&server, &server.auth).await, key);
    let others = storage_key(&server, &other).await;
    assert_eq!(others["buckets"]["data"], "data-other-127-nimbella-io");
    assert_ne!(others["credentials"]["accessKeyId"], id);
    // Key pairs are kept: a function's configuration outlives a crash of the server.
    server.kill9();
    server.launch(&[]);
    let after = storage_key(&server, &server.auth).await;
    assert_eq!(after["credentials"], key["credentials"]);
    assert_eq!(after["buckets"], key["buckets"]);

    // Without a signature the endpoint answers nothing but S3's AccessDenied.
    let response = reqwest::get(format!("{endpoint}/data-guest-127-nimbella-io/x"))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("AccessDenied"));
}

#[tokio::test]
async fn the_aws_sdk_in_a_function_and_the_cli_outside_share_objects() {
    let server = Server::start();
    sdk_action(&server, "s3", AWS_ACTION).await;

    // Written by the function, read by the CLI.
    let put = json!({"op": "put", "key": "from-function/a.txt", "body": "written in a function", "type": "text/plain"});
    assert_eq!(run(&server, "s3", put).await, json!({"ok": true}));
    assert_eq!(
        ok(&server, &["object", "get", "from-function/a.txt", "-"]),
        "written in a function"
    );
    let listed = ok(&server, &["object", "list"]);
    assert!(listed.contains("from-function/a.txt"), "{listed}");

    // Written by the CLI, read by the function, ranges too.
    let local = server.home().join("cli.txt");
    std::fs::write(&local, "written by the CLI").unwrap();
    ok(
        &server,
        &["object", "put", local.to_str().unwrap(), "from-cli/b.txt"],
    );
    let got = run(&server, "s3", json!({"op": "get", "key": "from-cli/b.txt"})).await;
    assert_eq!(got["body"], "written by the CLI", "{got}");
    assert_eq!(got["type"], "text/plain; charset=utf-8");
    let got = run(
        &server,
        "s3",
        json!({"op": "get", "key": "from-cli/b.txt", "range": "bytes=11-17"}),
    )
    .await;
    assert_eq!(got["body"], "the CLI", "{got}");
    let listed = run(&server, "s3", json!({"op": "list", "delimiter": "/"})).await;
    assert_eq!(listed["prefixes"], json!(["from-cli/", "from-function/"]));
    let listed = run(&server, "s3", json!({"op": "list", "prefix": "from-"})).await;
    assert_eq!(
        listed["keys"],
        json!(["from-cli/b.txt", "from-function/a.txt"])
    );

    // HEAD of an absent key is a plain 404 (NotFound), which SDKs treat as "absent".
    let head = run(&server, "s3", json!({"op": "head", "key": "absent"})).await;
    assert_eq!(head, json!({"failed": "NotFound", "status": 404}));
    let head = run(
        &server,
        "s3",
        json!({"op": "head", "key": "from-cli/b.txt"}),
    )
    .await;
    assert_eq!(head, json!({"size": 18}));

    // A presigned GET URL made in the function works with no credentials at all.
    let signed = run(
        &server,
        "s3",
        json!({"op": "presign", "key": "from-function/a.txt"}),
    )
    .await;
    let url = signed["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.text().await.unwrap(), "written in a function");
    // ... and a presigned PUT URL takes an upload larger than an invoke may carry.
    let signed = run(
        &server,
        "s3",
        json!({"op": "presign", "key": "big/upload.bin", "put": true}),
    )
    .await;
    let big: Vec<u8> = (0..2 * 1024 * 1024 + 3).map(|i| (i % 253) as u8).collect();
    let response = reqwest::Client::new()
        .put(signed["url"].as_str().unwrap())
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let copy = server.home().join("big.bin");
    ok(
        &server,
        &["object", "get", "big/upload.bin", copy.to_str().unwrap()],
    );
    assert!(std::fs::read(&copy).unwrap() == big);
    let head = run(
        &server,
        "s3",
        json!({"op": "head", "key": "big/upload.bin"}),
    )
    .await;
    assert_eq!(head, json!({"size": big.len()}));

    // A multipart upload (how SDKs send large files) appears whole, for the CLI too.
    let parts = run(
        &server,
        "s3",
        json!({"op": "multipart", "key": "big/parts.bin"}),
    )
    .await;
    let size = 10 * 1024 * 1024 + 10;
    assert_eq!(parts, json!({"size": size, "type": "application/x-parts"}));
    let copy = server.home().join("parts.bin");
    ok(
        &server,
        &["object", "get", "big/parts.bin", copy.to_str().unwrap()],
    );
    let bytes = std::fs::read(&copy).unwrap();
    assert_eq!(bytes.len(), size);
    assert!(bytes[..5 << 20].iter().all(|b| *b == b'a'));
    assert!(bytes[5 << 20..10 << 20].iter().all(|b| *b == b'b'));
    assert!(bytes[10 << 20..].iter().all(|b| *b == b'c'));

    // A copy into the web bucket with Nimbella's `public-read` ACL is accepted.
    let copied = run(
        &server,
        "s3",
        json!({"op": "copy", "key": "index.txt", "from": "from-cli/b.txt"}),
    )
    .await;
    assert_eq!(copied, json!({"ok": true}));

    // Deleted in the function, gone for the CLI; and the other way round.
    let deleted = run(
        &server,
        "s3",
        json!({"op": "delete-many", "keys": ["from-function/a.txt", "big/upload.bin", "big/parts.bin", "never-there"]}),
    )
    .await;
    assert_eq!(
        deleted["deleted"],
        json!([
            "big/parts.bin",
            "big/upload.bin",
            "from-function/a.txt",
            "never-there"
        ])
    );
    let listed = ok(&server, &["object", "list"]);
    assert!(!listed.contains("from-function/a.txt"), "{listed}");
    ok(&server, &["object", "delete", "from-cli/b.txt"]);
    let listed = run(&server, "s3", json!({"op": "list"})).await;
    assert_eq!(listed["keys"], json!([]));
}

#[tokio::test]
async fn one_namespaces_keys_never_open_anothers_buckets() {
    let server = Server::start();
    let other = admin_namespace(&server, "other");
    sdk_action(&server, "s3", AWS_ACTION).await;
    let put = json!({"op": "put", "key": "secret.txt", "body": "guest's"});
    assert_eq!(run(&server, "s3", put).await, json!({"ok": true}));

    // The guest's function, handed the other namespace's credentials.
    let config = storage_key(&server, &other).await;
    for (op, bucket) in [
        ("get", "data-guest-127-nimbella-io"),
        ("list", "data-guest-127-nimbella-io"),
        ("put", "guest-127-nimbella-io"),
        ("delete", "data-guest-127-nimbella-io"),
    ] {
        let params =
            json!({"op": op, "key": "secret.txt", "body": "x", "bucket": bucket, "config": config});
        let refused = run(&server, "s3", params).await;
        assert_eq!(
            refused,
            json!({"failed": "AccessDenied", "status": 403}),
            "{op} {bucket}"
        );
    }
    // Those credentials do open their own namespace's bucket, which holds nothing of the guest's.
    let own = run(&server, "s3", json!({"op": "list", "config": config})).await;
    assert_eq!(own["keys"], json!([]), "{own}");
    // A made-up secret is refused whatever the bucket.
    let mut forged = config.clone();
    forged["credentials"]["secretAccessKey"] = json!("x".repeat(40));
    let refused = run(&server, "s3", json!({"op": "list", "config": forged})).await;
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(
        ok(&server, &["object", "get", "secret.txt", "-"]),
        "guest's"
    );
}

#[tokio::test]
async fn nimbellas_storage_client_works_unchanged() {
    let server = Server::start();
    sdk_action(&server, "nim", NIMBELLA_ACTION).await;

    let saved = run(
        &server,
        "nim",
        json!({"op": "save", "key": "notes/a.txt", "body": "saved by storageClient"}),
    )
    .await;
    assert_eq!(saved, json!({"exists": true}));
    assert_eq!(
        ok(&server, &["object", "get", "notes/a.txt", "-"]),
        "saved by storageClient"
    );

    let local = server.home().join("b.txt");
    std::fs::write(&local, "from the CLI").unwrap();
    ok(
        &server,
        &["object", "put", local.to_str().unwrap(), "notes/b.txt"],
    );
    let read = run(
        &server,
        "nim",
        json!({"op": "read", "key": "notes/b.txt", "prefix": "notes/"}),
    )
    .await;
    assert_eq!(
        read,
        json!({"exists": true, "body": "from the CLI", "files": ["notes/a.txt", "notes/b.txt"]})
    );
    let absent = run(&server, "nim", json!({"op": "read", "key": "nothing"})).await;
    assert_eq!(absent["exists"], false);

    let signed = run(&server, "nim", json!({"op": "url", "key": "notes/a.txt"})).await;
    let fetched = reqwest::get(signed["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.text().await.unwrap(), "saved by storageClient");

    let deleted = run(
        &server,
        "nim",
        json!({"op": "delete", "key": "notes/a.txt"}),
    )
    .await;
    assert_eq!(deleted, json!({"exists": false}));
    let listed = ok(&server, &["object", "list"]);
    assert!(!listed.contains("notes/a.txt"), "{listed}");

    // The web bucket: setWebsite is accepted, writes land there, not in the data bucket.
    let web = run(&server, "nim", json!({"op": "web"})).await;
    assert_eq!(web["files"], json!(["index.html"]), "{web}");
    let listed = ok(&server, &["object", "list"]);
    assert!(!listed.contains("index.html"), "{listed}");
}
