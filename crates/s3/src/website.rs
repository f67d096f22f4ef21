//! S3's bucket website configuration as a site's settings (`wisp_core::site`): the index and
//! error documents are the site's `index` and `notFound`; what S3 has no word for (SPA mode,
//! `Cache-Control`) is kept as it was.

use bytes::Bytes;
use futures_util::TryStreamExt;
use wisp_core::site::{SiteSettings, SETTINGS_KEY};
use wisp_objects::{Bucket, ObjectError, Objects};

pub async fn update(
    objects: &dyn Objects,
    namespace: &str,
    index: Option<String>,
    not_found: Option<String>,
) -> Result<(), ObjectError> {
    let mut settings = match objects
        .get(namespace, Bucket::Web, SETTINGS_KEY, None)
        .await?
    {
        Some(found) => {
            let chunks: Vec<Bytes> = found
                .stream
                .try_collect()
                .await
                .map_err(ObjectError::Body)?;
            SiteSettings::parse(&chunks.concat())
        }
        None => SiteSettings::default(),
    };
    if let Some(index) = index {
        settings.index = index;
    }
    if let Some(not_found) = not_found {
        settings.not_found = not_found;
    }
    let json = serde_json::to_vec_pretty(&settings).expect("settings serialize");
    let body = futures_util::stream::once(async move { Ok(Bytes::from(json)) });
    objects
        .put(
            namespace,
            Bucket::Web,
            SETTINGS_KEY,
            Box::pin(body),
            Some("application/json".into()),
        )
        .await?;
    Ok(())
}
