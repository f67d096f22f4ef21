//! Entities and feed records: what a write expects to find, that a batch is all or nothing,
//! how listings are ordered, and that racing creates leave one winner.

use std::sync::Arc;

use wisp_core::{Collection, EntityPath};
use wisp_store::{EntityStore, Expect, FeedRecord, Page, StoreError, Write};

use crate::namespaces::name;
use crate::support::Fixture;

on_every_backend!(
    a_put_checks_what_it_expects_to_find,
    a_batch_is_written_whole_or_not_at_all,
    deletes_return_what_they_removed,
    listings_are_newest_first_per_collection_and_package,
    racing_creates_of_one_name_leave_one_winner,
    entities_survive_a_reopen_and_go_with_their_namespace,
    feed_records_are_kept_per_provider_and_trigger,
    of_racing_claims_on_a_feed_record_one_wins,
);

fn path(namespace: &str, package: Option<&str>, entity: &str) -> EntityPath {
    EntityPath::new(name(namespace), package.map(name), name(entity))
}

fn put(collection: Collection, path: &EntityPath, updated: u64, expect: Expect) -> Write {
    Write::Put {
        collection,
        path: path.clone(),
        updated,
        doc: doc(path, updated),
        expect,
    }
}

/// A document naming what was written, so a read shows which write it sees.
fn doc(path: &EntityPath, updated: u64) -> String {
    format!("{{\"name\":\"{}\",\"updated\":{updated}}}", path.local())
}

async fn write(store: &dyn EntityStore, w: Write) -> Result<(), StoreError> {
    store.apply(vec![w]).await.map(drop)
}

async fn a_put_checks_what_it_expects_to_find(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let f = path("ns", None, "f");
    let actions = Collection::Actions;
    assert!(matches!(
        write(&*store, put(actions, &f, 1, Expect::Updated(1))).await,
        Err(StoreError::Modified)
    ));
    write(&*store, put(actions, &f, 1, Expect::Absent))
        .await
        .unwrap();
    assert!(matches!(
        write(&*store, put(actions, &f, 2, Expect::Absent)).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        write(&*store, put(actions, &f, 2, Expect::Updated(0))).await,
        Err(StoreError::Modified)
    ));
    write(&*store, put(actions, &f, 2, Expect::Updated(1)))
        .await
        .unwrap();
    write(&*store, put(actions, &f, 3, Expect::Any))
        .await
        .unwrap();
    assert_eq!(
        store.get(actions, f.clone()).await.unwrap(),
        Some(doc(&f, 3))
    );
    // One name per namespace, whatever the collection.
    for expect in [Expect::Absent, Expect::Any, Expect::Updated(3)] {
        assert!(matches!(
            write(&*store, put(Collection::Triggers, &f, 4, expect)).await,
            Err(StoreError::WrongCollection)
        ));
    }
    assert_eq!(
        store.get(Collection::Triggers, f.clone()).await.unwrap(),
        None
    );
    // The same name in another namespace or package is another entity.
    write(
        &*store,
        put(actions, &path("other", None, "f"), 1, Expect::Absent),
    )
    .await
    .unwrap();
    write(
        &*store,
        put(actions, &path("ns", Some("p"), "f"), 1, Expect::Absent),
    )
    .await
    .unwrap();
}

async fn a_batch_is_written_whole_or_not_at_all(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let taken = path("ns", None, "taken");
    let fresh = path("ns", None, "fresh");
    write(&*store, put(Collection::Rules, &taken, 1, Expect::Absent))
        .await
        .unwrap();
    let batch = vec![
        put(Collection::Rules, &fresh, 1, Expect::Absent),
        Write::Delete {
            collection: Collection::Rules,
            path: taken.clone(),
        },
        put(Collection::Rules, &taken, 2, Expect::Updated(1)),
    ];
    // The delete made the update's expectation wrong: nothing of the batch is written.
    assert!(matches!(
        store.apply(batch).await,
        Err(StoreError::Modified)
    ));
    assert_eq!(
        store.get(Collection::Rules, fresh.clone()).await.unwrap(),
        None
    );
    assert_eq!(
        store.get(Collection::Rules, taken.clone()).await.unwrap(),
        Some(doc(&taken, 1))
    );
    // A batch sees its own writes.
    let batch = vec![
        Write::Delete {
            collection: Collection::Rules,
            path: taken.clone(),
        },
        put(Collection::Rules, &taken, 2, Expect::Absent),
        put(Collection::Rules, &fresh, 1, Expect::Absent),
    ];
    let deleted = store.apply(batch).await.unwrap();
    assert_eq!(deleted, [Some(doc(&taken, 1)), None, None]);
    assert_eq!(
        store
            .count(Collection::Rules, name("ns"), None)
            .await
            .unwrap(),
        2
    );
}

async fn deletes_return_what_they_removed(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let t = path("ns", None, "t");
    write(&*store, put(Collection::Triggers, &t, 7, Expect::Absent))
        .await
        .unwrap();
    let delete = |collection| Write::Delete {
        collection,
        path: t.clone(),
    };
    // Another collection's entity of that name is not this one.
    assert_eq!(
        store.apply(vec![delete(Collection::Rules)]).await.unwrap(),
        [None]
    );
    assert_eq!(
        store
            .apply(vec![delete(Collection::Triggers)])
            .await
            .unwrap(),
        [Some(doc(&t, 7))]
    );
    assert_eq!(
        store
            .apply(vec![delete(Collection::Triggers)])
            .await
            .unwrap(),
        [None]
    );
}

async fn listings_are_newest_first_per_collection_and_package(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let writes = [
        (Collection::Actions, path("ns", None, "b"), 20),
        (Collection::Actions, path("ns", None, "a"), 20),
        (Collection::Actions, path("ns", None, "Z"), 20),
        (Collection::Actions, path("ns", None, "old"), 10),
        (Collection::Actions, path("ns", Some("pkg"), "inner"), 30),
        (Collection::Packages, path("ns", None, "pkg"), 40),
        (Collection::Actions, path("other", None, "x"), 50),
    ];
    for (collection, p, updated) in &writes {
        write(&*store, put(*collection, p, *updated, Expect::Absent))
            .await
            .unwrap();
    }
    let names = |docs: Vec<String>| -> Vec<String> {
        docs.iter()
            .map(|d| {
                let v: serde_json::Value = serde_json::from_str(d).unwrap();
                v["name"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let ns = name("ns");
    let actions = Collection::Actions;
    // Newest first; one `updated` in the order of names, byte by byte.
    assert_eq!(
        names(
            store
                .list(actions, ns.clone(), None, Page::ALL)
                .await
                .unwrap()
        ),
        ["pkg/inner", "Z", "a", "b", "old"]
    );
    assert_eq!(
        names(
            store
                .list(actions, ns.clone(), Some(name("pkg")), Page::ALL)
                .await
                .unwrap()
        ),
        ["pkg/inner"]
    );
    let page = Page { skip: 1, limit: 2 };
    assert_eq!(
        names(store.list(actions, ns.clone(), None, page).await.unwrap()),
        ["Z", "a"]
    );
    assert_eq!(store.count(actions, ns.clone(), None).await.unwrap(), 5);
    assert_eq!(
        store
            .count(actions, ns.clone(), Some(name("pkg")))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.count(Collection::Packages, ns, None).await.unwrap(),
        1
    );
}

async fn racing_creates_of_one_name_leave_one_winner(fixture: &Fixture) {
    // One opening: PostgreSQL's writers still race, each on a connection of the pool.
    // (Controllers racing on two openings are `postgres::controllers_racing_...`.)
    let store: Arc<dyn EntityStore> = fixture.open().await.entities;
    let f = path("ns", None, "f");
    let mut creates = tokio::task::JoinSet::new();
    for n in 0..16u64 {
        let store = store.clone();
        let f = f.clone();
        creates.spawn(async move {
            let w = put(Collection::Actions, &f, n, Expect::Absent);
            (n, store.apply(vec![w]).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = creates.join_next().await {
        match done.unwrap() {
            (n, Ok(_)) => winners.push(n),
            (_, Err(StoreError::Conflict)) => {}
            (_, Err(e)) => panic!("a create failed otherwise: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        store.get(Collection::Actions, f.clone()).await.unwrap(),
        Some(doc(&f, winners[0]))
    );
}

async fn entities_survive_a_reopen_and_go_with_their_namespace(fixture: &Fixture) {
    let kept = path("b", None, "f");
    {
        let store = fixture.open().await.entities;
        for p in [
            path("a", None, "f"),
            path("a", Some("p"), "g"),
            kept.clone(),
        ] {
            write(&*store, put(Collection::Actions, &p, 1, Expect::Absent))
                .await
                .unwrap();
        }
    }
    let store = fixture.open().await.entities;
    assert_eq!(
        store
            .count(Collection::Actions, name("a"), None)
            .await
            .unwrap(),
        2
    );
    store.delete_namespace(name("a")).await.unwrap();
    assert_eq!(
        store
            .count(Collection::Actions, name("a"), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.get(Collection::Actions, kept.clone()).await.unwrap(),
        Some(doc(&kept, 1))
    );
}

async fn feed_records_are_kept_per_provider_and_trigger(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let feed = |provider: &str, namespace: &str, trigger: &str, doc: &str| FeedRecord {
        provider: provider.into(),
        trigger: path(namespace, None, trigger),
        doc: doc.into(),
    };
    store.put_feed(feed("alarms", "b", "t", "1")).await.unwrap();
    store.put_feed(feed("alarms", "a", "t", "1")).await.unwrap();
    store.put_feed(feed("alarms", "a", "t", "2")).await.unwrap();
    store.put_feed(feed("other", "a", "u", "1")).await.unwrap();
    assert_eq!(
        store.list_feeds("alarms".into()).await.unwrap(),
        [feed("alarms", "a", "t", "2"), feed("alarms", "b", "t", "1")]
    );
    assert!(store.delete_feed(path("b", None, "t")).await.unwrap());
    assert!(!store.delete_feed(path("b", None, "t")).await.unwrap());
    store.delete_namespace(name("a")).await.unwrap();
    assert!(store.list_feeds("alarms".into()).await.unwrap().is_empty());
    assert!(store.list_feeds("other".into()).await.unwrap().is_empty());
}

async fn of_racing_claims_on_a_feed_record_one_wins(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    let feed = |doc: &str| FeedRecord {
        provider: "alarms".into(),
        trigger: path("a", None, "t"),
        doc: doc.into(),
    };
    store.put_feed(feed("tick-0")).await.unwrap();
    // Eight controllers see tick 0 and each claims tick 1 (with its own mark).
    let claims = (0..8).map(|n| {
        let store = store.clone();
        async move {
            store
                .claim_feed(feed(&format!("tick-1 by {n}")), "tick-0".into())
                .await
        }
    });
    let won: Vec<bool> = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = won.iter().position(|w| *w).unwrap();
    assert_eq!(
        store.list_feeds("alarms".into()).await.unwrap(),
        [feed(&format!("tick-1 by {winner}"))]
    );
    // A claim on a record that is gone wins nothing.
    store.delete_feed(path("a", None, "t")).await.unwrap();
    assert!(!store
        .claim_feed(feed("tick-2"), "tick-1 by 0".into())
        .await
        .unwrap());
    assert!(store.list_feeds("alarms".into()).await.unwrap().is_empty());
}
