//! What every stored entity shares: its collection, its path, its last write. The store works
//! on any [`Entity`]; each kind adds only its own fields.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::EntityPath;

/// The four kinds of entity. They share one name space per namespace, as in OpenWhisk: an
/// action and a package cannot both be called `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Actions,
    Packages,
    Triggers,
    Rules,
}

impl Collection {
    /// The value stored in the `collection` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Actions => "action",
            Collection::Packages => "package",
            Collection::Triggers => "trigger",
            Collection::Rules => "rule",
        }
    }
}

/// A stored entity. The serde derives of an implementor are its storage document.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + 'static {
    const COLLECTION: Collection;
    fn path(&self) -> &EntityPath;
    /// Epoch milliseconds of the last write.
    fn updated(&self) -> u64;
}

impl Entity for crate::Action {
    const COLLECTION: Collection = Collection::Actions;
    fn path(&self) -> &EntityPath {
        &self.path
    }
    fn updated(&self) -> u64 {
        self.updated
    }
}
