//! Packages and bindings: inherited parameters, sharing across namespaces, and what may be
//! written where.

use serde_json::{json, Value};
use wisp_controller::testing::{name, path_in, TestController};
use wisp_controller::{ActionPut, ControllerError, PackagePut};
use wisp_core::{Identity, PackageRef};

use crate::support::{action, exec, parameters, put_action};

#[tokio::test]
async fn an_action_inherits_its_packages_parameters_below_its_own_and_the_payloads() {
    let t = TestController::start().await;
    package(
        &t,
        &t.guest,
        "tools",
        &[
            ("a", json!("package")),
            ("b", json!("package")),
            ("c", json!("package")),
        ],
        false,
    )
    .await;
    action(
        &t,
        "tools/show",
        &[("b", json!("action")), ("c", json!("action"))],
    )
    .await;
    t.invoker.on("tools/show", Value::clone);

    let response = t.invoke("tools/show", json!({ "c": "payload" })).await;

    assert_eq!(
        response.result,
        json!({ "a": "package", "b": "action", "c": "payload" })
    );
}

#[tokio::test]
async fn a_binding_runs_the_shared_action_with_the_bindings_parameters() {
    let t = TestController::start().await;
    let (owner, _) = t.namespace("owner").await;
    package(
        &t,
        &owner,
        "weather",
        &[("units", json!("metric")), ("key", json!("owner's"))],
        true,
    )
    .await;
    put_action(&t, &owner, "weather/forecast", exec("nodejs:20"), &[], &[]).await;
    t.invoker.on("weather/forecast", Value::clone);
    binding(
        &t,
        "myweather",
        "owner",
        "weather",
        &[("key", json!("mine"))],
    )
    .await
    .unwrap();

    let invoked = t
        .controller
        .invoke(
            &t.guest,
            &t.path("myweather/forecast"),
            None,
            wisp_controller::testing::blocking(),
        )
        .await
        .unwrap();

    let wisp_controller::Invoked::Completed(record) = invoked else {
        panic!("completes");
    };
    assert_eq!(
        record.response.result,
        json!({ "units": "metric", "key": "mine" })
    );
    assert_eq!(record.namespace, "guest", "the caller's record");
    assert_eq!(
        record.annotations.get("path"),
        Some(&json!("owner/weather/forecast"))
    );
    assert_eq!(
        record.annotations.get("binding"),
        Some(&json!("guest/myweather"))
    );
}

#[tokio::test]
async fn a_private_package_can_be_neither_bound_nor_invoked_from_another_namespace() {
    let t = TestController::start().await;
    let (owner, _) = t.namespace("owner").await;
    package(&t, &owner, "secret", &[], false).await;
    put_action(&t, &owner, "secret/act", exec("nodejs:20"), &[], &[]).await;

    let bound = binding(&t, "mine", "owner", "secret", &[])
        .await
        .unwrap_err();
    let invoked = t
        .controller
        .invoke(
            &t.guest,
            &path_in("owner", "secret/act"),
            None,
            wisp_controller::testing::blocking(),
        )
        .await
        .unwrap_err();

    assert_eq!(
        bound,
        ControllerError::BadRequest("Binding references a package that does not exist.".into())
    );
    assert!(
        matches!(invoked, ControllerError::Forbidden(_)),
        "{invoked:?}"
    );
    assert!(t.invoker.runs().is_empty());
}

#[tokio::test]
async fn actions_cannot_be_written_into_a_binding() {
    let t = TestController::start().await;
    package(&t, &t.guest, "real", &[], false).await;
    binding(&t, "alias", "guest", "real", &[]).await.unwrap();

    let put = ActionPut {
        exec: Some(exec("nodejs:20")),
        ..ActionPut::default()
    };
    let refused = t
        .controller
        .entities()
        .put_action(&t.guest, t.path("alias/act"), put, false)
        .await
        .unwrap_err();

    assert!(
        matches!(refused, ControllerError::BadRequest(_)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_package_with_actions_is_deleted_only_by_force_and_takes_them_along() {
    let t = TestController::start().await;
    package(&t, &t.guest, "full", &[], false).await;
    action(&t, "full/one", &[]).await;
    action(&t, "full/two", &[]).await;

    let refused = t
        .controller
        .entities()
        .delete_package(&t.path("full"), false)
        .await
        .unwrap_err();
    t.controller
        .entities()
        .delete_package(&t.path("full"), true)
        .await
        .unwrap();

    assert!(
        matches!(&refused, ControllerError::Conflict(m) if m.contains("contains 2 entities")),
        "{refused:?}"
    );
    let gone = t
        .controller
        .invoke(
            &t.guest,
            &t.path("full/one"),
            None,
            wisp_controller::testing::blocking(),
        )
        .await
        .unwrap_err();
    assert_eq!(gone, ControllerError::NotFound);
}

async fn package(
    t: &TestController,
    owner: &Identity,
    package: &str,
    params: &[(&str, Value)],
    publish: bool,
) {
    let put = PackagePut {
        parameters: Some(parameters(params)),
        publish: Some(publish),
        ..PackagePut::default()
    };
    t.controller
        .entities()
        .put_package(owner, path_in(owner.namespace.as_str(), package), put, true)
        .await
        .unwrap_or_else(|e| panic!("put package {package}: {e}"));
}

/// Binds `guest/<binding>` to `<namespace>/<package>`.
async fn binding(
    t: &TestController,
    binding: &str,
    namespace: &str,
    package: &str,
    params: &[(&str, Value)],
) -> Result<(), ControllerError> {
    let put = PackagePut {
        binding: Some(PackageRef {
            namespace: name(namespace),
            name: name(package),
        }),
        parameters: Some(parameters(params)),
        ..PackagePut::default()
    };
    t.controller
        .entities()
        .put_package(&t.guest, t.path(binding), put, false)
        .await
        .map(|_| ())
}
