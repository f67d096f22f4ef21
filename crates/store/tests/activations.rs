//! The embedded activation store against real SQLite files: what survives a reopen, what a
//! listing returns, what retention removes.

mod support;

use wisp_core::{Activation, ActivationId, ActivationResponse, Annotations, Outcome, SemVer};
use wisp_store::{ActivationQuery, ActivationStore, SqliteStore};

use support::Dir;

fn record(name: &str, start: u64) -> Activation {
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

#[tokio::test]
async fn retention_prunes_only_records_older_than_the_cutoff() {
    let dir = Dir::new("prune");
    let (_, store) = SqliteStore::open(dir.path()).unwrap();
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

#[tokio::test]
async fn records_and_pending_markers_survive_a_reopen() {
    let dir = Dir::new("reopen");
    let done = record("f", 1_000);
    let interrupted = record("g", 2_000);
    {
        let (_, store) = SqliteStore::open(dir.path()).unwrap();
        store.complete(done.clone()).await.unwrap();
        store.accept(interrupted.clone()).await.unwrap();
    }
    let (_, store) = SqliteStore::open(dir.path()).unwrap();
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

#[tokio::test]
async fn listings_are_newest_first_and_filter_by_name_and_time() {
    let dir = Dir::new("list");
    let (_, store) = SqliteStore::open(dir.path()).unwrap();
    let a1 = record("a", 1_000);
    let b = record("b", 2_000);
    let a2 = record("a", 3_000);
    for r in [&a1, &b, &a2] {
        store.complete(r.clone()).await.unwrap();
    }
    let starts = |list: Vec<Activation>| list.into_iter().map(|a| a.start).collect::<Vec<_>>();
    assert_eq!(
        starts(store.list(query(None)).await.unwrap()),
        [3_000, 2_000, 1_000]
    );
    assert_eq!(
        starts(store.list(query(Some("a"))).await.unwrap()),
        [3_000, 1_000]
    );
    let window = ActivationQuery {
        since: Some(1_500),
        upto: Some(2_500),
        ..query(None)
    };
    assert_eq!(starts(store.list(window.clone()).await.unwrap()), [2_000]);
    assert_eq!(store.count(window).await.unwrap(), 1);
    let page = ActivationQuery {
        skip: 1,
        limit: 1,
        ..query(None)
    };
    assert_eq!(starts(store.list(page).await.unwrap()), [2_000]);
}

#[tokio::test]
async fn sessions_keep_their_last_save_across_a_reopen_and_go_with_their_record() {
    let dir = Dir::new("sessions");
    let done = record("seq", 1_000);
    let running = record("seq", 2_000);
    {
        let (_, store) = SqliteStore::open(dir.path()).unwrap();
        // Saves land in call order even when only the last one is awaited.
        drop(store.save_session(done.activation_id.clone(), "{\"step\":1}".into()));
        drop(store.save_session(running.activation_id.clone(), "{\"step\":1}".into()));
        store
            .save_session(running.activation_id.clone(), "{\"step\":2}".into())
            .await
            .unwrap();
        store.complete(done.clone()).await.unwrap();
    }
    let (_, store) = SqliteStore::open(dir.path()).unwrap();
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
