//! What only the PostgreSQL store has to do: share one database between controllers. Each
//! test has a database of its own (`support::postgres::Database`).

use std::sync::Arc;

use sqlx::Row;
use wisp_core::{Collection, EntityPath};
use wisp_store::{EntityStore, Expect, StoreError, Write};

use crate::activations::record;
use crate::namespaces::name;
use crate::support::postgres::Database;

#[tokio::test]
async fn each_controller_takes_back_only_its_own_orphans_and_sessions() {
    let db = Database::create().await;
    let a = db.open("controller-a").await.activations;
    let b = db.open("controller-b").await.activations;
    let mine = record("f", 1_000);
    let theirs = record("f", 2_000);
    a.accept(mine.clone()).await.unwrap();
    b.accept(theirs.clone()).await.unwrap();
    a.save_session(mine.activation_id.clone(), "{\"a\":1}".into())
        .await
        .unwrap();
    b.save_session(theirs.activation_id.clone(), "{\"b\":1}".into())
        .await
        .unwrap();

    // A restarted `a` fails and resumes its own work, and leaves `b`'s running.
    let a = db.open("controller-a").await.activations;
    assert_eq!(a.take_orphans().await.unwrap(), [mine]);
    assert_eq!(a.sessions().await.unwrap(), ["{\"a\":1}"]);
    assert_eq!(
        b.take_orphans().await.unwrap(),
        std::slice::from_ref(&theirs)
    );

    // Whoever completes an activation clears its marker and session; both see the record.
    a.complete(theirs.clone()).await.unwrap();
    assert!(b.take_orphans().await.unwrap().is_empty());
    assert!(b.sessions().await.unwrap().is_empty());
    assert_eq!(
        b.get("guest".into(), theirs.activation_id.clone())
            .await
            .unwrap(),
        Some(theirs)
    );
}

#[tokio::test]
async fn controllers_starting_together_migrate_the_schema_once() {
    let db = Database::create().await;
    let (first, second, third) = tokio::join!(db.open("one"), db.open("two"), db.open("three"));
    drop((first, second, third));
    let mut conn = db.connection().await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test]
async fn controllers_racing_to_create_one_name_leave_one_winner() {
    let db = Database::create().await;
    let stores: Vec<Arc<dyn EntityStore>> =
        vec![db.open("one").await.entities, db.open("two").await.entities];
    let path = EntityPath::new(name("ns"), None, name("f"));
    let mut creates = tokio::task::JoinSet::new();
    for n in 0..16u64 {
        let store = stores[n as usize % 2].clone();
        let path = path.clone();
        creates.spawn(async move {
            let write = Write::Put {
                collection: Collection::Actions,
                path,
                updated: n,
                doc: n.to_string(),
                expect: Expect::Absent,
            };
            store.apply(vec![write]).await
        });
    }
    let mut created = 0;
    while let Some(done) = creates.join_next().await {
        match done.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a create failed otherwise: {e}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn records_are_plain_rows_an_operator_can_query() {
    let db = Database::create().await;
    let store = db.open("one").await.activations;
    let mut r = record("f", 1_234);
    r.annotations
        .set("path", serde_json::Value::from("guest/pkg/f"));
    store.complete(r.clone()).await.unwrap();
    let mut conn = db.connection().await;
    let row = sqlx::query("SELECT namespace, name, start, doc FROM activations WHERE id = $1")
        .bind(r.activation_id.as_str())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "guest");
    assert_eq!(row.get::<String, _>(1), "pkg/f");
    assert_eq!(row.get::<i64, _>(2), 1_234);
    let doc: serde_json::Value = serde_json::from_str(&row.get::<String, _>(3)).unwrap();
    assert_eq!(doc["activation_id"], r.activation_id.as_str());
}
