//! One page of a bucket listing as S3 returns it: keys after a marker, those sharing a prefix
//! up to the delimiter grouped into one common prefix, a common prefix counting as one entry
//! against `max-keys`. Pure; the keys come from `Objects::list`.

use wisp_objects::ObjectMeta;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub objects: Vec<ObjectMeta>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned, where the next page starts after.
    pub next_marker: Option<String>,
}

/// The page of `sorted` (keys starting with `prefix`, after `marker`, in order).
pub fn page(
    sorted: Vec<ObjectMeta>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<&str>,
    max_keys: usize,
) -> Page {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut page = Page::default();
    let mut count = 0;
    for meta in sorted {
        // A marker that is a common prefix stands for every key under it.
        if let (Some(marker), Some(d)) = (marker, delimiter) {
            if marker.ends_with(d) && meta.key.starts_with(marker) {
                continue;
            }
        }
        let common = delimiter.and_then(|d| {
            let rest = meta.key.get(prefix.len()..)?;
            rest.find(d)
                .map(|i| meta.key[..prefix.len() + i + d.len()].to_string())
        });
        if let Some(common) = &common {
            if page.common_prefixes.last() == Some(common) {
                continue;
            }
        }
        if count == max_keys {
            page.truncated = true;
            break;
        }
        count += 1;
        match common {
            Some(common) => {
                page.next_marker = Some(common.clone());
                page.common_prefixes.push(common);
            }
            None => {
                page.next_marker = Some(meta.key.clone());
                page.objects.push(meta);
            }
        }
    }
    if !page.truncated {
        page.next_marker = None;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metas(keys: &[&str]) -> Vec<ObjectMeta> {
        keys.iter()
            .map(|k| ObjectMeta {
                key: k.to_string(),
                size: 1,
                etag: "e".into(),
                last_modified_ms: 0,
                content_type: None,
            })
            .collect()
    }

    fn keys(page: &Page) -> Vec<&str> {
        page.objects.iter().map(|m| m.key.as_str()).collect()
    }

    #[test]
    fn without_a_delimiter_keys_page_in_order() {
        let all = metas(&["a", "b/1", "b/2", "c"]);
        let first = page(all.clone(), "", None, None, 2);
        assert_eq!(keys(&first), ["a", "b/1"]);
        assert!(first.truncated);
        assert_eq!(first.next_marker.as_deref(), Some("b/1"));
        let rest = page(metas(&["b/2", "c"]), "", None, Some("b/1"), 2);
        assert_eq!(keys(&rest), ["b/2", "c"]);
        assert!(!rest.truncated);
        assert_eq!(rest.next_marker, None);
    }

    #[test]
    fn a_delimiter_groups_keys_into_common_prefixes() {
        let all = metas(&["a", "b/1", "b/2", "b/x/3", "c", "d/1"]);
        let whole = page(all.clone(), "", Some("/"), None, 10);
        assert_eq!(keys(&whole), ["a", "c"]);
        assert_eq!(whole.common_prefixes, ["b/", "d/"]);
        // A common prefix is one entry; the next page skips everything under it.
        let first = page(all.clone(), "", Some("/"), None, 2);
        assert_eq!(keys(&first), ["a"]);
        assert_eq!(first.common_prefixes, ["b/"]);
        assert_eq!(first.next_marker.as_deref(), Some("b/"));
        let after: Vec<ObjectMeta> = all.into_iter().filter(|m| m.key.as_str() > "b/").collect();
        let second = page(after, "", Some("/"), Some("b/"), 2);
        assert_eq!(keys(&second), ["c"]);
        assert_eq!(second.common_prefixes, ["d/"]);
        assert!(!second.truncated);
        // Under a prefix, grouping starts after it.
        let inner = page(metas(&["b/1", "b/2", "b/x/3"]), "b/", Some("/"), None, 10);
        assert_eq!(keys(&inner), ["b/1", "b/2"]);
        assert_eq!(inner.common_prefixes, ["b/x/"]);
    }
}
