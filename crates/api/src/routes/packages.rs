//! `/namespaces/{ns}/packages[/{name}]`: packages and bindings. Another namespace's published
//! packages are listed and read too.

use axum::Router;
use serde::Serialize;
use serde_json::{Map, Value};
use wisp_controller::PackageView;
use wisp_core::{Identity, Package};

use crate::routes::entities::{self, Collection};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/packages", entities::list::<Package>())
        .route(
            "/namespaces/{ns}/packages/{name}",
            entities::item::<Package>(),
        )
}

impl Collection for Package {
    fn put_from(body: Map<String, Value>, caller: &Identity) -> Result<Self::Put, ApiError> {
        wire::package_put(body, &caller.namespace)
    }

    /// A read shows the package's actions and feeds; a write or a delete the package alone.
    fn document(view: &PackageView) -> impl Serialize {
        match view.actions {
            Some(_) => wire::package_view(view),
            None => wire::package(&view.package),
        }
    }

    fn summary(view: &PackageView) -> impl Serialize {
        wire::package_summary(&view.package)
    }
}
