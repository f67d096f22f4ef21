//! What every stored entity shares: its collection, its path, its last write. The store works
//! on any [`Entity`]; each kind adds only its own fields.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{EntityPath, SemVer};

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
    /// Its name in the API's URLs and count answers.
    pub fn plural(self) -> &'static str {
        match self {
            Collection::Actions => "actions",
            Collection::Packages => "packages",
            Collection::Triggers => "triggers",
            Collection::Rules => "rules",
        }
    }

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
    fn version(&self) -> SemVer;
    fn publish(&self) -> bool;
    /// Epoch milliseconds of the last write.
    fn updated(&self) -> u64;
}

/// The shared part of a new revision of an entity: its version (given, else the patch after the
/// old one, else 0.0.1), publish flag (given, else kept), and an `updated` strictly after the
/// old one's, so a new revision never looks like the old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub version: SemVer,
    pub publish: bool,
    pub updated: u64,
}

impl Revision {
    pub fn next<T: Entity>(
        old: Option<&T>,
        version: Option<SemVer>,
        publish: Option<bool>,
    ) -> Self {
        Revision {
            version: version
                .unwrap_or_else(|| old.map_or(SemVer::INITIAL, |o| o.version().bump_patch())),
            publish: publish.unwrap_or_else(|| old.is_some_and(Entity::publish)),
            updated: crate::time::after(old.map(Entity::updated)),
        }
    }
}

/// Implements [`Entity`] for a document type with the common fields `path`, `version`,
/// `publish` and `updated`.
macro_rules! entity {
    ($type:ty, $collection:ident) => {
        impl $crate::Entity for $type {
            const COLLECTION: $crate::Collection = $crate::Collection::$collection;
            fn path(&self) -> &$crate::EntityPath {
                &self.path
            }
            fn version(&self) -> $crate::SemVer {
                self.version
            }
            fn publish(&self) -> bool {
                self.publish
            }
            fn updated(&self) -> u64 {
                self.updated
            }
        }
    };
}

pub(crate) use entity;

entity!(crate::Action, Actions);
