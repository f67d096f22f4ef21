//! Activation records: what survives a reopen, what a listing returns, what retention
//! removes, and that concurrent writes all land.

use wisp_core::{Activation, ActivationId, ActivationResponse, Annotations, Outcome, SemVer};
use wisp_store::ActivationQuery;

use crate::support::Fixture;

on_every_backend!(
    retention_prunes_only_records_older_than_the_cutoff,
    records_and_pending_markers_survive_a_reopen,
    listings_are_newest_first_and_filter_by_name_and_time,
    records_of_one_millisecond_list_the_last_written_first,
    a_record_is_read_only_in_its_namespace,
    sessions_keep_their_last_save_across_a_reopen_and_go_with_their_record,
    concurrent_writes_are_all_committed_when_acknowledged,
);

pub fn record(name: &str, start: u64) -> Activation {
    Activation {
        activation_id: ActivationId::generate(),
        namespace: "guest".into(),
        name: name.into(),
        subject: "guest".into(),
        version: SemVer::INITIAL,
        publish: false,
        start,
        end: Some(start + 1),
        duration: Some(1),
        cause: None,
        response: ActivationResponse::from_result(serde_json::json!({"ok": true}), 11),
        logs: vec![],
        annotations: Annotations::default(),
    }
}

fn query(name: Option<&str>) -> ActivationQuery {
    ActivationQuery {
        namespace: "guest".into(),
        name: name.map(str::to_string),
        limit: 200,
        ..ActivationQuery::default()
    }
}

fn starts(list: Vec<Activation>) -> Vec<u64> {
    list.into_iter().map(|a| a.start).collect()
}

async fn retention_prunes_only_records_older_than_the_cutoff(fixture: &Fixture) {
    let store = fixture.open().await.activations;
    let old = record("f", 1_000);
    let new = record("f", 5_000);
    store.complete(old.clone()).await.unwrap();
    store.complete(new.clone()).await.unwrap();

    assert_eq!(store.prune(2_000).await.unwrap(), 1);
    let left = store.list(query(None)).await.unwrap();
    assert_eq!(left, vec![new.clone()]);
    assert!(store
        .get("guest".into(), old.activation_id.clone())
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.prune(2_000).await.unwrap(), 0);
}

async fn records_and_pending_markers_survive_a_reopen(fixture: &Fixture) {
    let done = record("f", 1_000);
    let interrupted = record("g", 2_000);
    {
        let store = fixture.open().await.activations;
        store.complete(done.clone()).await.unwrap();
        store.accept(interrupted.clone()).await.unwrap();
    }
    let store = fixture.open().await.activations;
    assert_eq!(
        store
            .get("guest".into(), done.activation_id.clone())
            .await
            .unwrap(),
        Some(done.clone())
    );
    let orphans = store.take_orphans().await.unwrap();
    assert_eq!(orphans, vec![interrupted.clone()]);
    // Completing an orphan clears its marker.
    let mut finished = interrupted.clone();
    finished.response = ActivationResponse::failure(Outcome::InternalError, "interrupted");
    store.complete(finished).await.unwrap();
    assert!(store.take_orphans().await.unwrap().is_empty());
}

async fn listings_are_newest_first_and_filter_by_name_and_time(fixture: &Fixture) {
    let store = fixture.open().await.activations;
    let a1 = record("a", 1_000);
    let b = record("b", 2_000);
    let a2 = record("a", 3_000);
    let mut elsewhere = record("a", 2_500);
    elsewhere.namespace = "other".into();
    for r in [&a1, &b, &a2, &elsewhere] {
        store.complete(r.clone()).await.unwrap();
    }
    assert_eq!(
        starts(store.list(query(None)).await.unwrap()),
        [3_000, 2_000, 1_000]
    );
    assert_eq!(
        starts(store.list(query(Some("a"))).await.unwrap()),
        [3_000, 1_000]
    );
    assert_eq!(store.count(query(Some("a"))).await.unwrap(), 2);
    let window = ActivationQuery {
        since: Some(1_500),
        upto: Some(2_500),
        ..query(None)
    };
    assert_eq!(starts(store.list(window.clone()).await.unwrap()), [2_000]);
    assert_eq!(store.count(window).await.unwrap(), 1);
    // Both ends of the window are inclusive.
    let edges = ActivationQuery {
        since: Some(1_000),
        upto: Some(3_000),
        ..query(Some("a"))
    };
    assert_eq!(starts(store.list(edges).await.unwrap()), [3_000, 1_000]);
    let page = ActivationQuery {
        skip: 1,
        limit: 1,
        ..query(None)
    };
    assert_eq!(starts(store.list(page.clone()).await.unwrap()), [2_000]);
    // A count skips as the listing does, and ignores the limit.
    assert_eq!(store.count(page).await.unwrap(), 2);
}

async fn records_of_one_millisecond_list_the_last_written_first(fixture: &Fixture) {
    let store = fixture.open().await.activations;
    let first = record("f", 1_000);
    let second = record("f", 1_000);
    store.complete(first.clone()).await.unwrap();
    store.complete(second.clone()).await.unwrap();
    let ids = |list: Vec<Activation>| {
        list.into_iter()
            .map(|a| a.activation_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list(query(None)).await.unwrap()),
        [second.activation_id.clone(), first.activation_id.clone()]
    );
    // Stored again (an orphan completed after a restart), a record is the newest write.
    store.complete(first.clone()).await.unwrap();
    assert_eq!(
        ids(store.list(query(Some("f"))).await.unwrap()),
        [first.activation_id, second.activation_id]
    );
}

async fn a_record_is_read_only_in_its_namespace(fixture: &Fixture) {
    let store = fixture.open().await.activations;
    let mine = record("f", 1_000);
    store.complete(mine.clone()).await.unwrap();
    let id = mine.activation_id.clone();
    assert!(store
        .get("other".into(), id.clone())
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.get("guest".into(), id).await.unwrap(), Some(mine));
    let other = ActivationQuery {
        namespace: "other".into(),
        ..query(None)
    };
    assert!(store.list(other.clone()).await.unwrap().is_empty());
    assert_eq!(store.count(other).await.unwrap(), 0);
}

async fn sessions_keep_their_last_save_across_a_reopen_and_go_with_their_record(fixture: &Fixture) {
    let done = record("seq", 1_000);
    let running = record("seq", 2_000);
    {
        let store = fixture.open().await.activations;
        // Saves land in call order even when only the last one is awaited.
        drop(store.save_session(done.activation_id.clone(), "{\"step\":1}".into()));
        drop(store.save_session(running.activation_id.clone(), "{\"step\":1}".into()));
        store
            .save_session(running.activation_id.clone(), "{\"step\":2}".into())
            .await
            .unwrap();
        store.complete(done.clone()).await.unwrap();
    }
    let store = fixture.open().await.activations;
    assert_eq!(
        store.sessions().await.unwrap(),
        vec!["{\"step\":2}".to_string()]
    );
    assert_eq!(
        store
            .get("guest".into(), done.activation_id.clone())
            .await
            .unwrap(),
        Some(done)
    );
}

async fn concurrent_writes_are_all_committed_when_acknowledged(fixture: &Fixture) {
    let store = fixture.open().await.activations;
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..300u64 {
        let store = store.clone();
        writes.spawn(async move {
            let r = record("burst", 10_000 + n);
            if n % 3 == 0 {
                store.accept(r.clone()).await.unwrap();
            }
            store.complete(r).await.unwrap();
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    let all = ActivationQuery {
        limit: 1_000,
        ..query(Some("burst"))
    };
    assert_eq!(store.count(all.clone()).await.unwrap(), 300);
    assert_eq!(store.list(all).await.unwrap().len(), 300);
    assert!(store.take_orphans().await.unwrap().is_empty());
    store.flush().await.unwrap();
}
